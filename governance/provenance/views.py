"""API: the provenance card of a model version and the model registry. Any role reads (the project's
default permission); the card shows each caller only the evidence bundles the archive lets them see."""
from __future__ import annotations

import django_filters
import orjson
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from common.filter_backend import filtered
from governance.provenance import card as cards, registry, serializers as s
from governance.provenance.filtersets import ModelRegistryFilterSet


def _filter_parameters(filterset_class) -> list[OpenApiParameter]:
    """The filterset's filters as query parameters (drf-spectacular documents filtersets only on list views of
    model viewsets; the registry pages rows that are not a model's)."""
    params = []
    for name, f in filterset_class.base_filters.items():
        help_text = str(f.extra.get("help_text") or f.label or name)
        if isinstance(f, django_filters.RangeFilter) or type(f).__name__.endswith("RangeFilter"):
            params += [OpenApiParameter(f"{name}_after", OpenApiTypes.DATETIME, description=help_text),
                       OpenApiParameter(f"{name}_before", OpenApiTypes.DATETIME, description=help_text)]
            continue
        kind = OpenApiTypes.BOOL if isinstance(f, django_filters.BooleanFilter) else OpenApiTypes.STR
        many = isinstance(f, django_filters.MultipleChoiceFilter)
        enum = [value for value, _label in f.extra.get("choices", [])] or None
        params.append(OpenApiParameter(name, kind, description=help_text, many=many, enum=enum))
    return params


class ProvenanceCardView(APIView):
    @extend_schema(
        parameters=[s.CardQuerySerializer],
        responses={200: s.ProvenanceCardSerializer},
        description=(
            "Everything a compliance officer asks of one model version, in one answer, following same_as links "
            "across platforms: the version and its source identities, producing runs with parameters, code "
            "version and metrics, input data to `depth`, deployments, approvals with every decision, stage "
            "history, gate results and the evidence bundles the caller may see (with a count of the others). "
            "With `as_of`, the card as it stood then. 404 when the id names no model version (or one that did "
            "not exist yet at `as_of`)."),
    )
    def get(self, request, pk: int):
        query = s.CardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        try:
            body = cards.provenance_card(int(pk), request.user, depth=q["depth"], as_of=q.get("as_of"))
        except cards.NotAModelVersion as exc:
            raise NotFound(str(exc)) from None
        if isinstance(request.accepted_renderer, JSONRenderer):
            # orjson straight from the card's data (a 5,000-item input list costs DRF's encoder several times
            # more); DRF's renderer for what orjson refuses (an integer beyond 64 bits in a producer's
            # properties) and for the browsable API. Both write the same JSON values.
            try:
                return HttpResponse(orjson.dumps(body, option=orjson.OPT_UTC_Z), content_type="application/json")
            except orjson.JSONEncodeError:
                pass
        return Response(body)


class ModelRegistryView(APIView):
    @extend_schema(
        parameters=[*_filter_parameters(ModelRegistryFilterSet), s.RegistryPageQuerySerializer],
        responses={200: s.RegistryPageSerializer},
        description=("Every model version from every source with its stage, producing pipeline or job, last "
                     "decision, open request, gate status and evidence status; the dashboard's /dashboard/models "
                     "uses the same filters. Offset pages; each page is one database statement."),
    )
    def get(self, request):
        paging = s.RegistryPageQuerySerializer(data=request.query_params)
        paging.is_valid(raise_exception=True)
        rows, total = registry_page(request.query_params, offset=paging.validated_data["offset"],
                                    limit=paging.validated_data["limit"])
        return Response({"count": total, "offset": paging.validated_data["offset"],
                         "limit": paging.validated_data["limit"],
                         "results": s.RegistryRowSerializer(rows, many=True).data})


def registry_page(params, *, offset: int, limit: int) -> tuple[list[dict], int]:
    """Validate `params` with the registry filterset (a bad value is a ValidationError naming the field)
    and return one page: what the API and the dashboard page both call."""
    filterset = ModelRegistryFilterSet(params, queryset=registry.sortable(registry.model_versions()))
    rows, total = registry.page(filtered(filterset, params), offset=offset, limit=limit)
    for row in rows:
        row["card_url"] = f"/api/model-versions/{row['id']}/provenance/"
    return rows, total
