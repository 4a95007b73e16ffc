"""`manage.py load_demo`: demo users and data the project generates itself, loaded through the real paths.

OpenLineage events go through the ingest service, the Kubeflow demo (an ML Metadata store written with
ml-metadata plus a KFP API fake) and the Viya demo (a Viya-shaped fake server) through their connectors'
real harvests. Safe to run again whatever was done in between: users are reused (their demo passwords are
set again), harvests are incremental, ingest is idempotent, and the promotion step looks at what became of
its request (approved, executed, rejected, withdrawn; the model already in production; bundles and legal
holds added) and reports it instead of asking again. `make demo-reset` starts over from an empty database.

Prints, for the newcomer: a readable line per step, the address the demo is served on (`--url`, which
`make demo` sets to the host and port it serves), and every demo user with role, password and API token.
"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.management.base import BaseCommand

from governance.accounts import tokens
from common.roles import ensure_groups
from common.audit import context
from devtools.provenance_demo import load_demo as registry_history

# (username, role, password). Demo only: printed for the newcomer, never used outside `make demo`.
DEMO_USERS = [
    ("admin", "admin", "admin-demo-pass"),
    ("alice", "engineer", "alice-demo-pass"),
    ("bob", "approver", "bob-demo-pass"),
    ("carol", "approver", "carol-demo-pass"),
    ("dave", "auditor", "dave-demo-pass"),
]


def readable(summary) -> str:
    """A step's summary as one line a person reads: `key value, key value` (nested dicts in parentheses,
    zero counts left out), whatever shape the generator module returns."""
    if isinstance(summary, dict):
        parts = []
        for key, value in summary.items():
            if isinstance(value, dict):
                inner = readable(value)
                if inner:
                    parts.append(f"{str(key).replace('_', ' ')} ({inner})")
            elif value not in (0, None, "", [], {}):
                parts.append(f"{str(key).replace('_', ' ')} {value}")
        return ", ".join(parts)
    if isinstance(summary, (list, tuple)):
        return ", ".join(readable(item) for item in summary)
    return str(summary)


class Command(BaseCommand):
    help = "Create demo users and load generated Kubeflow, Viya and OpenLineage demo data (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/",
                            help="the address the demo is served on, to print (make demo passes its own)")

    def handle(self, *args, **options):
        ensure_groups()
        users = {}
        with context.acting_as(context.AuditContext(username="demo-loader", service="demo-loader")):
            for username, role, password in DEMO_USERS:
                users[username] = self._user(username, role, password)
            # Tokens are stored hashed: the ones printed below are made afresh (the previous ones revoked).
            printed_tokens = {username: tokens.rotate_default(user) for username, user in users.items()}
            self._step("OpenLineage events", self._openlineage, users)
            self._step("Kubeflow (ML Metadata store + KFP API fake)", self._kubeflow, users)
            self._step("SAS Viya (model repository fake)", self._viya, users)
            self._step("Promotion request", self._approvals, users)
            self._step("Registry history (promotions)", registry_history, users)
        url = options["url"].rstrip("/")
        self.stdout.write("")
        self.stdout.write(f"Lineage Ledger demo: {url}/dashboard/  (API {url}/api/, docs {url}/api/docs/)")
        self.stdout.write(f"Log in at {url}/accounts/login/ as one of:")
        width = max(len(name) for name, _, _ in DEMO_USERS)
        for username, role, password in DEMO_USERS:
            token = printed_tokens[username]
            self.stdout.write(f"  {username:<{width}}  {role:<9} password {password:<16} API token {token}")
        self.stdout.write(f"  e.g. curl -H 'Authorization: Bearer {printed_tokens['alice']}' {url}/api/nodes/")

    @staticmethod
    def _user(username, role, password):
        """The demo user as the list says, whatever happened since (a changed password, a removed role)."""
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            validate_password(password, user)
        if not user.check_password(password) or user.is_staff != (role == "admin") or not user.is_active:
            user.set_password(password)
            user.is_staff, user.is_active = role == "admin", True
            user.save()
        user.groups.add(Group.objects.get(name=role))
        return user

    def _step(self, title, func, users):
        self.stdout.write(f"- {title} …")
        summary = func(users)
        self.stdout.write(f"  {readable(summary)}")

    def _openlineage(self, users):
        from devtools.ingest_demo import load_demo_events

        return load_demo_events(users["alice"])

    def _kubeflow(self, users):
        from devtools.kubeflow.demo import load_demo

        return load_demo()

    def _viya(self, users):
        from devtools.viya.demo import load_demo

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
        production = Stage.objects.get(name="production")
        # What became of the demo's request since the last load: any request still open or already carried
        # out stands (the newcomer may have approved or executed it); only when every earlier one was
        # rejected, withdrawn or expired, and the model is not in production, is a new one made.
        latest = PromotionRequest.objects.filter(node=node, target_stage=production).order_by("-pk").first()
        in_production = approvals.current_stage(node) == production
        if latest is not None and (latest.state in ("draft", "pending", "approved", "executed") or in_production):
            return f"request #{latest.pk} for {node.name} is {latest.state}" + (
                "; the model version is in production" if in_production else "") + _gates(approvals, latest)
        if in_production:
            return f"{node.name} is already in production; no request made"
        request = approvals.create_request(
            users["alice"],
            node=node,
            target_stage=production,
            justification="Retrained on the latest churn features; metrics above the production thresholds.",
            submit=True,
        )
        again = f" (request #{latest.pk} was {latest.state})" if latest is not None else ""
        return f"request #{request.pk} ({request.state}) for {node.name}{again}" + _gates(approvals, request)


def _gates(approvals, request) -> str:
    results = approvals.latest_gates(request)
    if not results:
        return ""
    return "; gates: " + ", ".join(f"{g.gate} {'pass' if g.passed else 'FAIL'}" for g in results)
