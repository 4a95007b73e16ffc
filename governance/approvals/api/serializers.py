"""Serializers of the approvals API. Reads show the whole record an auditor needs; writes take only what
the caller may set (state, fingerprint, policy snapshot and decisions are the service's to fill in)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from governance.approvals import gates as gate_rules
from governance.approvals import services
from governance.approvals.models import (
    Decision,
    Execution,
    GateOverride,
    GateResult,
    PromotionRequest,
    Stage,
    StageAssignment,
    StagePolicy,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from lineage.models import Node


class StageSerializer(serializers.ModelSerializer):
    has_policy = serializers.SerializerMethodField()

    class Meta:
        model = Stage
        fields = ["id", "name", "description", "order", "created_at", "has_policy"]
        read_only_fields = ["id", "created_at", "has_policy"]

    def get_has_policy(self, obj) -> bool:
        return StagePolicy.objects.filter(stage=obj).exists()


class StagePolicySerializer(serializers.ModelSerializer):
    stage = serializers.SlugRelatedField(slug_field="name", queryset=Stage.objects.all())

    class Meta:
        model = StagePolicy
        fields = ["id", "stage", "required_approvals", "author_may_approve", "overrider_may_approve",
                  "require_producing_run",
                  "max_training_hops", "required_metrics", "forbid_failed_runs", "require_evidence_archived",
                  "expiry_hours", "source_actions", "updated_at"]
        read_only_fields = ["id", "updated_at"]

    def validate_required_approvals(self, value):
        if value < 1:
            raise serializers.ValidationError("At least one approver is required.")
        return value

    def validate_max_training_hops(self, value):
        if value is not None and not 1 <= value <= 50:
            raise serializers.ValidationError("Between 1 and 50 hops, or null to switch the gate off.")
        return value

    def validate_expiry_hours(self, value):
        if value is not None and value < 1:
            raise serializers.ValidationError("At least 1 hour, or null for no expiry.")
        return value

    def validate_required_metrics(self, value):
        try:
            gate_rules.validate_metric_rules(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value

    def validate_source_actions(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError('An object like {"viya": {"action": "set_champion"}}.')
        for source, action in value.items():
            if not isinstance(action, dict) or not isinstance(action.get("action"), str) or not action["action"]:
                raise serializers.ValidationError(f"{source}: give an object with a non-empty \"action\" string.")
        return value

    def validate_stage(self, value):
        if self.instance is not None and value.pk != self.instance.stage_id:
            raise serializers.ValidationError("A policy cannot move to another stage.")
        return value


class DecisionSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True)

    class Meta:
        model = Decision
        fields = ["id", "request", "actor", "decision", "comment", "at", "fingerprint"]
        read_only_fields = fields


class GateResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = GateResult
        fields = ["gate", "passed", "reason", "detail", "evaluation", "evaluated_at"]
        read_only_fields = fields


class GateOverrideSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True)

    class Meta:
        model = GateOverride
        fields = ["id", "gate", "reason", "actor", "at"]
        read_only_fields = fields


class ExecutionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Execution
        fields = ["status", "action", "connector_name", "result", "error", "note", "attempts", "started_at",
                  "finished_at"]
        read_only_fields = fields


class PromotionRequestSerializer(serializers.ModelSerializer):
    node_name = serializers.SerializerMethodField()
    target_stage = serializers.CharField(source="target_stage.name", read_only=True)
    from_stage = serializers.CharField(source="from_stage.name", read_only=True, default=None, allow_null=True)
    requester = serializers.CharField(source="requester.username", read_only=True)
    decisions = DecisionSerializer(many=True, read_only=True)
    gates = serializers.SerializerMethodField()
    gate_overrides = GateOverrideSerializer(many=True, read_only=True)
    execution = serializers.SerializerMethodField()
    approvals = serializers.SerializerMethodField()
    required_approvals = serializers.SerializerMethodField()
    blocked_by = serializers.SerializerMethodField()
    stale = serializers.SerializerMethodField()

    class Meta:
        model = PromotionRequest
        fields = ["id", "node", "node_name", "target_stage", "from_stage", "justification", "requester", "state",
                  "fingerprint", "stale", "policy", "authors", "created_at", "submitted_at", "expires_at",
                  "decided_at", "executed_at", "closed_reason", "approvals", "required_approvals", "gates",
                  "blocked_by", "gate_overrides", "decisions", "execution"]
        read_only_fields = fields

    def get_node_name(self, obj) -> str:
        return obj.node.display_name or obj.node.name

    @extend_schema_field(GateResultSerializer(many=True))
    def get_gates(self, obj):
        return GateResultSerializer(services.latest_gates(obj), many=True).data

    @extend_schema_field(ExecutionSerializer(allow_null=True))
    def get_execution(self, obj):
        execution = Execution.objects.filter(request=obj).first()
        return ExecutionSerializer(execution).data if execution else None

    def get_approvals(self, obj) -> int:
        return sum(1 for d in obj.decisions.all() if d.decision == "approve")

    def get_required_approvals(self, obj) -> int | None:
        return obj.policy.get("required_approvals") if obj.policy else None

    def get_blocked_by(self, obj) -> list[str]:
        return [g.gate for g in services.blocking_gates(obj)]

    def get_stale(self, obj) -> bool:
        return services.is_stale(obj)


class PromotionRequestCreateSerializer(serializers.Serializer):
    node = serializers.PrimaryKeyRelatedField(queryset=Node.objects.all())
    target_stage = serializers.SlugRelatedField(slug_field="name", queryset=Stage.objects.all())
    justification = serializers.CharField(max_length=10_000)
    submit = serializers.BooleanField(default=False, help_text="Submit at once (pending) instead of keeping a draft")


class DecisionInputSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")


class WithdrawInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")


class OverrideInputSerializer(serializers.Serializer):
    gate = serializers.ChoiceField(choices=gate_rules.GATE_NAMES)
    reason = serializers.CharField(max_length=10_000)


class StageAssignmentSerializer(serializers.ModelSerializer):
    stage = serializers.CharField(source="stage.name", read_only=True)
    from_stage = serializers.CharField(source="from_stage.name", read_only=True, default=None, allow_null=True)
    current = serializers.SerializerMethodField()

    class Meta:
        model = StageAssignment
        fields = ["id", "node", "stage", "from_stage", "request", "requested_by", "approved_by", "evidence",
                  "assigned_at", "superseded_at", "current"]
        read_only_fields = fields

    def get_current(self, obj) -> bool:
        return obj.superseded_at is None


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    secret = serializers.CharField(write_only=True, required=False, min_length=16, max_length=256,
                                   help_text="HMAC-SHA256 key; write-only, never shown again")
    has_secret = serializers.SerializerMethodField()

    class Meta:
        model = WebhookSubscription
        fields = ["id", "name", "url", "events", "active", "created_at", "secret", "has_secret"]
        read_only_fields = ["id", "created_at", "has_secret"]

    def get_has_secret(self, obj) -> bool:
        return bool(obj.encrypted_secret)

    def validate_events(self, value):
        if not isinstance(value, list) or any(e not in WebhookEvent.values for e in value):
            raise serializers.ValidationError(f"A list drawn from: {', '.join(WebhookEvent.values)} (empty = all).")
        return value

    def validate_url(self, value):
        if not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Only http(s) URLs.")
        return value

    def validate(self, attrs):
        if self.instance is None and not attrs.get("secret"):
            raise serializers.ValidationError({"secret": "A secret is required to sign deliveries."})
        return attrs

    def create(self, validated):
        secret = validated.pop("secret")
        sub = WebhookSubscription(**validated)
        sub.set_secret(secret)
        sub.save()
        return sub

    def update(self, instance, validated):
        secret = validated.pop("secret", None)
        for attr, value in validated.items():
            setattr(instance, attr, value)
        if secret:
            instance.set_secret(secret)
        instance.save()
        return instance


class WebhookDeliverySerializer(serializers.ModelSerializer):
    subscription = serializers.CharField(source="subscription.name", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "subscription", "event", "payload", "status", "attempts", "last_status_code", "last_error",
                  "created_at", "delivered_at"]
        read_only_fields = fields


class RequestBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    target_stage = serializers.CharField()
    state = serializers.CharField()
    requester = serializers.CharField()
    created_at = serializers.DateTimeField()


class StageHistorySerializer(serializers.Serializer):
    """The answer of /api/model-versions/{id}/stage-history/ (documentation only)."""

    node = serializers.IntegerField()
    node_name = serializers.CharField()
    current_stage = serializers.CharField(allow_null=True)
    history = StageAssignmentSerializer(many=True)
    requests = RequestBriefSerializer(many=True)
