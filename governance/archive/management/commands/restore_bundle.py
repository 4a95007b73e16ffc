"""manage.py restore_bundle BUNDLE.zip [--merge] [--user NAME]"""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from governance.archive.restore import RestoreError, restore_path
from governance.audit import context


class Command(BaseCommand):
    help = "Verify an evidence bundle and import its lineage graph into this instance's store (audited)."

    def add_arguments(self, parser):
        parser.add_argument("bundle", help="path to the bundle ZIP")
        parser.add_argument("--merge", action="store_true", help="add what is missing even if some nodes exist")
        parser.add_argument("--user", help="username to record as the actor (default: the command's service actor)")

    def handle(self, *args, bundle, merge, user, **options):
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"no user named {user!r}")
        with context.acting_as(context.AuditContext(username="restore_bundle", service="archive:restore_bundle")):
            try:
                result = restore_path(bundle, actor, merge=merge)
            except RestoreError as exc:
                raise CommandError(str(exc)) from None
        self.stdout.write(
            f"restored {result.nodes} nodes and {result.edges} edges from bundle {result.bundle.sha256} "
            f"({result.counts['nodes_created']} nodes, {result.counts['edges_created']} edges created)"
        )
