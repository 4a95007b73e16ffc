"""Evidence bundles, restore, retention policies and legal holds."""
from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "governance.archive"
    label = "archive"
    verbose_name = "Archive"

    def ready(self):
        from django.db.models.signals import pre_delete

        from governance.archive.holds import guard_node_delete
        from lineage.models import Node

        # Every deletion path, not just retention, must respect legal holds.
        pre_delete.connect(guard_node_delete, sender=Node, dispatch_uid="archive_legal_hold_guard")
