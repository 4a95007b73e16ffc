"""`manage.py verify_audit`: walk the whole audit chain; exit 1 and name the first broken link if any."""
import json as jsonlib

from django.core.management.base import BaseCommand, CommandError

from governance.audit.verify import verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain and signed checkpoints; report the verified range and the first broken link."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, json: bool = False, **options):
        result = verify_chain()
        if json:
            self.stdout.write(_dumps(result.as_dict()))
        else:
            self.stdout.write(result.summary())
        if not result.ok:
            raise CommandError(f"audit trail is broken at seq {result.first_break.seq}: {result.first_break.reason}")


def _dumps(data) -> str:
    return jsonlib.dumps(data, indent=2)
