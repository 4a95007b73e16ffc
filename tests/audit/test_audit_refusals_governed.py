"""Each refused attempt at a governed action leaves an audit entry with the actor, the request id and the
reason the caller was given: four-eyes (403), a repeated vote (409), execution before approval (409), a
decision on a request that is no longer pending (409), an override of one's own request (403), a hold
released twice (409), a bundle asked for by a role that may not (403)."""
from __future__ import annotations

import pytest

from common.roles import ADMIN, APPROVER, AUDITOR, ENGINEER
from governance.approvals import services as approvals
from governance.approvals.models import Stage
from tests.support.approvals import node as make_node, open_policy
from governance.archive import holds
from governance.audit.models import AuditEntry
from lineage.kinds import NodeKind

pytestmark = pytest.mark.django_db


def _refusal(response, actor: str) -> AuditEntry:
    entries = list(AuditEntry.objects.filter(request_id=response["X-Request-ID"]))
    assert len(entries) == 1, [e.action for e in entries]
    entry = entries[0]
    assert entry.action.endswith(".refused") and entry.actor_username == actor
    assert entry.reason == response.json()["detail"]
    return entry


def test_refused_governed_actions_are_audited(clients, users):
    from django.contrib.auth.models import Group

    open_policy("staging", approvals=2)
    staging = Stage.objects.get(name="staging")
    # An approver who is also the requester: the four-eyes rule refuses their vote.
    users[APPROVER].groups.add(Group.objects.get(name=ENGINEER))
    own = approvals.create_request(users[APPROVER], node=make_node(NodeKind.MODEL_VERSION, "own"),
                                   target_stage=staging, justification="j", submit=True)
    refused = clients[APPROVER].post(f"/api/promotion-requests/{own.pk}/approve/", {"comment": "mine"}, format="json")
    assert refused.status_code == 403
    entry = _refusal(refused, APPROVER)
    assert entry.action == "promotion_request.approve.refused" and entry.object_id == str(own.pk)
    assert "Four-eyes" in entry.reason and entry.after["status"] == 403

    req = approvals.create_request(users[ENGINEER], node=make_node(NodeKind.MODEL_VERSION, "theirs"),
                                   target_stage=staging, justification="j", submit=True)
    assert clients[APPROVER].post(f"/api/promotion-requests/{req.pk}/approve/", {}, format="json").status_code == 200
    again = clients[APPROVER].post(f"/api/promotion-requests/{req.pk}/approve/", {}, format="json")
    assert again.status_code == 409 and "already decided" in _refusal(again, APPROVER).reason

    early = clients[ADMIN].post(f"/api/promotion-requests/{req.pk}/execute/", {}, format="json")
    assert early.status_code == 409 and "approved request" in _refusal(early, ADMIN).reason

    clients[ENGINEER].post(f"/api/promotion-requests/{req.pk}/withdraw/", {"reason": "r"}, format="json")
    late = clients[APPROVER].post(f"/api/promotion-requests/{req.pk}/reject/", {"comment": "no"}, format="json")
    assert late.status_code == 409 and "pending" in _refusal(late, APPROVER).reason

    users[ADMIN].groups.add(Group.objects.get(name=ENGINEER))
    mine = approvals.create_request(users[ADMIN], node=make_node(NodeKind.MODEL_VERSION, "admins"),
                                    target_stage=staging, justification="j", submit=True)
    override = clients[ADMIN].post(f"/api/promotion-requests/{mine.pk}/override/",
                                   {"gate": "metrics", "reason": "trust me"}, format="json")
    assert override.status_code == 403 and "Four-eyes" in _refusal(override, ADMIN).reason

    mv = make_node(NodeKind.MODEL_VERSION, "held")
    hold = holds.place_hold(mv, users[AUDITOR], "case")
    holds.release_hold(hold, users[AUDITOR], "closed")
    twice = clients[AUDITOR].post(f"/api/archive/holds/{hold.pk}/release/", {"reason": "again"}, format="json")
    assert twice.status_code == 409 and "released" in _refusal(twice, AUDITOR).reason

    bundle = clients[ENGINEER].post("/api/archive/bundles/", {"node": mv.pk, "depth": 1}, format="json")
    assert bundle.status_code == 403
    assert _refusal(bundle, ENGINEER).action == "archive_bundle.create.refused"


def test_anonymous_and_bad_input_leave_no_refusal(clients, users):
    before = AuditEntry.objects.count()
    assert clients["anonymous"].post("/api/promotion-requests/", {}, format="json").status_code == 401
    assert clients[ENGINEER].post("/api/promotion-requests/", {"node": "x"}, format="json").status_code == 400
    read = clients[ENGINEER].get("/api/audit/entries/")  # a read: not a governed write
    assert read.status_code == 403 and read.json()["detail"] == "Reading this needs the role: auditor or admin."
    assert AuditEntry.objects.count() == before


def test_a_refused_decision_in_the_dashboard_is_audited(users):
    """The dashboard's approve button refuses the requester's own request (four-eyes) as the API does,
    and the refusal is recorded the same way."""
    from django.contrib.auth.models import Group
    from django.test import Client

    from devtools.dashboard import DashCaller

    open_policy("staging")
    users[APPROVER].groups.add(Group.objects.get(name=ENGINEER))
    own = approvals.create_request(users[APPROVER], node=make_node(NodeKind.MODEL_VERSION, "dash-own"),
                                   target_stage=Stage.objects.get(name="staging"), justification="j", submit=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(users[APPROVER])
    before = AuditEntry.objects.count()
    answer = DashCaller(client).call_json(
        "req-decision-result.children", {"req-approve.n_clicks": 1, "req-comment.value": "", "req-id.data": own.pk},
        changed="req-approve.n_clicks")
    assert "Four-eyes" in str(answer)
    added = list(AuditEntry.objects.order_by("seq"))[before:]
    assert [(e.action, e.actor_username, e.object_id) for e in added] == [
        ("promotion_request.approve.refused", APPROVER, str(own.pk))]
    assert "Four-eyes" in added[0].reason and added[0].after["via"] == "dashboard"
