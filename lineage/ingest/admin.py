"""Operators can look through the ingest log in the admin; rows are evidence, so nobody edits them there."""
from django.contrib import admin

from common.admin import ReadOnlyAdminMixin

from lineage.ingest.models import IngestedEvent


@admin.register(IngestedEvent)
class IngestedEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("received_at", "event_kind", "event_type", "job_namespace", "job_name", "run_id", "strict_ok",
                    "posted_by_username")
    list_filter = ("event_kind", "event_type", "strict_ok")
    search_fields = ("run_id", "job_name", "dataset_name", "producer", "request_id", "digest")
    date_hierarchy = "received_at"
