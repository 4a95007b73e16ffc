"""`manage.py load_demo`: demo users and data the project generates itself, loaded through the real paths.

OpenLineage events go through the ingest service, the Kubeflow demo (an ML Metadata store written with
ml-metadata plus a KFP API fake) and the Viya demo (a Viya-shaped fake server) through their connectors'
real harvests. Safe to run twice: users are reused, harvests are incremental and ingest is idempotent.
"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.management.base import BaseCommand

from governance.accounts import tokens
from governance.accounts.roles import ensure_groups
from governance.audit import context
from governance.provenance.demo import load_demo as registry_history

# (username, role, password). Demo only: printed for the newcomer, never used outside `make demo`.
DEMO_USERS = [
    ("admin", "admin", "admin-demo-pass"),
    ("alice", "engineer", "alice-demo-pass"),
    ("bob", "approver", "bob-demo-pass"),
    ("carol", "approver", "carol-demo-pass"),
    ("dave", "auditor", "dave-demo-pass"),
]


class Command(BaseCommand):
    help = "Create demo users and load generated Kubeflow, Viya and OpenLineage demo data."

    def handle(self, *args, **options):
        ensure_groups()
        users = {}
        with context.acting_as(context.AuditContext(username="demo-loader", service="demo-loader")):
            for username, role, password in DEMO_USERS:
                user, created = get_user_model().objects.get_or_create(username=username)
                if created:
                    validate_password(password, user)
                    user.set_password(password)
                    user.is_staff = role == "admin"
                    user.save()
                    user.groups.add(Group.objects.get(name=role))
                users[username] = user
            # Tokens are stored hashed: the one printed below is made afresh (the previous one revoked).
            alice_token = tokens.rotate_default(users["alice"])
            self._step("OpenLineage events", self._openlineage, users)
            self._step("Kubeflow (ML Metadata store + KFP API fake)", self._kubeflow, users)
            self._step("SAS Viya (model repository fake)", self._viya, users)
            self._step("Promotion request", self._approvals, users)
            self._step("Registry history (promotions)", registry_history, users)
        self.stdout.write("")
        self.stdout.write("Log in at http://127.0.0.1:8000/accounts/login/ with one of:")
        for username, role, password in DEMO_USERS:
            self.stdout.write(f"  {username:<6} / {password:<16} ({role})")
        self.stdout.write(f"API token of alice (engineer): {alice_token}")

    def _step(self, title, func, users):
        self.stdout.write(f"- {title} …")
        summary = func(users)
        self.stdout.write(f"  {summary}")

    def _openlineage(self, users):
        from lineage.ingest.demo import load_demo_events

        return load_demo_events(users["alice"])

    def _kubeflow(self, users):
        from connectors.kubeflow.demo import load_demo

        return load_demo()

    def _viya(self, users):
        from connectors.viya.demo import load_demo

        return load_demo()

    def _approvals(self, users):
        """A manager's queue on first login: the stitched churn model (Viya version trained in Kubeflow)
        archived by the auditor and requested for production by the engineer, waiting for two approvers."""
        from governance.approvals import services as approvals
        from governance.approvals.models import PromotionRequest, Stage
        from governance.archive.services import build_bundle, has_bundle
        from lineage.models import Node

        node = (
            Node.objects.filter(source="viya", kind="model_version", name__startswith="churn-classifier", in_edges__kind="same_as")
            .distinct()
            .order_by("-name")
            .first()
        )
        if node is None:
            return "no stitched churn-classifier model version in the store; skipped"
        if not has_bundle(node):
            build_bundle(node, users["dave"])
        open_request = PromotionRequest.objects.filter(node=node, state__in=["draft", "pending", "approved"]).first()
        if open_request is None:
            open_request = approvals.create_request(
                users["alice"],
                node=node,
                target_stage=Stage.objects.get(name="production"),
                justification="Retrained on the latest churn features; metrics above the production thresholds.",
                submit=True,
            )
        gates = ", ".join(f"{g.gate}={'pass' if g.passed else 'FAIL'}" for g in approvals.latest_gates(open_request))
        return f"request #{open_request.pk} ({open_request.state}) for {node.name}: {gates}"
