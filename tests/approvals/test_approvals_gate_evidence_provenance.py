"""Gate evidence has provenance: a requester cannot pass their own gate with a manual same_as link they made
(or one made after submission) until an approver or admin other than its maker confirms it; gates name the
facts they relied on and who created them; making and confirming links is audited."""
import pytest

from governance.approvals import summary
from tests.support import approvals as t
from governance.audit.models import AuditEntry
from lineage.kinds import NodeKind
from lineage.models import Edge
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db
URL = "/api/promotion-requests/"
LINK = "/api/links/same-as/"


@pytest.fixture
def setup(db):
    t.set_policy("staging", require_producing_run=True, max_training_hops=None, forbid_failed_runs=False,
                 required_metrics={}, require_evidence_archived=False, required_approvals=1)
    kubeflow = t.trained_model("kf", source="kubeflow")  # someone else's run produced this Kubeflow model
    viya = t.node(NodeKind.MODEL_VERSION, "viya-mv", source="viya")  # the engineer's version: no producing run
    return kubeflow, viya


def _gate(body, name="producing_run"):
    return next(g for g in body["gates"] if g["gate"] == name)


def test_a_requesters_own_link_does_not_pass_the_gate_until_an_approver_confirms_it(clients, setup):
    kubeflow, viya = setup
    req = clients["engineer"].post(URL, {"node": viya.pk, "target_stage": "staging", "justification": "j",
                                         "submit": True}, format="json").json()
    assert req["blocked_by"] == ["producing_run"]
    made = clients["engineer"].post(LINK, {"src": kubeflow["mv"].pk, "dst": viya.pk, "reason": "same pickle"}, format="json")
    assert made.status_code == 201 and made.json()["manual_link"]["created_by"] == "engineer"
    edge_id = made.json()["id"]

    again = clients["engineer"].post(f"{URL}{req['id']}/evaluate/", format="json").json()
    assert again["blocked_by"] == ["producing_run"]
    gate = _gate(again)
    assert "Not relied on: manual same_as link" in gate["reason"] and "made by the requester" in gate["reason"]
    [excluded] = gate["detail"]["not_relied_on"]
    assert (excluded["edge"], excluded["created_by"], excluded["relied_on"]) == (edge_id, "engineer", False)
    # The approver cannot approve past it, and sees why in the summary the approvals page reads.
    assert clients["approver"].post(f"{URL}{req['id']}/approve/", {}, format="json").status_code in (403, 409)
    shown = summary.model_version(viya)["requests"][0]["gates"][0]
    assert shown["not_relied_on"][0]["created_by"] == "engineer" and not shown["passed"]

    confirmed = clients["approver"].post(f"{LINK}{edge_id}/confirm/", {"reason": "digests match"}, format="json")
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["manual_link"]["confirmed_by"] == "approver"
    passed = clients["engineer"].post(f"{URL}{req['id']}/evaluate/", format="json").json()
    assert passed["blocked_by"] == []
    evidence = _gate(passed)["detail"]["evidence"]
    link = next(e for e in evidence if e.get("edge") == edge_id)
    assert (link["origin"], link["created_by"], link["confirmed_by"]) == ("manual link", "engineer", "approver")
    produced = next(e for e in evidence if e["kind"] == "produced")
    assert produced["src"] == kubeflow["run"].pk and produced["created_by"] == "kubeflow harvest"
    shown = summary.model_version(viya)["requests"][0]["gates"][0]
    assert shown["passed"] and any(e.get("confirmed_by") == "approver" for e in shown["evidence"])

    made_entry = AuditEntry.objects.get(action="lineage.link.same_as")
    confirm_entry = AuditEntry.objects.get(action="lineage.link.same_as.confirm")
    assert made_entry.actor_username == "engineer" and confirm_entry.actor_username == "approver"
    assert confirm_entry.object_id == str(edge_id) and confirm_entry.reason == "digests match"


def test_who_may_confirm(clients, setup):
    kubeflow, viya = setup
    by_admin = clients["admin"].post(LINK, {"src": kubeflow["mv"].pk, "dst": viya.pk, "reason": "x"}, format="json").json()
    url = f"{LINK}{by_admin['id']}/confirm/"
    got = {who: clients[who].post(url, {"reason": "ok"}, format="json").status_code
           for who in ("anonymous", "outsider", "engineer", "auditor")}
    assert got == {"anonymous": 401, "outsider": 403, "engineer": 403, "auditor": 403}
    own = clients["admin"].post(url, {"reason": "mine is right"}, format="json")
    assert own.status_code == 400 and "cannot confirm" in own.json()["detail"]
    refused = AuditEntry.objects.get(action="lineage.link.same_as.confirm_refused")
    assert refused.actor_username == "admin" and "cannot confirm" in refused.reason
    assert clients["approver"].post(url, {"reason": "  "}, format="json").status_code == 400
    assert clients["approver"].post(url, {"reason": "checked"}, format="json").status_code == 200
    assert clients["approver"].post(url, {"reason": "again"}, format="json").status_code == 409
    harvested = Edge.objects.filter(kind="produced").first()
    assert clients["approver"].post(f"{LINK}{harvested.pk}/confirm/", {"reason": "x"}, format="json").status_code == 400
    assert clients["approver"].post(f"{LINK}999999/confirm/", {"reason": "x"}, format="json").status_code == 404


def test_a_colleagues_link_counts_before_submission_but_not_after(clients, setup):
    kubeflow, viya = setup
    colleague = client_for(make_user("colleague", "engineer"))
    # Before the request: another engineer's link is relied on, and named as theirs.
    clients_link = colleague.post(LINK, {"src": kubeflow["mv"].pk, "dst": viya.pk, "reason": "registered it"}, format="json")
    assert clients_link.status_code == 201
    req = clients["engineer"].post(URL, {"node": viya.pk, "target_stage": "staging", "justification": "j",
                                         "submit": True}, format="json").json()
    assert req["blocked_by"] == []
    link = next(e for e in _gate(req)["detail"]["evidence"] if e.get("origin") == "manual link")
    assert link["created_by"] == "colleague" and link["confirmed_by"] is None

    # After submission: a new link, even by someone else, needs a confirmation.
    other = t.node(NodeKind.MODEL_VERSION, "viya-mv-2", source="viya")
    req2 = clients["engineer"].post(URL, {"node": other.pk, "target_stage": "staging", "justification": "j",
                                          "submit": True}, format="json").json()
    assert req2["blocked_by"] == ["producing_run"]
    assert colleague.post(LINK, {"src": kubeflow["mv"].pk, "dst": other.pk, "reason": "late"}, format="json").status_code == 201
    again = clients["engineer"].post(f"{URL}{req2['id']}/evaluate/", format="json").json()
    assert again["blocked_by"] == ["producing_run"]
    assert "made after the request was submitted" in _gate(again)["reason"]
