"""Thin viewsets over `governance.approvals.services`; every write goes through a service or an audited
perform_* here, and every permission is checked on the server by role."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from django.shortcuts import get_object_or_404
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.approvals import filtersets, services
from governance.approvals import rules
from governance.approvals.api import serializers as s
from governance.approvals.models import (
    Decision,
    PromotionRequest,
    Stage,
    StageAssignment,
    StagePolicy,
    WebhookDelivery,
    WebhookSubscription,
)
from governance.audit.viewsets import AuditedModelViewSet
from lineage.kinds import NodeKind
from lineage.models import Node

AdminWrites = rules.RULES.permission("configure")
AnyRole = rules.RULES.permission("configure")
# Webhook URLs and secrets reach other systems: admins only, even to read.
WebhookPermission = rules.RULES.permission("configure", read_action="configure")


class StageViewSet(AuditedModelViewSet):
    queryset = Stage.objects.all()
    serializer_class = s.StageSerializer
    permission_classes = [AdminWrites]
    audit_type = "stage"
    lookup_field = "name"
    filterset_fields = ["name"]


class StagePolicyViewSet(AuditedModelViewSet):
    queryset = StagePolicy.objects.select_related("stage")
    serializer_class = s.StagePolicySerializer
    permission_classes = [AdminWrites]
    audit_type = "stage_policy"
    lookup_field = "stage__name"
    lookup_url_kwarg = "stage"
    filterset_fields = ["stage__name"]

    def audit_data(self, obj):
        return obj.snapshot()


class PromotionRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                              mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Promotion requests. Engineers request and withdraw their own; approvers decide; admins override gates
    and retry executions; everyone with a role reads."""

    queryset = (PromotionRequest.objects.select_related("node", "target_stage", "from_stage", "requester")
                .prefetch_related("decisions__actor", "gate_overrides__actor"))
    serializer_class = s.PromotionRequestSerializer
    filterset_class = filtersets.PromotionRequestFilterSet
    search_fields = ["justification", "node__name", "node__display_name"]
    ordering_fields = ["id", "created_at"]

    def get_permissions(self):
        # The roles each action needs are the domain's rules (governance/approvals/rules.py), which the
        # dashboard reads too; reads (list, retrieve) and anything unnamed need the "configure" roles to write.
        action = self.action if self.action in rules.RULES.actions else "configure"
        return [rules.RULES.permission(action)()]

    def get_serializer_class(self):
        return {
            "create": s.PromotionRequestCreateSerializer,
            "approve": s.DecisionInputSerializer,
            "reject": s.DecisionInputSerializer,
            "withdraw": s.WithdrawInputSerializer,
            "override": s.OverrideInputSerializer,
        }.get(self.action, s.PromotionRequestSerializer)

    def _input(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _show(self, pk, code=status.HTTP_200_OK):
        req = self.queryset.get(pk=pk)
        return Response(s.PromotionRequestSerializer(req, context=self.get_serializer_context()).data, status=code)

    @extend_schema(request=s.PromotionRequestCreateSerializer, responses={201: s.PromotionRequestSerializer})
    def create(self, request, *args, **kwargs):
        data = self._input(request)
        req = services.create_request(request.user, node=data["node"], target_stage=data["target_stage"],
                                      justification=data["justification"], submit=data["submit"])
        return self._show(req.pk, status.HTTP_201_CREATED)

    def _pk(self):
        return self.get_object().pk

    @extend_schema(request=None, responses=s.PromotionRequestSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._show(services.submit(request.user, self._pk()).pk)

    @extend_schema(request=s.WithdrawInputSerializer, responses=s.PromotionRequestSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        target = self._pk()  # a request that is not there is a 404 whatever the body says
        data = self._input(request)
        return self._show(services.withdraw(request.user, target, data["reason"]).pk)

    @extend_schema(request=None, responses=s.PromotionRequestSerializer)
    @action(detail=True, methods=["post"])
    def evaluate(self, request, pk=None):
        services.evaluate_gates(request.user, self._pk())
        return self._show(pk)

    @extend_schema(request=s.DecisionInputSerializer, responses=s.PromotionRequestSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        target = self._pk()
        data = self._input(request)
        outcome = services.decide(request.user, target, "approve", data["comment"])
        return self._show(outcome.request.pk)

    @extend_schema(request=s.DecisionInputSerializer, responses=s.PromotionRequestSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        target = self._pk()
        data = self._input(request)
        outcome = services.decide(request.user, target, "reject", data["comment"])
        return self._show(outcome.request.pk)

    @extend_schema(request=s.OverrideInputSerializer, responses=s.PromotionRequestSerializer)
    @action(detail=True, methods=["post"])
    def override(self, request, pk=None):
        target = self._pk()
        data = self._input(request)
        services.override_gate(request.user, target, data["gate"], data["reason"])
        return self._show(pk, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.PromotionRequestSerializer)
    @action(detail=True, methods=["post"])
    def execute(self, request, pk=None):
        return self._show(services.execute(request.user, self._pk()).pk)


class DecisionViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Decision.objects.select_related("actor")
    serializer_class = s.DecisionSerializer
    permission_classes = [AnyRole]
    filterset_class = filtersets.DecisionFilterSet


class StageAssignmentViewSet(viewsets.ReadOnlyModelViewSet):
    """Stage history of every model version; `?current=true` gives each one's current stage."""

    queryset = StageAssignment.objects.select_related("stage", "from_stage")
    serializer_class = s.StageAssignmentSerializer
    permission_classes = [AnyRole]
    filterset_class = filtersets.StageAssignmentFilterSet


class StageHistoryView(APIView):
    """One model version's current stage and full stage history, oldest first."""

    permission_classes = [AnyRole]

    @extend_schema(responses=s.StageHistorySerializer)
    def get(self, request, node_id: int):
        node = get_object_or_404(Node, pk=node_id)
        if node.kind != NodeKind.MODEL_VERSION:
            raise ValidationError({"node": f"Node {node.pk} is a {node.kind}, not a model version."})
        history = StageAssignment.objects.filter(node=node).select_related("stage", "from_stage").order_by("assigned_at", "pk")
        current = next((a for a in history if a.superseded_at is None), None)
        requests = PromotionRequest.objects.filter(node=node).select_related("target_stage", "requester").order_by("pk")
        return Response({
            "node": node.pk,
            "node_name": node.display_name or node.name,
            "current_stage": current.stage.name if current else None,
            "history": s.StageAssignmentSerializer(history, many=True).data,
            "requests": [{"id": r.pk, "target_stage": r.target_stage.name, "state": r.state,
                          "requester": r.requester.username, "created_at": r.created_at} for r in requests],
        })


class WebhookSubscriptionViewSet(AuditedModelViewSet):
    queryset = WebhookSubscription.objects.all()
    serializer_class = s.WebhookSubscriptionSerializer
    permission_classes = [WebhookPermission]
    audit_type = "webhook"


class WebhookDeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = WebhookDelivery.objects.select_related("subscription")
    serializer_class = s.WebhookDeliverySerializer
    permission_classes = [WebhookPermission]
    filterset_class = filtersets.WebhookDeliveryFilterSet
