"""The admin for rows that are evidence (audit entries, lineage facts, the ingest log, promotion history):
operators look at them there, and change them only through the services that audit the change."""
from __future__ import annotations


class ReadOnlyAdminMixin:
    """Put first in the bases of a ModelAdmin: no add, change or delete, whoever is logged in."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
