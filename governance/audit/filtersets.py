"""Filters for the audit entry list: who, what, which object, when, and which request."""
import django_filters

from common import datetime_filters

from governance.audit.models import AuditEntry


class AuditEntryFilterSet(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_username", help_text="actor username (exact)")
    actor_id = django_filters.NumberFilter()
    action = django_filters.CharFilter(help_text="action (exact), e.g. user.create")
    action_prefix = django_filters.CharFilter(field_name="action", lookup_expr="startswith", help_text="e.g. user.")
    object_type = django_filters.CharFilter()
    object_id = django_filters.CharFilter()
    request_id = django_filters.CharFilter()
    since = datetime_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte", help_text="ISO-8601, inclusive")
    until = datetime_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt", help_text="ISO-8601, exclusive")
    seq_min = django_filters.NumberFilter(field_name="seq", lookup_expr="gte")
    seq_max = django_filters.NumberFilter(field_name="seq", lookup_expr="lte")

    class Meta:
        model = AuditEntry
        fields = []
