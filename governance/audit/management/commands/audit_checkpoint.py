"""`manage.py audit_checkpoint`: sign the audit chain's current tail now (e.g. before a hand-over)."""
from django.core.management.base import BaseCommand, CommandError

from common.audit import context
from governance.audit import recorder


class Command(BaseCommand):
    help = "Write a signed checkpoint of the audit chain's current tail."

    def add_arguments(self, parser):
        parser.add_argument("--reason", default="", help="why the checkpoint is taken (recorded in the trail)")

    def handle(self, *args, reason: str, **options):
        with context.acting_as(context.AuditContext(username="cli:audit_checkpoint", service="cli:audit_checkpoint")):
            try:
                cp = recorder.checkpoint(reason=reason)
            except recorder.EmptyChain as exc:
                raise CommandError(str(exc)) from None
        self.stdout.write(f"checkpoint at seq {cp.seq}: {cp.algorithm} by key {cp.key_id}, entry hash {cp.entry_hash}")
