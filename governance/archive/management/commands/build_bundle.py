"""manage.py build_bundle NODE_ID --user NAME [--depth N] [--out FILE]"""
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from common.roles import AUDITOR, has_role
from governance.archive.services import BundleError, build_bundle, bundle_bytes
from lineage.models import Node


class Command(BaseCommand):
    help = "Build an evidence bundle for a model version or run, as an auditor or admin."

    def add_arguments(self, parser):
        parser.add_argument("node_id", type=int)
        parser.add_argument("--user", required=True, help="an auditor or admin; recorded as the creator")
        parser.add_argument("--depth", type=int, default=10)
        parser.add_argument("--out", help="also copy the bundle to this path")

    def handle(self, *args, node_id, user, depth, out, **options):
        actor = get_user_model().objects.filter(username=user).first()
        if actor is None or not has_role(actor, AUDITOR):
            raise CommandError(f"{user!r} is not an auditor or admin")
        node = Node.objects.filter(pk=node_id).first()
        if node is None:
            raise CommandError(f"no node {node_id}")
        try:
            bundle = build_bundle(node, actor, depth=depth)
        except BundleError as exc:
            raise CommandError(str(exc)) from None
        if out:
            Path(out).write_bytes(bundle_bytes(bundle))
        self.stdout.write(f"bundle {bundle.sha256} ({bundle.node_count} nodes, {bundle.edge_count} edges, {bundle.size} bytes)")
