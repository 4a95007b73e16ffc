"""Filters for the connector and harvest API lists."""
import django_filters

from common import datetime_filters

from connectors.models import ConnectorConfig, Harvest, HarvestStatus


class ConnectorConfigFilterSet(django_filters.FilterSet):
    class Meta:
        model = ConnectorConfig
        fields = {"name": ["exact", "icontains"], "kind": ["exact"], "enabled": ["exact"]}


class HarvestFilterSet(django_filters.FilterSet):
    connector = django_filters.CharFilter(field_name="connector__name", help_text="Configured connector name")
    status = django_filters.ChoiceFilter(choices=HarvestStatus.choices)
    started_after = datetime_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = datetime_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = Harvest
        fields = {"kind": ["exact"], "source_key": ["exact", "icontains"]}
