"""Django admin: stages and policies are editable by admins (each change audited like through the API);
requests, decisions, gates, history and executions are evidence and only shown."""
from __future__ import annotations

from django.contrib import admin

from common.admin import ReadOnlyAdminMixin
from django.db import transaction

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
)
from common.audit import record


def _stage_data(stage: Stage) -> dict:
    return {"name": stage.name, "description": stage.description, "order": stage.order}


class _Audited(admin.ModelAdmin):
    audit_type = ""

    def audit_data(self, obj) -> dict:
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            before = self.audit_data(type(obj).objects.get(pk=obj.pk)) if change else None
            super().save_model(request, obj, form, change)
            record(f"{self.audit_type}.{'update' if change else 'create'}", self.audit_type, obj.pk,
                   before=before, after=self.audit_data(obj), reason="Django admin")

    def delete_model(self, request, obj):
        with transaction.atomic():
            before, pk = self.audit_data(obj), obj.pk
            super().delete_model(request, obj)
            record(f"{self.audit_type}.delete", self.audit_type, pk, before=before, reason="Django admin")

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(Stage)
class StageAdmin(_Audited):
    audit_type = "stage"
    list_display = ("name", "order", "description")

    def audit_data(self, obj):
        return _stage_data(obj)


@admin.register(StagePolicy)
class StagePolicyAdmin(_Audited):
    audit_type = "stage_policy"
    list_display = ("stage", "required_approvals", "require_producing_run", "max_training_hops",
                    "forbid_failed_runs", "require_evidence_archived", "expiry_hours")

    def audit_data(self, obj):
        return obj.snapshot()


class _ReadOnly(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


@admin.register(PromotionRequest)
class PromotionRequestAdmin(_ReadOnly):
    list_display = ("pk", "node", "target_stage", "requester", "state", "created_at")
    list_filter = ("state", "target_stage")


for model in (Decision, GateResult, GateOverride, StageAssignment, Execution, WebhookDelivery):
    admin.site.register(model, _ReadOnly)
