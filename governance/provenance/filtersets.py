"""The registry's one filterset, shared by `GET /api/model-registry/` and the dashboard's /dashboard/models
(NetBox style: the page builds its query with the same filterset the API validates with, so both answer the
same question the same way). It extends the lineage node filterset (text search, source, names) with
what governance knows: stage, pending approval, evidence."""
from __future__ import annotations

import django_filters
from django.db.models import Exists, F, OuterRef

from lineage.filtersets import NodeFilterSet, StrictBooleanFilter
from lineage.models import Node

SORTS = {
    "name": ("label", "id"), "-name": ("-label", "-id"),
    "source": ("source", "label", "id"), "-source": ("-source", "-label", "-id"),
    "created": ("first_seen", "id"), "-created": ("-first_seen", "-id"),
    "stage": ("stage", "label", "id"), "-stage": ("-stage", "label", "id"),
    "decided": ("last_decision_at", "id"), "-decided": ("-last_decision_at", "-id"),
}


class ModelRegistryFilterSet(NodeFilterSet):
    stage = django_filters.CharFilter(method="filter_stage",
                                      help_text='Current stage name (e.g. production), or "none" for never promoted')
    pending = StrictBooleanFilter(method="filter_pending", help_text="true: a promotion request awaits decision")
    has_evidence = StrictBooleanFilter(method="filter_has_evidence",
                                       help_text="true: an evidence bundle of this version exists")
    sort = django_filters.ChoiceFilter(choices=[(k, k) for k in SORTS], method="filter_sort", empty_label=None,
                                       help_text="name, source, created, stage or decided; a leading - reverses")

    class Meta(NodeFilterSet.Meta):
        model = Node
        fields = ["source", "namespace", "name"]

    def filter_stage(self, queryset, name, value):
        from governance.approvals.models import StageAssignment

        value = (value or "").strip()
        if not value:
            return queryset
        current = StageAssignment.objects.filter(node=OuterRef("pk"), superseded_at__isnull=True)
        if value == "none":
            return queryset.filter(~Exists(current))
        return queryset.filter(Exists(current.filter(stage__name=value)))

    def filter_pending(self, queryset, name, value):
        from governance.approvals.models import PromotionRequest

        if value is None:
            return queryset
        pending = Exists(PromotionRequest.objects.filter(node=OuterRef("pk"), state="pending"))
        return queryset.filter(pending if value else ~pending)

    def filter_has_evidence(self, queryset, name, value):
        from governance.archive.models import EvidenceBundle

        if value is None:
            return queryset
        bundles = Exists(EvidenceBundle.objects.filter(subject_source=OuterRef("source"), subject_kind=OuterRef("kind"),
                                                       subject_source_id=OuterRef("source_id")))
        return queryset.filter(bundles if value else ~bundles)

    def filter_sort(self, queryset, name, value):
        return queryset.order_by(*_ordering(value))

    @property
    def qs(self):
        qs = super().qs
        if not self.form.cleaned_data.get("sort"):
            qs = qs.order_by(*_ordering("name"))
        return qs


def _ordering(value):
    out = []
    for field in SORTS.get(value or "name", SORTS["name"]):
        desc = field.startswith("-")
        expr = F(field.lstrip("-"))
        out.append(expr.desc(nulls_last=True) if desc else expr.asc(nulls_last=True))
    return out
