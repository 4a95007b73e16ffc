"""Read-only admin for operators: lineage facts change only through lineage.store (audited by its callers),
so the admin shows them and never edits them. Foreign keys are raw ids: the tables hold millions of rows."""
from django.contrib import admin

from common.admin import ReadOnlyAdminMixin

from lineage.models import Edge, Node, NodeRevision, RawRecord


class _ReadOnly(ReadOnlyAdminMixin, admin.ModelAdmin):
    show_full_result_count = False  # no COUNT(*) over millions of rows on every page


class NodeRevisionInline(admin.TabularInline):
    model = NodeRevision
    fields = ("valid_from", "properties", "raw", "recorded_at")
    readonly_fields = fields
    raw_id_fields = ("raw",)
    extra = 0
    can_delete = False
    ordering = ("valid_from", "id")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Node)
class NodeAdmin(_ReadOnly):
    list_display = ("id", "kind", "source", "namespace", "name", "first_seen", "last_seen", "archived_at")
    list_filter = ("kind", "source")
    search_fields = ("name", "namespace", "source_id", "display_name")
    raw_id_fields = ("raw",)
    inlines = [NodeRevisionInline]


@admin.register(Edge)
class EdgeAdmin(_ReadOnly):
    list_display = ("id", "kind", "src", "dst", "source", "valid_from", "valid_to")
    list_filter = ("kind", "source")
    raw_id_fields = ("src", "dst", "raw")
    list_select_related = ("src", "dst")


@admin.register(RawRecord)
class RawRecordAdmin(_ReadOnly):
    list_display = ("id", "source", "kind", "source_id", "received_at")
    list_filter = ("source", "kind")
    search_fields = ("source_id", "digest")


@admin.register(NodeRevision)
class NodeRevisionAdmin(_ReadOnly):
    list_display = ("id", "node", "valid_from", "recorded_at")
    raw_id_fields = ("node", "raw")
