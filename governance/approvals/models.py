"""Stages, their policies, promotion requests, decisions, gate snapshots, stage history, execution records
and webhook subscriptions.

Decisions, gate snapshots, overrides and stage assignments are evidence: they are appended, never edited
(the app never calls save() on an existing one, and the admin shows them read-only). A request's state is
the only thing that moves, and every move goes through `services` which audits it.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from common import secret_box


class Immutable(models.Model):
    """Evidence rows: written once. Saving an existing row or deleting one raises, so no code path (admin,
    shell, a future view) can quietly rewrite a decision."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError(f"{type(self).__name__} records are immutable")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError(f"{type(self).__name__} records are immutable")


class Stage(models.Model):
    """A stage a model version can be promoted to. The list is data, not code, so operators can add one."""

    name = models.SlugField(max_length=64, unique=True)
    description = models.CharField(max_length=255, blank=True, default="")
    order = models.PositiveIntegerField(default=0, help_text="Display order (lower first)")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self):
        return self.name


class StagePolicy(models.Model):
    """The rules a promotion into `stage` must satisfy. Copied onto each request when it is submitted, so
    a later policy edit never changes the rules a pending request was judged by."""

    stage = models.OneToOneField(Stage, on_delete=models.PROTECT, related_name="policy")
    required_approvals = models.PositiveIntegerField(default=1, help_text="Distinct approvers needed")
    author_may_approve = models.BooleanField(
        default=False, help_text="Four-eyes: leave off so the model's author (when the source names one) cannot approve"
    )
    overrider_may_approve = models.BooleanField(
        default=False, help_text="Separation of duties: leave off so an admin who overrode a gate on a request "
                                 "cannot also approve it (nor override after approving)",
    )
    require_producing_run = models.BooleanField(default=True)
    max_training_hops = models.PositiveIntegerField(
        null=True, blank=True, default=5,
        help_text="Training data must be within this many hops upstream; empty switches the gate off",
    )
    required_metrics = models.JSONField(
        default=dict, blank=True, help_text='Metric name -> {operator: threshold}, e.g. {"accuracy": {">=": 0.8}}'
    )
    forbid_failed_runs = models.BooleanField(default=True, help_text="No failed run anywhere in the provenance")
    require_evidence_archived = models.BooleanField(default=False)
    expiry_hours = models.PositiveIntegerField(null=True, blank=True, help_text="Pending requests expire after this")
    source_actions = models.JSONField(
        default=dict, blank=True,
        help_text='Source kind -> action to perform on execution, e.g. {"viya": {"action": "set_champion"}}',
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "stage policies"

    def __str__(self):
        return f"policy for {self.stage.name}"

    def clean(self):
        """Run by the Django admin's form; the API serializer applies the same rules."""
        from django.core.exceptions import ValidationError

        from governance.approvals.gates import validate_metric_rules

        errors = {}
        try:
            validate_metric_rules(self.required_metrics)
        except ValueError as exc:
            errors["required_metrics"] = str(exc)
        if not isinstance(self.source_actions, dict) or any(
                not isinstance(a, dict) or not isinstance(a.get("action"), str) or not a["action"]
                for a in self.source_actions.values()):
            errors["source_actions"] = 'An object like {"viya": {"action": "set_champion"}}.'
        if self.required_approvals < 1:
            errors["required_approvals"] = "At least one approver is required."
        if errors:
            raise ValidationError(errors)

    def snapshot(self) -> dict:
        return {
            "stage": self.stage.name,
            "required_approvals": self.required_approvals,
            "author_may_approve": self.author_may_approve,
            "overrider_may_approve": self.overrider_may_approve,
            "require_producing_run": self.require_producing_run,
            "max_training_hops": self.max_training_hops,
            "required_metrics": self.required_metrics,
            "forbid_failed_runs": self.forbid_failed_runs,
            "require_evidence_archived": self.require_evidence_archived,
            "expiry_hours": self.expiry_hours,
            "source_actions": self.source_actions,
        }


class RequestState(models.TextChoices):
    DRAFT = "draft"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    EXECUTED = "executed"


OPEN_STATES = (RequestState.DRAFT, RequestState.PENDING, RequestState.APPROVED)


class PromotionRequest(models.Model):
    node = models.ForeignKey("lineage.Node", on_delete=models.PROTECT, related_name="promotion_requests")
    target_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="requests")
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The model version's stage when the request was made",
    )
    justification = models.TextField()
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="promotion_requests")
    state = models.CharField(max_length=16, choices=RequestState.choices, default=RequestState.DRAFT, db_index=True)
    fingerprint = models.CharField(max_length=64, help_text="The model version's snapshot digest at request time")
    fingerprint_detail = models.JSONField(default=dict, blank=True)
    policy = models.JSONField(default=dict, blank=True, help_text="The stage policy as it was at submission")
    authors = models.JSONField(default=list, blank=True, help_text="Who the source says authored the model")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            # One open request per model version and target stage: two would race to the same promotion.
            models.UniqueConstraint(
                fields=["node", "target_stage"], condition=Q(state__in=["draft", "pending", "approved"]),
                name="promotion_one_open_per_stage",
            ),
        ]
        indexes = [models.Index(fields=["node", "created_at"], name="promotion_node_created")]

    def __str__(self):
        return f"request #{self.pk}: node {self.node_id} -> {self.target_stage_id} ({self.state})"

    def audit_data(self) -> dict:
        return {
            "node": self.node_id,
            "target_stage": self.target_stage.name,
            "from_stage": self.from_stage.name if self.from_stage_id else None,
            "justification": self.justification,
            "requester": self.requester.username,
            "state": self.state,
            "fingerprint": self.fingerprint,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


class DecisionKind(models.TextChoices):
    APPROVE = "approve"
    REJECT = "reject"


class Decision(Immutable):
    """One approver's verdict on one request. Never edited; the unique constraint makes a second verdict by
    the same person impossible, so the same approver twice counts once."""

    request = models.ForeignKey(PromotionRequest, on_delete=models.PROTECT, related_name="decisions")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="promotion_decisions")
    decision = models.CharField(max_length=8, choices=DecisionKind.choices)
    comment = models.TextField(blank=True, default="")
    at = models.DateTimeField(default=timezone.now)
    fingerprint = models.CharField(max_length=64, help_text="The model version's digest the approver saw")

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["request", "actor"], name="decision_one_per_actor"),
        ]


class GateResult(Immutable):
    """One gate's outcome in one evaluation of a request. Each evaluation (on submit, on every approval)
    appends a full set, so the checklist an approver saw stays on record."""

    request = models.ForeignKey(PromotionRequest, on_delete=models.PROTECT, related_name="gate_results")
    evaluation = models.PositiveIntegerField(help_text="1 for the first evaluation of this request, then 2, 3 …")
    gate = models.CharField(max_length=64)
    passed = models.BooleanField()
    reason = models.TextField()
    detail = models.JSONField(default=dict, blank=True)
    evaluated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["evaluation", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["request", "evaluation", "gate"], name="gate_result_once_per_eval"),
        ]


class GateOverride(Immutable):
    """An admin's written decision to let a failing gate pass for one request. Kept forever."""

    request = models.ForeignKey(PromotionRequest, on_delete=models.PROTECT, related_name="gate_overrides")
    gate = models.CharField(max_length=64)
    reason = models.TextField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [models.UniqueConstraint(fields=["request", "gate"], name="gate_override_once")]


class StageAssignment(models.Model):
    """A model version entering a stage. The row without `superseded_at` is its current stage; the rest
    are its history: who promoted it, who approved, on which evidence."""

    node = models.ForeignKey("lineage.Node", on_delete=models.PROTECT, related_name="stage_assignments")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="assignments")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    request = models.OneToOneField(PromotionRequest, on_delete=models.PROTECT, related_name="assignment")
    requested_by = models.CharField(max_length=150)
    approved_by = models.JSONField(default=list, help_text="Usernames of the approvers, in decision order")
    evidence = models.JSONField(default=dict, help_text="Gate checklist, overrides, fingerprint and bundles")
    assigned_at = models.DateTimeField(default=timezone.now, db_index=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["assigned_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["node"], condition=Q(superseded_at__isnull=True), name="stage_one_current_per_node"
            ),
        ]


class ExecutionStatus(models.TextChoices):
    RECORDED = "recorded", "recorded only (no source action)"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Execution(models.Model):
    """What carrying out an approved request did at the source, one row per request (retries update it)."""

    request = models.OneToOneField(PromotionRequest, on_delete=models.PROTECT, related_name="execution")
    status = models.CharField(max_length=16, choices=ExecutionStatus.choices)
    action = models.JSONField(null=True, blank=True)
    connector = models.ForeignKey(
        "connectors.ConnectorConfig", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    connector_name = models.CharField(max_length=100, blank=True, default="")
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    note = models.TextField(blank=True, default="", help_text="Why no source action ran, when none did")
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)


class WebhookEvent(models.TextChoices):
    REQUESTED = "promotion.requested"
    APPROVED = "promotion.approved"
    REJECTED = "promotion.rejected"
    EXECUTED = "promotion.executed"
    WITHDRAWN = "promotion.withdrawn"
    EXPIRED = "promotion.expired"


class WebhookSubscription(models.Model):
    name = models.SlugField(max_length=100, unique=True)
    url = models.URLField(max_length=1024)
    encrypted_secret = models.TextField(editable=False, default="")
    events = models.JSONField(default=list, help_text="Event names; empty means every event")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.name} -> {self.url}"

    @property
    def secret(self) -> str:
        return secret_box.decrypt(self.encrypted_secret).get("secret", "")

    def set_secret(self, value: str) -> None:
        self.encrypted_secret = secret_box.encrypt({"secret": value})

    def wants(self, event: str) -> bool:
        return self.active and (not self.events or event in self.events)

    def audit_data(self) -> dict:
        return {"name": self.name, "url": self.url, "events": self.events, "active": self.active,
                "secret": secret_box.REDACTED if self.encrypted_secret else ""}


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    """One event for one subscription: created in the transaction that caused the event (an outbox), sent
    after commit, so a rolled-back decision never announces itself."""

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.IntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
