"""Read-only admin: the audit trail is evidence, so even superusers only look at it here."""
from django.contrib import admin

from governance.audit.models import AuditCheckpoint, AuditEntry


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(_ReadOnly):
    list_display = ("seq", "at", "actor_username", "action", "object_type", "object_id", "request_id")
    list_filter = ("action", "object_type")
    search_fields = ("actor_username", "object_id", "request_id", "reason")
    date_hierarchy = "at"


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(_ReadOnly):
    list_display = ("seq", "created_at", "algorithm", "key_id", "entry_hash")
