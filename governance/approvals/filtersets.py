"""Filters of the approvals API (`?state=pending&target_stage=production&pending_for_me=true`)."""
from __future__ import annotations

import django_filters

from common.roles import APPROVER, has_role
from governance.approvals import identity
from governance.approvals.models import (
    Decision,
    PromotionRequest,
    RequestState,
    StageAssignment,
    WebhookDelivery,
)


class PromotionRequestFilterSet(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=RequestState.choices)
    target_stage = django_filters.CharFilter(field_name="target_stage__name")
    requester = django_filters.CharFilter(field_name="requester__username")
    mine = django_filters.BooleanFilter(method="filter_mine", help_text="Requests I made")
    pending_for_me = django_filters.BooleanFilter(
        method="filter_pending_for_me",
        help_text="Pending requests I may decide: I hold the approver role, did not request it, am not the "
                  "model's author and have not decided it yet",
    )

    class Meta:
        model = PromotionRequest
        fields = ["node", "state", "target_stage", "requester"]

    def filter_mine(self, queryset, name, value):
        user = self.request.user
        return queryset.filter(requester=user) if value else queryset.exclude(requester=user)

    def filter_pending_for_me(self, queryset, name, value):
        if not value:
            return queryset
        user = self.request.user
        if not has_role(user, APPROVER):
            return queryset.none()
        candidates = (queryset.filter(state=RequestState.PENDING).exclude(requester=user)
                      .exclude(pk__in=Decision.objects.filter(actor=user).values("request_id")))
        # The author rule reads a JSON list, which SQLite cannot query inside; pending requests are few.
        barred = [pk for pk, authors, policy in candidates.values_list("pk", "authors", "policy")
                  if not (policy or {}).get("author_may_approve") and identity.is_author(user, authors)]
        return candidates.exclude(pk__in=barred)


class StageAssignmentFilterSet(django_filters.FilterSet):
    stage = django_filters.CharFilter(field_name="stage__name")
    current = django_filters.BooleanFilter(field_name="superseded_at", lookup_expr="isnull")

    class Meta:
        model = StageAssignment
        fields = ["node", "stage", "current"]


class DecisionFilterSet(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor__username")

    class Meta:
        model = Decision
        fields = ["request", "actor", "decision"]


class WebhookDeliveryFilterSet(django_filters.FilterSet):
    subscription = django_filters.CharFilter(field_name="subscription__name")

    class Meta:
        model = WebhookDelivery
        fields = ["subscription", "event", "status"]
