"""After every decision or override the approvals page draws again what changed: the request, its
buttons (Approve disabled with the reason when four-eyes or a gate blocks it), who else must approve,
and the open / recently closed lists. Overrides are for admins, with a written reason, on the server."""
import json

import pytest
from django.test import Client

from devtools.dashboard import DashCaller, demo_model, find_component
from governance.approvals import services
from tests.support import approvals as t
from governance.approvals.models import GateOverride, PromotionRequest, Stage
from governance.audit.models import AuditEntry
from lineage.models import Node
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def caller_for(user) -> DashCaller:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return DashCaller(client)


def request_for(requester, name="churn-model"):
    ids = demo_model(name, "3")
    return services.create_request(requester, node=Node.objects.get(pk=ids["model_version"]),
                                   target_stage=Stage.objects.get(name="staging"), justification="holdout ok",
                                   submit=True)


def page_of(caller, req):
    return caller.call_json("page.children", {"url.pathname": "/dashboard/approvals", "url.search": f"?request={req.pk}"})


def approve(caller, req, comment="fine"):
    return caller.call_json("req-decision-result.children",
                            {"req-approve.n_clicks": 1, "req-comment.value": comment, "req-id.data": req.pk},
                            changed="req-approve.n_clicks")


def button(tree, component_id):
    found = find_component(tree, component_id)
    assert found is not None, component_id
    return found["props"]


def test_each_decision_redraws_buttons_who_else_and_the_lists(users):
    t.open_policy("staging", approvals=2)
    carol = make_user("carol", "approver")
    req = request_for(users["engineer"])
    first = approve(caller_for(users["approver"]), req)
    assert "req-decided" in json.dumps(first) and "pending" in json.dumps(first["req-info"])
    # The approver may not approve twice: Approve is now disabled, and says why.
    approve_button = button(first["req-controls"], "req-approve")
    assert approve_button["disabled"] is True and "already decided" in approve_button["title"]
    who = json.dumps(find_component(first["req-controls"], "req-who-else"))
    assert "Needs 1 more approval" in who and "carol" in who and '"approver' not in who
    lists = first["req-lists"]["children"]
    assert f"req-link-{req.pk}" in json.dumps(find_component(lists, "open-requests"))

    second = approve(caller_for(carol), req)
    assert PromotionRequest.objects.get(pk=req.pk).state == "executed"
    lists = json.dumps(second["req-lists"])
    assert f"req-link-{req.pk}" not in json.dumps(find_component(second["req-lists"]["children"], "open-requests"))
    assert f"req-link-{req.pk}" in json.dumps(find_component(second["req-lists"]["children"], "closed-requests"))
    assert "req-closed" in json.dumps(second["req-controls"]) and '"req-approve"' not in json.dumps(second["req-controls"])
    assert "executed" in lists


def test_the_requesters_approve_button_is_disabled_with_the_four_eyes_reason(users):
    rita = make_user("rita", "engineer", "approver")
    req = request_for(rita)
    page = page_of(caller_for(rita), req)
    props = button(page, "req-approve")
    assert props["disabled"] is True and "Four-eyes rule" in props["title"]
    assert button(page, "req-reject")["disabled"] is True
    who = json.dumps(find_component(page, "req-who-else"))
    assert "approver" in who and "rita" not in who


def failing_gate_request(users):
    t.open_policy("staging", required_metrics={"accuracy": {">=": 0.99}})
    req = request_for(users["engineer"])
    assert [g.gate for g in services.blocking_gates(req)] == ["metrics"]
    return req


def test_a_failing_gate_disables_approve_until_an_admin_overrides_it_with_a_reason(users):
    req = failing_gate_request(users)
    approver = caller_for(users["approver"])
    props = button(page_of(approver, req), "req-approve")
    assert props["disabled"] is True and "Failing gate(s) block approval: metrics" in props["title"]
    assert find_component(page_of(approver, req), "req-override-go") is None  # approvers cannot override

    admin = caller_for(users["admin"])
    assert find_component(page_of(admin, req), "req-override-go") is not None
    empty = admin.call_json("req-override-result.children", {
        "req-override-go.n_clicks": 1, "req-override-gate.value": "metrics", "req-override-reason.value": "  ",
        "req-id.data": req.pk})
    assert "An override needs a written reason" in json.dumps(empty) and not GateOverride.objects.exists()
    done = admin.call_json("req-override-result.children", {
        "req-override-go.n_clicks": 1, "req-override-gate.value": "metrics",
        "req-override-reason.value": "accuracy measured on the new holdout is 0.995; see ticket 42",
        "req-id.data": req.pk})
    assert "req-overridden" in json.dumps(done) and "overridden by an admin" in json.dumps(done["req-info"])
    override = GateOverride.objects.get(request=req)
    assert (override.gate, override.actor) == ("metrics", users["admin"])
    entry = AuditEntry.objects.get(action="promotion.gate_override")
    assert entry.actor_username == "admin" and "ticket 42" in json.dumps(entry.reason)
    assert button(page_of(approver, req), "req-approve")["disabled"] is False


@pytest.mark.parametrize("role", ["approver", "auditor", "outsider"])
def test_override_is_refused_on_the_server_to_everyone_but_admins(users, role):
    req = failing_gate_request(users)
    audit_before = AuditEntry.objects.count()
    response = caller_for(users[role]).call_json("req-override-result.children", {
        "req-override-go.n_clicks": 1, "req-override-gate.value": "metrics", "req-override-reason.value": "because",
        "req-id.data": req.pk})
    assert "req-override-refused" in json.dumps(response) and "needs the role admin" in json.dumps(response)
    assert set(response) == {"req-override-result"}  # nothing else redrawn
    assert not GateOverride.objects.exists()
    # Only the refusal of the governed action is recorded, under the caller's name (dashboard.auth.guarded).
    added = list(AuditEntry.objects.order_by("seq"))[audit_before:]
    assert [(e.action, e.actor_username, e.object_id) for e in added] == [
        ("promotion_request.override.refused", role, str(req.pk))]
