"""Current stage and full stage history of a model version: who promoted what, when, approved by whom, on
which evidence."""
import pytest

from tests.support import approvals as t
from governance.audit.models import AuditEntry
from lineage.kinds import NodeKind

URL = "/api/promotion-requests/"


def promote(clients, mv, stage, approvers=("approver",)):
    req = clients["engineer"].post(URL, {"node": mv.pk, "target_stage": stage, "justification": f"to {stage}",
                                         "submit": True}, format="json").json()
    for name in approvers:
        r = clients[name].post(f"{URL}{req['id']}/approve/", {"comment": f"{name} ok"}, format="json")
        assert r.status_code == 200, r.content
    return req


@pytest.mark.django_db
def test_history_records_each_promotion_and_the_current_stage(clients):
    t.open_policy("staging", approvals=1)
    t.open_policy("production", approvals=2, forbid_failed_runs=True, require_producing_run=True)
    g = t.trained_model("hist")
    mv = g["mv"]
    history_url = f"/api/model-versions/{mv.pk}/stage-history/"
    assert clients["auditor"].get(history_url).json() == {
        "node": mv.pk, "node_name": "hist-mv", "current_stage": None, "history": [], "requests": []}

    first = promote(clients, mv, "staging")
    second = promote(clients, mv, "production", approvers=("approver", "admin"))
    shown = clients["auditor"].get(history_url).json()
    assert shown["current_stage"] == "production"
    staging, production = shown["history"]
    assert (staging["stage"], staging["from_stage"], staging["current"]) == ("staging", None, False)
    assert staging["superseded_at"] == production["assigned_at"]
    assert (production["stage"], production["from_stage"], production["current"]) == ("production", "staging", True)
    assert production["requested_by"] == "engineer" and production["approved_by"] == ["approver", "admin"]
    assert production["request"] == second["id"] and staging["request"] == first["id"]
    evidence = production["evidence"]
    assert {g["gate"]: g["passed"] for g in evidence["gates"]} == {"producing_run": True, "no_failed_run": True}
    assert [d["actor"] for d in evidence["decisions"]] == ["approver", "admin"]
    assert evidence["justification"] == "to production" and evidence["fingerprint"] == second["fingerprint"]
    assert [r["state"] for r in shown["requests"]] == ["executed", "executed"]

    current = clients["engineer"].get("/api/stage-assignments/?current=true").json()["results"]
    assert [(a["node"], a["stage"]) for a in current] == [(mv.pk, "production")]
    everything = clients["engineer"].get(f"/api/stage-assignments/?node={mv.pk}").json()["results"]
    assert len(everything) == 2
    assign = AuditEntry.objects.filter(action="stage.assign", object_id=str(mv.pk)).order_by("seq")
    assert [(e.before["stage"], e.after["stage"]) for e in assign] == [(None, "staging"), ("staging", "production")]


@pytest.mark.django_db
def test_decisions_are_listed_and_cannot_be_changed(clients):
    t.open_policy("staging", approvals=1)
    mv = t.node(NodeKind.MODEL_VERSION, "dec")
    req = promote(clients, mv, "staging")
    rows = clients["auditor"].get(f"/api/promotion-decisions/?request={req['id']}").json()["results"]
    assert [(d["actor"], d["decision"], d["comment"]) for d in rows] == [("approver", "approve", "approver ok")]
    for method in ("put", "patch", "delete"):
        r = getattr(clients["admin"], method)(f"/api/promotion-decisions/{rows[0]['id']}/", {}, format="json")
        assert r.status_code == 405


@pytest.mark.django_db
def test_stage_history_of_something_else_is_a_clear_error(clients):
    run = t.node(NodeKind.RUN, "not-a-model")
    r = clients["auditor"].get(f"/api/model-versions/{run.pk}/stage-history/")
    assert r.status_code == 400 and "not a model version" in str(r.json()["detail"])
    assert clients["auditor"].get("/api/model-versions/987654/stage-history/").status_code == 404
    assert clients["outsider"].get(f"/api/model-versions/{run.pk}/stage-history/").status_code == 403


@pytest.mark.django_db
def test_evidence_rows_refuse_to_be_rewritten_or_deleted(clients):
    from governance.approvals.models import Decision, GateResult

    t.open_policy("staging", approvals=1, require_producing_run=True)
    g = t.trained_model("imm")
    promote(clients, g["mv"], "staging")
    decision = Decision.objects.get()
    decision.comment = "rewritten"
    with pytest.raises(PermissionError):
        decision.save()
    with pytest.raises(PermissionError):
        decision.delete()
    with pytest.raises(PermissionError):
        GateResult.objects.first().delete()
    assert Decision.objects.get().comment == "approver ok"
