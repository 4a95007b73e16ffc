"""Four-eyes and role rules, through the API: who may request, decide, and read."""
import pytest

from common.roles import APPROVER, ENGINEER
from tests.support import approvals as t
from governance.approvals.models import Decision, PromotionRequest
from governance.audit.models import AuditEntry
from lineage.kinds import NodeKind
from tests.conftest import client_for, make_user

URL = "/api/promotion-requests/"


@pytest.fixture
def mv(db):
    t.open_policy("production", approvals=2)
    t.open_policy("staging", approvals=1)
    return t.node(NodeKind.MODEL_VERSION, "churn-v3", {"createdBy": "Dana"})


def request_promotion(client, mv, stage="production", submit=True):
    r = client.post(URL, {"node": mv.pk, "target_stage": stage, "justification": "beats v2", "submit": submit},
                    format="json")
    assert r.status_code == 201, r.content
    return r.json()


def test_engineer_requests_and_admin_may_too_but_approver_auditor_outsider_may_not(clients, mv):
    assert request_promotion(clients["engineer"], mv)["state"] == "pending"
    assert request_promotion(clients["admin"], mv, stage="staging")["state"] == "pending"
    for name, code in (("approver", 403), ("auditor", 403), ("outsider", 403), ("anonymous", 401)):
        r = clients[name].post(URL, {"node": mv.pk, "target_stage": "retired", "justification": "x"}, format="json")
        assert r.status_code == code, (name, r.content)
        assert r.json()["error"]
    assert PromotionRequest.objects.count() == 2


def test_requester_can_never_approve_their_own_request_even_as_approver_or_admin(users, mv):
    boss = make_user("boss", ENGINEER, APPROVER)
    req = request_promotion(client_for(boss), mv)
    r = client_for(boss).post(f"{URL}{req['id']}/approve/", {"comment": "mine"}, format="json")
    assert r.status_code == 403 and "Four-eyes" in r.json()["detail"]
    req2 = request_promotion(client_for(users["admin"]), mv, stage="staging")
    r = client_for(users["admin"]).post(f"{URL}{req2['id']}/approve/", {}, format="json")
    assert r.status_code == 403
    assert not Decision.objects.exists()


def test_only_approvers_and_admins_decide(clients, mv):
    req = request_promotion(clients["engineer"], mv)
    for name, code in (("engineer", 403), ("auditor", 403), ("outsider", 403), ("anonymous", 401)):
        assert clients[name].post(f"{URL}{req['id']}/approve/", {}, format="json").status_code == code, name
        assert clients[name].post(f"{URL}{req['id']}/reject/", {"comment": "no"}, format="json").status_code == code
    assert not Decision.objects.exists()
    assert clients["approver"].post(f"{URL}{req['id']}/approve/", {}, format="json").status_code == 200
    shown = clients["admin"].post(f"{URL}{req['id']}/approve/", {}, format="json").json()
    assert shown["approvals"] == 2 and shown["state"] == "executed"


def test_the_same_approver_twice_counts_once(clients, mv):
    req = request_promotion(clients["engineer"], mv)
    assert clients["approver"].post(f"{URL}{req['id']}/approve/", {"comment": "ok"}, format="json").status_code == 200
    again = clients["approver"].post(f"{URL}{req['id']}/approve/", {"comment": "ok!"}, format="json")
    assert again.status_code == 409 and "already decided" in again.json()["detail"]
    shown = clients["auditor"].get(f"{URL}{req['id']}/").json()
    assert shown["approvals"] == 1 and shown["state"] == "pending" and shown["required_approvals"] == 2
    assert Decision.objects.count() == 1


def test_the_models_author_cannot_approve(clients, mv):
    dana = make_user("dana", APPROVER)
    req = request_promotion(clients["engineer"], mv)
    r = client_for(dana).post(f"{URL}{req['id']}/approve/", {}, format="json")
    assert r.status_code == 403 and "author" in r.json()["detail"]
    assert clients["auditor"].get(f"{URL}{req['id']}/").json()["authors"] == ["dana"]
    # Matched by e-mail too, when the source names the author by address.
    mv2 = t.node(NodeKind.MODEL_VERSION, "churn-v4", {"modeler": "erin@example.com"})
    erin = make_user("erin-approver", APPROVER)
    erin.email = "erin@example.com"
    erin.save()
    req2 = request_promotion(clients["engineer"], mv2)
    assert client_for(erin).post(f"{URL}{req2['id']}/approve/", {}, format="json").status_code == 403


def test_author_may_approve_when_the_policy_allows_it(clients, mv):
    t.set_policy("staging", author_may_approve=True)
    dana = make_user("dana", APPROVER)
    req = request_promotion(clients["engineer"], mv, stage="staging")
    assert client_for(dana).post(f"{URL}{req['id']}/approve/", {}, format="json").json()["state"] == "executed"


def test_auditors_read_everything_but_write_nothing(clients, mv):
    req = request_promotion(clients["engineer"], mv)
    assert clients["auditor"].get(URL).status_code == 200
    assert clients["auditor"].get(f"{URL}{req['id']}/").json()["state"] == "pending"
    assert clients["auditor"].post(f"{URL}{req['id']}/withdraw/", {}, format="json").status_code == 403
    assert clients["outsider"].get(URL).status_code == 403
    assert clients["anonymous"].get(URL).status_code == 401


def test_only_the_requester_or_an_admin_withdraws(users, clients, mv):
    other = make_user("other-engineer", ENGINEER)
    req = request_promotion(clients["engineer"], mv)
    r = client_for(other).post(f"{URL}{req['id']}/withdraw/", {"reason": "not yours"}, format="json")
    assert r.status_code == 403
    assert clients["engineer"].post(f"{URL}{req['id']}/withdraw/", {"reason": "oops"}, format="json").json()["state"] == "withdrawn"
    assert AuditEntry.objects.filter(action="promotion.withdraw", object_id=str(req["id"]), reason="oops").exists()


def test_pending_for_me_lists_what_i_may_decide(clients, users, mv):
    dana = make_user("dana", APPROVER)
    req = request_promotion(clients["engineer"], mv)
    mine = lambda c: [r["id"] for r in c.get(URL + "?pending_for_me=true").json()["results"]]
    assert mine(clients["approver"]) == [req["id"]]
    assert mine(client_for(dana)) == []            # the author
    assert mine(clients["engineer"]) == []         # not an approver
    clients["approver"].post(f"{URL}{req['id']}/approve/", {}, format="json")
    assert mine(clients["approver"]) == []         # already decided
    assert mine(clients["admin"]) == [req["id"]]


def test_every_decision_is_in_the_audit_trail_with_its_actor(clients, mv):
    req = request_promotion(clients["engineer"], mv)
    clients["approver"].post(f"{URL}{req['id']}/approve/", {"comment": "lgtm"}, format="json")
    clients["admin"].post(f"{URL}{req['id']}/approve/", {"comment": "ok"}, format="json")
    actions = list(AuditEntry.objects.filter(object_type="promotion_request", object_id=str(req["id"]))
                   .values_list("action", "actor_username"))
    assert actions == [
        ("promotion.create", "engineer"), ("promotion.submit", "engineer"),
        ("promotion.decision.approve", "approver"), ("promotion.decision.approve", "admin"),
        ("promotion.approved", "admin"), ("promotion.execute", "admin"),
    ]
