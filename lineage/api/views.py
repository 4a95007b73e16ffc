"""Read-only views of the lineage store: nodes (all kinds and one list per kind), edges, raw records, and the
graph walks of lineage.graph. Any role may read (the project default permission); nothing here writes.

The viewsets stay thin: filtering is the filterset's, walking is lineage.graph's, the shapes are the
serializers'. Query parameters of the graph endpoints are validated by serializers so a bad one is a 400
with the offending field named, before any query runs.
"""
from __future__ import annotations

import datetime as dt
import re

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import filters, serializers as drf_serializers, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from common.filter_backend import BoundedFilterBackend

from lineage import graph, graph_answer
from lineage.api import serializers as s
from lineage.filtersets import EdgeFilterSet, NodeFilterSet, RawRecordFilterSet
from lineage.kinds import EdgeKind, NodeKind
from lineage.models import Edge, Node, RawRecord

AS_OF_PARAM = OpenApiParameter(
    "as_of", OpenApiTypes.DATETIME, description="ISO 8601: also show the properties the node had at that time"
)


def _iso(value):
    """DRF's datetime rendering (UTC, 'Z'), without a serializer field per value."""
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _graph_nodes(nodes, depth_of) -> list[dict]:
    """The GraphNodeSerializer shape built directly: a graph answer holds up to 10,000 nodes and DRF's
    per-field serializers would cost more than the walk itself. test_api_lineage_graph checks both agree."""
    return [{"id": n.pk, "kind": n.kind, "source": n.source, "source_id": n.source_id, "namespace": n.namespace,
             "name": n.name, "display_name": n.display_name, "first_seen": _iso(n.first_seen),
             "last_seen": _iso(n.last_seen), "depth": depth_of.get(n.pk, 0), "raw": n.raw_id} for n in nodes]


def _graph_edges(edges) -> list[dict]:
    return [{"id": e.pk, "kind": e.kind, "src": e.src_id, "dst": e.dst_id, "source": e.source,
             "valid_from": _iso(e.valid_from), "valid_to": _iso(e.valid_to), "raw": e.raw_id} for e in edges]


def _lineage_options(q: dict) -> dict:
    """graph_answer.body's keyword arguments from the validated LineageQuerySerializer data."""
    as_of = q.get("as_of")
    return {"direction": q["direction"], "depth": q["depth"], "as_of": as_of,
            "node_kinds": q.get("node_kinds") or None, "edge_kinds": q.get("edge_kinds") or None,
            "max_nodes": q["max_nodes"],
            "as_of_text": drf_serializers.DateTimeField().to_representation(as_of) if as_of else None}


def lineage_answer(start_id: int, q: dict) -> dict:
    """The lineage response as Python data, from lineage.graph.lineage() (row objects): what the
    browsable API serves, and what the JSON body (lineage.graph_answer.body) must equal."""
    options = _lineage_options(q)
    as_of_text = options.pop("as_of_text")
    result = graph.lineage([start_id], **options)
    return {
        "start": start_id,
        "direction": q["direction"],
        "depth": q["depth"],
        "as_of": as_of_text,
        "truncated": result.truncated,
        "nodes": _graph_nodes(result.nodes, result.depth_of),
        "edges": _graph_edges(result.edges),
    }


_PLAIN_INTEGER = re.compile(r"[0-9]{1,9}")
_NODE_KINDS = frozenset(NodeKind.values)
_EDGE_KINDS = frozenset(EdgeKind.values)


def plain_lineage_query(params) -> dict | None:
    """LineageQuerySerializer's validated data for a query it would accept as written, else None (the
    serializer then decides, with its error messages).

    Why: building that serializer costs more per request than everything else in the view but the answer
    (DRF deep-copies its six fields, each with its validators, on every instantiation; ~0.3-0.4 ms a request).
    Only the plain spellings are taken here: a direction among the choices, depth and max_nodes as plain digits
    within their bounds, kinds lists (comma-separated or repeated, as _CommaList reads them) of known kinds,
    and no `as_of` (its parsing stays DRF's). Like DRF's fields, a repeated scalar parameter counts by its last
    value and parameters the serializer does not know are ignored.
    tests/lineage/test_lineage_query_fast_path.py checks the result equals the serializer's on random queries."""
    if "as_of" in params:
        return None
    q = {"direction": params.get("direction", "both"), "depth": params.get("depth", "3"),
         "max_nodes": params.get("max_nodes", "1000")}
    if q["direction"] not in graph.DIRECTIONS:
        return None
    for name, low, high in (("depth", 0, graph.MAX_DEPTH), ("max_nodes", 1, graph.MAX_NODES)):
        text = q[name]
        if not _PLAIN_INTEGER.fullmatch(text):
            return None
        q[name] = int(text)
        if not low <= q[name] <= high:
            return None
    for name, known in (("node_kinds", _NODE_KINDS), ("edge_kinds", _EDGE_KINDS)):
        if name in params:
            kinds = [part.strip() for item in params.getlist(name) for part in item.split(",") if part.strip()]
            if not known.issuperset(kinds):
                return None
            q[name] = kinds
    return q


EXPAND_PARAM = OpenApiParameter(
    "expand", str, enum=["properties"],
    description="`properties`: include each item's properties (left out of lists by default: their size is the "
                "producer's, up to INGEST_MAX_EVENT_BYTES per event)",
)


def _expanded(request) -> bool:
    """Whether a list asked for full properties (`?expand=properties`, comma lists accepted)."""
    values = request.query_params.getlist("expand") if request is not None else []
    return any("properties" in v.split(",") for v in values)


def _summary_queryset(qs, request):
    """A list's rows without their properties: the column is not even read from the database."""
    return qs if _expanded(request) else qs.defer("properties")


class _AsOfQuery(drf_serializers.Serializer):
    as_of = drf_serializers.DateTimeField(required=False)


class _ReadOnlyViewSet(viewsets.ReadOnlyModelViewSet):
    filter_backends = [BoundedFilterBackend, filters.SearchFilter, filters.OrderingFilter]
    # Ids are integers: anything else is a 404 at routing, never a ValueError deep in a query (a 500).
    lookup_value_regex = r"[0-9]+"
    ordering_fields = ["id"]


@extend_schema_view(
    list=extend_schema(parameters=[EXPAND_PARAM],
                       description="Lineage nodes (summaries: properties only with `expand=properties` or on the "
                                   "detail). Filter by kind, source, ids, names, time ranges; `q`/`search` "
                                   "for text; cursor-paginated newest first."),
    retrieve=extend_schema(parameters=[AS_OF_PARAM],
                           description="One node with its revisions; with `as_of`, the properties it had then."),
)
class _NodeViewSetBase(_ReadOnlyViewSet):
    filterset_class = NodeFilterSet
    search_fields = list(NodeFilterSet.SEARCH_FIELDS)
    kinds: tuple[str, ...] = ()

    def get_queryset(self):
        qs = Node.objects.all()
        if self.kinds:
            qs = qs.filter(kind__in=self.kinds)
        return _summary_queryset(qs, self.request) if self.action == "list" else qs

    def get_serializer_class(self):
        if self.action == "retrieve":
            return s.NodeDetailSerializer
        if self.action == "list" and not _expanded(self.request):
            return s.NodeSummarySerializer
        return s.NodeSerializer

    def retrieve(self, request, *args, **kwargs):
        query = _AsOfQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        node = self.get_object()
        context = {**self.get_serializer_context(), "as_of": query.validated_data.get("as_of")}
        return Response(s.NodeDetailSerializer(node, context=context).data)


class NodeViewSet(_NodeViewSetBase):
    """Every node, whatever its kind, plus the graph walks around one node."""

    @extend_schema(
        parameters=[s.LineageQuerySerializer],
        responses={200: s.LineageSerializer},
        description="The lineage subgraph around this node, computed in the database. Nodes come nearest "
                    "first; `truncated` says more than `max_nodes` were reachable.",
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def lineage(self, request, pk=None):
        q = plain_lineage_query(request.query_params)
        if q is None:
            query = s.LineageQuerySerializer(data=request.query_params)
            if not query.is_valid():
                get_object_or_404(Node.objects.only("id"), pk=pk)  # an unknown node is a 404 before a bad parameter
                query.is_valid(raise_exception=True)
            q = query.validated_data
        if isinstance(request.accepted_renderer, JSONRenderer):
            # One statement (walk, rows, edges, and whether the node exists), tuples serialised by orjson:
            # no model instances, no serializer. The browsable API keeps the path below; both mean the same.
            start = int(pk)
            body = graph_answer.body(start, **_lineage_options(q)) if start < 2**63 else None  # bigint ids
            if body is None:
                raise Http404
            return HttpResponse(body, content_type="application/json")
        node = get_object_or_404(Node.objects.only("id"), pk=pk)
        return Response(lineage_answer(node.pk, q))

    @extend_schema(
        parameters=[s.PathQuerySerializer],
        responses={200: s.PathSerializer},
        description="A shortest directed path between this node and `to`, whichever way round it runs.",
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def path(self, request, pk=None):
        node = get_object_or_404(Node, pk=pk)
        query = s.PathQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        if not Node.objects.filter(pk=q["to"]).exists():
            raise drf_serializers.ValidationError({"to": [f"No node with id {q['to']}."]})
        found = graph.path_between(node.pk, q["to"], max_depth=q["max_depth"], as_of=q.get("as_of"),
                                   edge_kinds=q.get("edge_kinds") or None)
        if found is None:
            return Response({"found": False, "direction": None, "length": None, "nodes": [], "edges": []})
        depth_of = {n.pk: i for i, n in enumerate(found.nodes)}
        return Response({
            "found": True,
            "direction": found.direction,
            "length": found.length,
            "nodes": _graph_nodes(found.nodes, depth_of),
            "edges": _graph_edges(found.edges),
        })


def _kind_viewset(class_name: str, *kinds: str):
    """A list/detail viewset over nodes of `kinds`, sharing NodeFilterSet and the node serializers."""
    return type(class_name, (_NodeViewSetBase,), {
        "kinds": kinds,
        "__doc__": f"Lineage nodes of kind {' or '.join(kinds)}.",
        "__module__": __name__,
    })


JobViewSet = _kind_viewset("JobViewSet", NodeKind.JOB)
RunViewSet = _kind_viewset("RunViewSet", NodeKind.RUN)
DatasetViewSet = _kind_viewset("DatasetViewSet", NodeKind.DATASET)
DatasetVersionViewSet = _kind_viewset("DatasetVersionViewSet", NodeKind.DATASET_VERSION)
ArtifactViewSet = _kind_viewset("ArtifactViewSet", NodeKind.ARTIFACT, NodeKind.METRICS)
ModelViewSet = _kind_viewset("ModelViewSet", NodeKind.MODEL)
ModelVersionViewSet = _kind_viewset("ModelVersionViewSet", NodeKind.MODEL_VERSION)
DeploymentViewSet = _kind_viewset("DeploymentViewSet", NodeKind.DEPLOYMENT)
ProjectViewSet = _kind_viewset("ProjectViewSet", NodeKind.PROJECT)
RepositoryViewSet = _kind_viewset("RepositoryViewSet", NodeKind.REPOSITORY)

KIND_ROUTES = [
    ("jobs", JobViewSet, "job"),
    ("runs", RunViewSet, "run"),
    ("datasets", DatasetViewSet, "dataset"),
    ("dataset-versions", DatasetVersionViewSet, "dataset-version"),
    ("artifacts", ArtifactViewSet, "artifact"),
    ("models", ModelViewSet, "model"),
    ("model-versions", ModelVersionViewSet, "model-version"),
    ("deployments", DeploymentViewSet, "deployment"),
    ("projects", ProjectViewSet, "project"),
    ("repositories", RepositoryViewSet, "repository"),
]


@extend_schema_view(list=extend_schema(parameters=[EXPAND_PARAM],
                                       description="Lineage edges (src is upstream of dst); `as_of` keeps "
                                                   "those that held then, `open` those that still hold. "
                                                   "Properties only with `expand=properties` or on the detail."))
class EdgeViewSet(_ReadOnlyViewSet):
    filterset_class = EdgeFilterSet
    search_fields = ["kind", "source"]

    def get_queryset(self):
        qs = Edge.objects.all()
        return qs.defer("properties") if self.action == "list" and not _expanded(self.request) else qs

    def get_serializer_class(self):
        if self.action == "list" and not _expanded(self.request):
            return s.EdgeSummarySerializer
        return s.EdgeSerializer


@extend_schema_view(
    list=extend_schema(description="Source payloads as received (bodies only on the detail)."),
    retrieve=extend_schema(description="The source payload exactly as received."),
)
class RawRecordViewSet(_ReadOnlyViewSet):
    filterset_class = RawRecordFilterSet
    search_fields = ["source_id", "kind"]

    def get_queryset(self):
        qs = RawRecord.objects.all()
        return qs if self.action == "retrieve" else qs.defer("body")

    def get_serializer_class(self):
        return s.RawRecordDetailSerializer if self.action == "retrieve" else s.RawRecordSerializer
