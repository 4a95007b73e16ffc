"""`manage.py load_demo` (what `make demo` runs) works a second time whatever the newcomer did in between:
approving and executing the demo's promotion, building a bundle, placing a legal hold, changing a demo
password. The second load adds no duplicate data, reports what became of the request, and prints every demo
user with role, password and API token, and the address it was given."""
from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from devtools.management.commands.load_demo import DEMO_USERS
from governance.accounts.models import ApiToken
from governance.accounts.tokens import hash_key
from governance.approvals import services as approvals
from governance.approvals.models import PromotionRequest
from governance.archive import holds
from governance.archive.models import EvidenceBundle
from governance.archive.services import build_bundle
from lineage.ingest.models import IngestedEvent
from lineage.models import Edge, Node

pytestmark = pytest.mark.django_db


def _load(url="http://127.0.0.1:8123/") -> str:
    out = io.StringIO()
    call_command("load_demo", url=url, stdout=out)
    return out.getvalue()


def _counts():
    return Node.objects.count(), Edge.objects.count(), IngestedEvent.objects.count()


def test_load_demo_twice_around_an_approval_an_execution_a_bundle_and_a_hold(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    first = _load()
    # The demo's own request (the registry history beside it holds other, older promotions).
    request = PromotionRequest.objects.get(pk=int(re.search(r"request #(\d+) \(pending\)", first).group(1)))
    requests_made = PromotionRequest.objects.count()
    assert request.state == "pending" and request.target_stage.name == "production"
    stored = _counts()
    users = {u.username: u for u in get_user_model().objects.all()}

    # What the demo invites: both approvers approve; the request is executed (at once, or by the admin).
    for approver in ("bob", "carol"):
        approvals.decide(users[approver], request.pk, "approve", "looks right")
    request.refresh_from_db()
    if request.state == "approved":
        approvals.execute(users["admin"], request.pk)
    request.refresh_from_db()
    assert request.state == "executed"
    assert approvals.current_stage(request.node).name == "production"
    build_bundle(request.node, users["dave"], depth=3)
    holds.place_hold(request.node, users["dave"], "regulator asked")
    bundles = EvidenceBundle.objects.count()
    users["bob"].set_password("changed-by-bob")
    users["bob"].save()

    second = _load("http://127.0.0.1:8124/")
    assert PromotionRequest.objects.count() == requests_made
    assert f"request #{request.pk} for {request.node.name} is executed; the model version is in production" in second
    assert _counts() == stored and EvidenceBundle.objects.count() == bundles
    for output, url in ((first, "http://127.0.0.1:8123"), (second, "http://127.0.0.1:8124")):
        assert f"Log in at {url}/accounts/login/" in output
        for username, role, password in DEMO_USERS:
            line = next(line for line in output.splitlines() if line.strip().startswith(username + " "))
            assert role in line and password in line
            # The printed token is a working one of this user's (tokens are stored hashed: each load issues
            # a fresh one and revokes the one printed before).
            token = re.search(r"API token (\S+)", line).group(1)
            if output is second:
                assert ApiToken.objects.get(key_hash=hash_key(token), revoked_at__isnull=True).user.username == username
        assert "{'" not in output and "HarvestStatus." not in output  # readable summaries, not Python reprs
    assert get_user_model().objects.get(username="bob").check_password("bob-demo-pass")

    # A third load after the request was rejected instead starts a new one (model not in production).
    third_node = request.node
    PromotionRequest.objects.filter(pk=request.pk).update(state="rejected")
    from governance.approvals.models import StageAssignment

    StageAssignment.objects.filter(node=third_node).update(superseded_at=request.decided_at or request.created_at)
    third = _load()
    assert PromotionRequest.objects.count() == requests_made + 1 and f"(request #{request.pk} was rejected)" in third
