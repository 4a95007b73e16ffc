"""The request state machine: bad input is a 400 that changes nothing, a transition from the wrong state is
a 409, and pending requests expire."""
import datetime as dt

import pytest
from django.utils import timezone

from governance.approvals import services
from tests.support import approvals as t
from governance.approvals.models import PromotionRequest
from governance.audit.models import AuditEntry
from lineage.kinds import NodeKind

URL = "/api/promotion-requests/"


@pytest.fixture
def mv(db):
    t.open_policy("staging", approvals=1)
    t.open_policy("production", approvals=1)
    return t.node(NodeKind.MODEL_VERSION, "fraud-v7")


def create(client, mv, stage="staging", submit=False, **extra):
    return client.post(URL, {"node": mv.pk, "target_stage": stage, "justification": "ready", "submit": submit,
                             **extra}, format="json")


def test_bad_input_is_a_400_and_changes_nothing(clients, mv):
    run = t.node(NodeKind.RUN, "a-run")
    audit_before = AuditEntry.objects.count()
    cases = [
        {"node": run.pk, "target_stage": "staging", "justification": "x"},       # not a model version
        {"node": 999999, "target_stage": "staging", "justification": "x"},       # no such node
        {"node": mv.pk, "target_stage": "moon", "justification": "x"},           # no such stage
        {"node": mv.pk, "target_stage": "staging", "justification": "   "},      # blank justification
        {"node": mv.pk, "target_stage": "staging"},                               # missing justification
        {"node": "abc", "target_stage": "staging", "justification": "x"},
    ]
    for body in cases:
        r = clients["engineer"].post(URL, body, format="json")
        assert r.status_code == 400, (body, r.content)
        assert r.json()["error"] and r.json()["detail"]
    assert clients["engineer"].post(URL, "not json", content_type="application/json").status_code == 400
    assert PromotionRequest.objects.count() == 0 and AuditEntry.objects.count() == audit_before


def test_draft_then_submit_then_decide(clients, mv):
    draft = create(clients["engineer"], mv).json()
    assert draft["state"] == "draft" and draft["gates"] == [] and draft["policy"] == {}
    r = clients["approver"].post(f"{URL}{draft['id']}/approve/", {}, format="json")
    assert r.status_code == 409 and "pending" in r.json()["detail"]
    pending = clients["engineer"].post(f"{URL}{draft['id']}/submit/", format="json").json()
    assert pending["state"] == "pending" and pending["policy"]["required_approvals"] == 1
    assert clients["engineer"].post(f"{URL}{draft['id']}/submit/", format="json").status_code == 409
    done = clients["approver"].post(f"{URL}{draft['id']}/approve/", {}, format="json").json()
    assert done["state"] == "executed" and done["execution"]["status"] == "recorded"


@pytest.mark.parametrize("final", ["withdrawn", "rejected", "executed"])
def test_closed_requests_refuse_every_further_transition(clients, mv, final):
    req = create(clients["engineer"], mv, submit=True).json()
    if final == "withdrawn":
        clients["engineer"].post(f"{URL}{req['id']}/withdraw/", {}, format="json")
    elif final == "rejected":
        clients["approver"].post(f"{URL}{req['id']}/reject/", {"comment": "no"}, format="json")
    else:
        clients["approver"].post(f"{URL}{req['id']}/approve/", {}, format="json")
    assert clients["auditor"].get(f"{URL}{req['id']}/").json()["state"] == final
    for client, verb, body in (("engineer", "submit", {}), ("engineer", "withdraw", {}), ("admin", "approve", {}),
                               ("admin", "reject", {"comment": "late"}),
                               ("admin", "override", {"gate": "metrics", "reason": "r"})):
        r = clients[client].post(f"{URL}{req['id']}/{verb}/", body, format="json")
        assert r.status_code in (400, 409), (verb, r.status_code)
        if verb != "override":
            assert r.status_code == 409
    assert clients["auditor"].get(f"{URL}{req['id']}/").json()["state"] == final


def test_rejection_needs_a_comment(clients, mv):
    req = create(clients["engineer"], mv, submit=True).json()
    r = clients["approver"].post(f"{URL}{req['id']}/reject/", {"comment": ""}, format="json")
    assert r.status_code == 400 and "comment" in r.json()["detail"]
    assert clients["auditor"].get(f"{URL}{req['id']}/").json()["state"] == "pending"


def test_one_open_request_per_model_version_and_stage(clients, mv):
    first = create(clients["engineer"], mv, submit=True).json()
    r = create(clients["engineer"], mv)
    assert r.status_code == 409 and f"#{first['id']}" in r.json()["detail"]
    assert create(clients["engineer"], mv, stage="production").status_code == 201
    clients["engineer"].post(f"{URL}{first['id']}/withdraw/", {}, format="json")
    assert create(clients["engineer"], mv).status_code == 201


def test_promoting_to_the_stage_it_is_already_in_is_refused(clients, mv):
    req = create(clients["engineer"], mv, submit=True).json()
    clients["approver"].post(f"{URL}{req['id']}/approve/", {}, format="json")
    r = create(clients["engineer"], mv)
    assert r.status_code == 409 and "already in staging" in r.json()["detail"]


def test_unknown_request_is_404(clients, mv):
    assert clients["approver"].post(f"{URL}424242/approve/", {}, format="json").status_code == 404
    assert clients["auditor"].get(f"{URL}424242/").status_code == 404


def test_a_pending_request_expires(clients, users, mv):
    t.set_policy("staging", expiry_hours=1)
    req = create(clients["engineer"], mv, submit=True).json()
    assert req["expires_at"]
    PromotionRequest.objects.filter(pk=req["id"]).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    r = clients["approver"].post(f"{URL}{req['id']}/approve/", {}, format="json")
    assert r.status_code == 409 and "expired" in r.json()["detail"]
    shown = clients["auditor"].get(f"{URL}{req['id']}/").json()
    assert shown["state"] == "expired" and shown["decisions"] == []
    assert AuditEntry.objects.filter(action="promotion.expire", object_id=str(req["id"])).exists()


def test_expire_overdue_sweeps_only_overdue_pending_requests(clients, mv):
    t.set_policy("staging", expiry_hours=2)
    other = t.node(NodeKind.MODEL_VERSION, "fraud-v8")
    late = create(clients["engineer"], mv, submit=True).json()
    fresh = create(clients["engineer"], other, submit=True).json()
    assert services.expire_overdue(now=timezone.now() + dt.timedelta(hours=1)) == 0
    PromotionRequest.objects.filter(pk=late["id"]).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert services.expire_overdue() == 1
    assert PromotionRequest.objects.get(pk=late["id"]).state == "expired"
    assert PromotionRequest.objects.get(pk=fresh["id"]).state == "pending"


def test_engineers_cannot_retry_execution_and_it_is_idempotent(clients, mv):
    req = create(clients["engineer"], mv, submit=True).json()
    assert clients["admin"].post(f"{URL}{req['id']}/execute/", format="json").status_code == 409  # pending
    clients["approver"].post(f"{URL}{req['id']}/approve/", {}, format="json")
    assert clients["engineer"].post(f"{URL}{req['id']}/execute/", format="json").status_code == 403
    again = clients["admin"].post(f"{URL}{req['id']}/execute/", format="json")
    assert again.status_code == 200 and again.json()["state"] == "executed"
    assert AuditEntry.objects.filter(action="promotion.execute", object_id=str(req["id"])).count() == 1


def test_the_expiry_task_runs_the_sweep_as_a_named_service(clients, mv):
    from governance.approvals.tasks import expire_overdue_task

    t.set_policy("staging", expiry_hours=1)
    req = create(clients["engineer"], mv, submit=True).json()
    PromotionRequest.objects.filter(pk=req["id"]).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert expire_overdue_task.apply().get() == 1
    entry = AuditEntry.objects.get(action="promotion.expire")
    assert entry.actor_username == "approvals:expiry" and entry.object_id == str(req["id"])
