"""The one model viewset for resources changed by plain create/update/delete: each write and its audit
entry (before/after, the actor and request id from the audit context) commit in one transaction, so no
row changes without its entry and no entry names a change that rolled back."""
from __future__ import annotations

from django.db import transaction
from rest_framework import viewsets

from governance.audit.recorder import record


class AuditedModelViewSet(viewsets.ModelViewSet):
    """Set `audit_type` (the object type and the action prefix: "<audit_type>.create|update|delete").

    Hooks, for resources that need them: `audit_data(obj)` (what the trail keeps; secrets left out),
    `save_kwargs()` (fields the server sets on update), `locked_before(instance)` (re-read the row under
    a lock before the change, where two admins may edit at once) and `before_destroy(instance)` (work
    that goes with the delete in the same transaction)."""

    audit_type = ""

    def audit_data(self, obj) -> dict:
        return dict(obj.audit_data() if hasattr(obj, "audit_data") else self.get_serializer(obj).data)

    def save_kwargs(self) -> dict:
        return {}

    def locked_before(self, instance):
        return instance

    def before_destroy(self, instance) -> None:
        return None

    def perform_create(self, serializer):
        with transaction.atomic():
            obj = serializer.save()
            record(f"{self.audit_type}.create", self.audit_type, obj.pk, after=self.audit_data(obj))

    def perform_update(self, serializer):
        with transaction.atomic():
            before = self.audit_data(self.locked_before(serializer.instance))
            obj = serializer.save(**self.save_kwargs())
            record(f"{self.audit_type}.update", self.audit_type, obj.pk, before=before, after=self.audit_data(obj))

    def perform_destroy(self, instance):
        with transaction.atomic():
            before, pk = self.audit_data(instance), instance.pk
            self.before_destroy(instance)
            instance.delete()
            record(f"{self.audit_type}.delete", self.audit_type, pk, before=before)
