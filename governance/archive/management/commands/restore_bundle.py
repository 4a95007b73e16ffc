"""manage.py restore_bundle BUNDLE.zip [--merge] [--user NAME] [--public-key HEX] [--sha256 HEX]
[--untrusted --reason TEXT]"""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from governance.archive.restore import RestoreError, restore_path
from common.audit import context


class Command(BaseCommand):
    help = ("Verify an evidence bundle (its checkpoint signature too) and import its lineage graph into this "
            "instance's store (audited). A bundle whose signature cannot be verified needs --untrusted --reason.")

    def add_arguments(self, parser):
        parser.add_argument("bundle", help="path to the bundle ZIP")
        parser.add_argument("--merge", action="store_true",
                            help="add what is missing even if some nodes exist (existing nodes are left as they are)")
        parser.add_argument("--user", help="username to record as the actor (default: the command's service actor)")
        parser.add_argument("--public-key", action="append", default=[],
                            help="Ed25519 public key (hex) of the instance that signed the bundle, besides this one's keys")
        parser.add_argument("--sha256", help="the bundle's SHA-256 as the originating instance's audit trail recorded it "
                                             "(needed for a bundle this instance did not build)")
        parser.add_argument("--untrusted", action="store_true",
                            help="restore a bundle whose signature cannot be verified (recorded; never counts as evidence)")
        parser.add_argument("--reason", help="why an untrusted bundle is restored (required with --untrusted)")

    def handle(self, *args, bundle, merge, user, public_key, untrusted, reason, sha256, **options):
        if untrusted and not (reason or "").strip():
            raise CommandError("--untrusted needs --reason: say why a bundle nobody can vouch for is restored")
        if reason and not untrusted:
            raise CommandError("--reason goes with --untrusted")
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"no user named {user!r}")
        with context.acting_as(context.AuditContext(username="restore_bundle", service="archive:restore_bundle")):
            try:
                result = restore_path(bundle, actor, merge=merge, untrusted_reason=reason if untrusted else None,
                                      public_keys=public_key, expected_sha256=sha256)
            except RestoreError as exc:
                raise CommandError(str(exc)) from None
        self.stdout.write(
            f"restored {result.nodes} nodes and {result.edges} edges from bundle {result.bundle.sha256} "
            f"({result.counts['nodes_created']} nodes, {result.counts['edges_created']} edges created; {result.trust})"
        )
        for conflict in result.conflicts:
            self.stdout.write(f"conflict: {conflict}")
