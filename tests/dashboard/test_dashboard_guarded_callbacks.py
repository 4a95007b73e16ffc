"""One guard for every dashboard callback (dashboard.auth.guarded): the callback runs for a user the
domain's rules allow, and a member without the role or an outsider gets the refusal shown, nothing
changed, and (for a governed action) the refusal recorded in the audit trail under their name and request
id, as the API's RefusalAuditMiddleware records the API's refusals."""
import json

import pytest
from django.test import Client

from dashboard import auth
from devtools.dashboard import DashCaller
from governance.archive import rules as archive_rules
from governance.archive.models import LegalHold
from devtools.archive_sample import make_model_lineage
from governance.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def place_hold(user, node_id, clicks=1):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return json.dumps(DashCaller(client).call_json("hold-result.children", {
        "hold-place.n_clicks": clicks, "hold-node.value": node_id, "hold-reason.value": "litigation"}))


def test_the_allowed_role_runs_the_callback(users):
    mv = make_model_lineage("guard-ok", upstream=2)
    before = AuditEntry.objects.count()
    answer = place_hold(users["auditor"], mv.pk)
    assert "hold-done" in answer
    hold = LegalHold.objects.get()
    added = list(AuditEntry.objects.order_by("seq"))[before:]
    assert [e.actor_username for e in added] == ["auditor"]
    assert not any(e.action.endswith(".refused") for e in added) and str(hold.pk) == added[0].object_id


@pytest.mark.parametrize("role, held", [("engineer", "engineer"), ("outsider", "no role")])
def test_a_member_without_the_role_and_an_outsider_are_refused_and_the_refusal_is_audited(users, role, held):
    mv = make_model_lineage(f"guard-{role}", upstream=2)
    before = AuditEntry.objects.count()
    answer = place_hold(users[role], mv.pk)
    assert "hold-refused" in answer and f"needs the role auditor; you hold {held}" in answer
    assert not LegalHold.objects.exists()
    added = list(AuditEntry.objects.order_by("seq"))[before:]
    assert [(e.action, e.actor_username, e.object_id) for e in added] == [("legal_hold.place.refused", role, str(mv.pk))]
    entry = added[0]
    assert entry.request_id and "needs the role auditor" in entry.reason
    assert entry.after["via"] == "dashboard" and entry.after["status"] == 403


def test_a_call_with_nothing_to_do_is_neither_checked_nor_audited(users):
    mv = make_model_lineage("guard-idle", upstream=2)
    before = AuditEntry.objects.count()
    answer = place_hold(users["outsider"], mv.pk, clicks=0)
    assert "hold-refused" not in answer
    assert AuditEntry.objects.count() == before


def test_page_access_is_the_domains_read_rule():
    """PAGE_ROLES is derived from the rules the API's permission classes use, not kept by hand."""
    assert auth.PAGE_ROLES["archive"] == archive_rules.RULES.roles_for("read")
    assert auth.PAGE_ROLES["audit"] == ("auditor", "admin")
    for page, (rules, action) in auth.PAGE_RULES.items():
        assert auth.PAGE_ROLES[page] == rules.roles_for(action)


def test_the_guard_refuses_without_a_signed_in_user():
    """Outside a request that came through the Django view there is no user: refused, callback not run."""
    ran = []
    guarded = auth.guarded(page="archive", refused=lambda message: ("refused", message))(lambda user: ran.append(user))
    assert guarded() == ("refused", "You are not signed in.") and ran == []
