"""manage.py apply_retention [--dry-run] [--json]"""
import json

from django.core.management.base import BaseCommand

from governance.archive.retention import apply_retention
from common.audit import context


class Command(BaseCommand):
    help = "Prune old, archived, unheld lineage from the hot store according to the retention policies."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="list what would be pruned and why the rest stays")
        parser.add_argument("--json", action="store_true", help="print the decisions as JSON")

    def handle(self, *args, dry_run, json: bool = False, **options):
        with context.acting_as(context.AuditContext(username="apply_retention", service="archive:retention")):
            run = apply_retention(dry_run=dry_run)
        if options.get("json") or json:
            self.stdout.write(_json(run.as_dict()))
            return
        verb = "would prune" if dry_run else "pruned"
        for d in run.decisions:
            mark = verb if d.action == "prune" else "keep"
            self.stdout.write(f"{mark:12} {d.kind:16} {d.node_id:>8}  {d.source}:{d.source_id}  ({d.reason})")
        self.stdout.write(f"summary: {verb} {run.pruned}, kept {run.kept}")


def _json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True)
