"""Read-only admin: the audit trail is evidence, so even superusers only look at it here."""
from django.contrib import admin

from common.admin import ReadOnlyAdminMixin

from governance.audit.models import AuditCheckpoint, AuditEntry


class _ReadOnly(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


@admin.register(AuditEntry)
class AuditEntryAdmin(_ReadOnly):
    list_display = ("seq", "at", "actor_username", "action", "object_type", "object_id", "request_id")
    list_filter = ("action", "object_type")
    search_fields = ("actor_username", "object_id", "request_id", "reason")
    date_hierarchy = "at"


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(_ReadOnly):
    list_display = ("seq", "created_at", "algorithm", "key_id", "entry_hash")
