"""Filters for the ingested-event list: what an auditor asks of an ingest log (who sent what, when,
about which run or job, and whether it met the strict spec)."""
from __future__ import annotations

import django_filters

from common import datetime_filters
from lineage.filtersets import StrictBooleanFilter, _text_search
from lineage.ingest.models import EventKind, IngestedEvent


class IngestedEventFilterSet(django_filters.FilterSet):
    event_kind = django_filters.MultipleChoiceFilter(choices=EventKind.choices)
    event_type = django_filters.CharFilter()
    run_id = django_filters.CharFilter()
    job_namespace = django_filters.CharFilter()
    job_name = django_filters.CharFilter()
    dataset_namespace = django_filters.CharFilter()
    dataset_name = django_filters.CharFilter()
    producer = django_filters.CharFilter()
    strict_ok = StrictBooleanFilter()
    posted_by = django_filters.CharFilter(field_name="posted_by_username")
    request_id = django_filters.CharFilter()
    event_time = datetime_filters.IsoDateTimeFromToRangeFilter(help_text="event_time_after / event_time_before (ISO 8601)")
    received_at = datetime_filters.IsoDateTimeFromToRangeFilter(help_text="received_at_after / received_at_before (ISO 8601)")
    q = django_filters.CharFilter(method="search", label="Search run id, job, dataset and producer")

    class Meta:
        model = IngestedEvent
        fields = []

    def search(self, queryset, name, value):
        return _text_search(queryset, ("run_id", "job_name", "job_namespace", "dataset_name", "producer"), value)
