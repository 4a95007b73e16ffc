"""`manage.py export_audit`: write the audit trail (or a seq range) as JSON Lines or CSV for offline checks."""
from django.core.management.base import BaseCommand, CommandError

from common.audit import context
from governance.audit import export
from governance.audit.recorder import record


class Command(BaseCommand):
    help = "Export the audit trail with hashes and checkpoints; verify it with python -m governance.audit.offline_verify."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=sorted(export.WRITERS), default="jsonl")
        parser.add_argument("--output", "-o", default="-", help="file to write (default: standard output)")
        parser.add_argument("--seq-min", type=int)
        parser.add_argument("--seq-max", type=int)

    def handle(self, *args, format: str, output: str, seq_min, seq_max, **options):
        if seq_min is not None and seq_max is not None and seq_min > seq_max:
            raise CommandError("--seq-min is after --seq-max")
        header = export.plan(seq_min, seq_max)
        try:
            handle = None if output == "-" else open(output, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror}") from None
        # The export itself is recorded (who took the trail away, and which part), after its range.
        with context.acting_as(context.AuditContext(username="cli:export_audit", service="cli:export_audit")):
            record("audit.export", "audit_trail", "", after={**_summary(header), "format": format, "output": output})
        try:
            for chunk in export.WRITERS[format](header):
                if handle is None:
                    self.stdout.write(chunk, ending="")
                else:
                    handle.write(chunk)
        finally:
            if handle is not None:
                handle.close()
        if output != "-":
            self.stderr.write(f"exported seq {header['first_seq']}..{header['last_seq']} to {output}")


def _summary(header: dict) -> dict:
    return {"first_seq": header["first_seq"], "last_seq": header["last_seq"]}
