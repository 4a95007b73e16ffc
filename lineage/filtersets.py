"""Filters of the lineage API: one filterset per model, shared by every list that shows that model.

`q` is a plain case-insensitive text search over the names a person would type (name, namespace, display
name, the source's id); DRF's `?search=` does the same through SearchFilter. Both stay on indexed or
narrow columns; properties (JSON) are not searched, since that cannot use an index on either database.
"""
from __future__ import annotations

import django_filters

from common import datetime_filters
from django import forms
from django.db.models import Q

from lineage.kinds import EdgeKind, NodeKind
from lineage.models import Edge, Node, RawRecord


def _text_search(queryset, fields: tuple[str, ...], value: str):
    value = (value or "").strip()
    if not value:
        return queryset
    condition = Q()
    for field in fields:
        condition |= Q(**{f"{field}__icontains": value})
    return queryset.filter(condition)


class _StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0, yes/no); anything else is a 400 instead of being silently ignored."""

    ACCEPTED = {"true", "false", "1", "0", "yes", "no", "on", "off"}
    widget = forms.TextInput  # the default select widget turns unknown values into None before validation

    def to_python(self, value):
        if value in (None, "") or isinstance(value, bool):
            return value if isinstance(value, bool) else None
        if str(value).strip().lower() not in self.ACCEPTED:
            raise forms.ValidationError(f"Expected true or false, not {value!r}.", code="invalid")
        return str(value).strip().lower() in ("true", "1", "yes", "on")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = _StrictBooleanField


class NodeFilterSet(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=NodeKind.choices)
    source = django_filters.CharFilter()
    source_id = django_filters.CharFilter()
    namespace = django_filters.CharFilter()
    name = django_filters.CharFilter()
    name__icontains = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    first_seen = datetime_filters.IsoDateTimeFromToRangeFilter(
        help_text="first_seen_after / first_seen_before (ISO 8601, inclusive)"
    )
    last_seen = datetime_filters.IsoDateTimeFromToRangeFilter(
        help_text="last_seen_after / last_seen_before (ISO 8601, inclusive)"
    )
    archived = StrictBooleanFilter(
        field_name="archived_at", lookup_expr="isnull", exclude=True,
        help_text="true: frozen by an evidence bundle; false: not frozen",
    )
    q = django_filters.CharFilter(method="filter_q", help_text="Text in name, namespace, display name or source id")

    SEARCH_FIELDS = ("name", "namespace", "display_name", "source_id")

    class Meta:
        model = Node
        fields = ["kind", "source", "source_id", "namespace", "name"]

    def filter_q(self, queryset, name, value):
        return _text_search(queryset, self.SEARCH_FIELDS, value)


class EdgeFilterSet(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=EdgeKind.choices)
    source = django_filters.CharFilter()
    src = django_filters.NumberFilter(field_name="src_id")
    dst = django_filters.NumberFilter(field_name="dst_id")
    node = django_filters.NumberFilter(method="filter_node", help_text="Edges with this node at either end")
    valid_from = datetime_filters.IsoDateTimeFromToRangeFilter()
    last_seen = datetime_filters.IsoDateTimeFromToRangeFilter()
    open = StrictBooleanFilter(
        field_name="valid_to", lookup_expr="isnull", help_text="true: still holds; false: closed"
    )
    as_of = datetime_filters.IsoDateTimeFilter(method="filter_as_of", help_text="Edges that held at this time")

    class Meta:
        model = Edge
        fields = ["kind", "source", "src", "dst"]

    def filter_node(self, queryset, name, value):
        return queryset.filter(Q(src_id=value) | Q(dst_id=value))

    def filter_as_of(self, queryset, name, value):
        return queryset.filter(valid_from__lte=value).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=value))


class RawRecordFilterSet(django_filters.FilterSet):
    source = django_filters.CharFilter()
    kind = django_filters.CharFilter()
    source_id = django_filters.CharFilter()
    digest = django_filters.CharFilter()
    received_at = datetime_filters.IsoDateTimeFromToRangeFilter()
    q = django_filters.CharFilter(method="filter_q", help_text="Text in the source id or kind")

    class Meta:
        model = RawRecord
        fields = ["source", "kind", "source_id", "digest"]

    def filter_q(self, queryset, name, value):
        return _text_search(queryset, ("source_id", "kind"), value)
