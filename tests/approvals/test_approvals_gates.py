"""Each gate passing and failing on small lineage graphs, and the admin override that lets a failing gate
through (audited, and shown on the request forever)."""
import sys

import pytest

from governance.approvals import gates
from tests.support import approvals as t
from governance.approvals.models import GateOverride
from governance.audit.models import AuditEntry
from lineage.kinds import EdgeKind, NodeKind

URL = "/api/promotion-requests/"

ALL_ON = {"require_producing_run": True, "max_training_hops": 2, "forbid_failed_runs": True,
          "required_metrics": {"accuracy": {">=": 0.8}}, "require_evidence_archived": False}


def check(node, **policy):
    return {g.gate: g for g in gates.evaluate(node, policy)}


@pytest.mark.django_db
def test_producing_run_found_directly_and_through_a_same_as_origin_and_missing_otherwise():
    g = t.trained_model("a")
    assert check(g["mv"], require_producing_run=True)["producing_run"].passed
    # A Viya copy of the Kubeflow model: produced by the Kubeflow run through same_as.
    copy = t.node(NodeKind.MODEL_VERSION, "a-viya", source="viya")
    t.edge(EdgeKind.SAME_AS, g["mv"], copy)
    result = check(copy, require_producing_run=True)["producing_run"]
    assert result.passed and result.detail["runs"][0]["run"] == g["run"].pk
    lonely = t.node(NodeKind.MODEL_VERSION, "lonely")
    result = check(lonely, require_producing_run=True)["producing_run"]
    assert not result.passed and "No run produced" in result.reason


@pytest.mark.django_db
def test_producing_run_into_the_model_it_versions_counts():
    run = t.node(NodeKind.RUN, "r")
    model = t.node(NodeKind.MODEL, "model")
    mv = t.node(NodeKind.MODEL_VERSION, "model-v1")
    t.edge(EdgeKind.VERSION_OF, mv, model)
    t.edge(EdgeKind.PRODUCED, run, model)
    assert check(mv, require_producing_run=True)["producing_run"].passed


@pytest.mark.django_db
def test_training_data_within_n_hops_passes_and_beyond_fails():
    g = t.trained_model("b")  # data -> run -> mv: the dataset is 2 hops upstream
    near = check(g["mv"], max_training_hops=2)["training_data"]
    assert near.passed and near.detail["datasets"][0]["hops"] == 2
    far = check(g["mv"], max_training_hops=1)["training_data"]
    assert not far.passed and "within 1 hops" in far.reason
    # A dataset downstream of the model (e.g. its scores) is not training data.
    scored = t.node(NodeKind.DATASET, "scores")
    bare_run = t.node(NodeKind.RUN, "scoring")
    mv = t.node(NodeKind.MODEL_VERSION, "b2")
    t.edge(EdgeKind.CONSUMED, mv, bare_run)
    t.edge(EdgeKind.PRODUCED, bare_run, scored)
    assert not check(mv, max_training_hops=5)["training_data"].passed


@pytest.mark.django_db
def test_metrics_from_the_model_versions_own_properties():
    mv = t.node(NodeKind.MODEL_VERSION, "c", {"metrics": {"accuracy": 0.93}, "auc": "0.7"})
    ok = check(mv, required_metrics={"accuracy": {">=": 0.8}})["metrics"]
    assert ok.passed and ok.detail["found"]["accuracy"]["value"] == 0.93
    low = check(mv, required_metrics={"auc": {">=": 0.8}})["metrics"]
    assert not low.passed and "auc = 0.7 is not >= 0.8" in low.reason


@pytest.mark.django_db
def test_metrics_from_a_metrics_node_the_training_run_produced():
    g = t.trained_model("d", metrics={"accuracy": 0.91, "loss": 0.2})
    ok = check(g["mv"], required_metrics={"accuracy": {">=": 0.8}, "loss": {"<": 0.3}})["metrics"]
    assert ok.passed and ok.detail["found"]["accuracy"]["node"] == g["metrics"].pk
    bad = check(g["mv"], required_metrics={"accuracy": {">=": 0.95}})["metrics"]
    assert not bad.passed and "accuracy = 0.91 is not >= 0.95" in bad.reason


@pytest.mark.django_db
def test_metrics_from_an_evaluation_run_that_consumed_the_model():
    mv = t.node(NodeKind.MODEL_VERSION, "e")
    evaluation = t.node(NodeKind.RUN, "e-eval")
    m = t.node(NodeKind.METRICS, "e-metrics", {"f1": 0.85})
    t.edge(EdgeKind.CONSUMED, mv, evaluation)
    t.edge(EdgeKind.PRODUCED, evaluation, m)
    assert check(mv, required_metrics={"f1": {">": 0.8}})["metrics"].passed


@pytest.mark.django_db
def test_a_non_finite_metric_value_counts_as_missing_and_is_stored_safely(clients):
    t.set_policy("staging", require_producing_run=False, max_training_hops=None, forbid_failed_runs=False,
                 required_metrics={"accuracy": {">=": 0.8}}, require_evidence_archived=False)
    mv = t.node(NodeKind.MODEL_VERSION, "nan-mv", {"metrics": {"accuracy": "NaN"}, "accuracy": "inf"})
    result = check(mv, required_metrics={"accuracy": {">=": 0.8}})["metrics"]
    assert not result.passed and "not found: accuracy" in result.reason
    r = clients["engineer"].post(URL, {"node": mv.pk, "target_stage": "staging", "justification": "j",
                                       "submit": True}, format="json")
    assert r.status_code == 201 and r.json()["blocked_by"] == ["metrics"]


@pytest.mark.django_db
def test_missing_metric_fails_and_names_it():
    g = t.trained_model("f", metrics={"accuracy": 0.9})
    result = check(g["mv"], required_metrics={"precision": {">=": 0.5}})["metrics"]
    assert not result.passed and result.reason.startswith("Metric(s) not found: precision")


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["FAILED", "FAIL", "failed"])
def test_a_failed_run_anywhere_upstream_fails_the_provenance_gate(state):
    g = t.trained_model("g")
    prep = t.node(NodeKind.RUN, "g-prep", {"state": state})
    t.edge(EdgeKind.PRODUCED, prep, g["data"])
    result = check(g["mv"], forbid_failed_runs=True)["no_failed_run"]
    assert not result.passed and "g-prep" in result.reason
    assert result.detail["failed"][0]["node"] == prep.pk


@pytest.mark.django_db
def test_succeeded_provenance_passes_and_a_failed_run_downstream_does_not_count():
    g = t.trained_model("h")
    later = t.node(NodeKind.RUN, "h-batch-score", {"state": "FAILED"})
    t.edge(EdgeKind.CONSUMED, g["mv"], later)
    result = check(g["mv"], forbid_failed_runs=True)["no_failed_run"]
    assert result.passed and result.detail["runs_checked"] == 1


@pytest.mark.django_db
def test_evidence_gate_fails_visibly_when_the_archive_service_is_missing(monkeypatch):
    mv = t.node(NodeKind.MODEL_VERSION, "i")
    monkeypatch.setitem(sys.modules, "governance.archive.services", None)  # import raises ImportError
    result = check(mv, require_evidence_archived=True)["evidence_archived"]
    assert not result.passed and result.reason == "archive service unavailable"


@pytest.mark.django_db
def test_evidence_gate_asks_the_archive_for_a_bundle():
    pytest.importorskip("governance.archive.services", reason="archive service not installed")
    from governance.archive.models import EvidenceBundle

    mv = t.node(NodeKind.MODEL_VERSION, "j")
    result = check(mv, require_evidence_archived=True)["evidence_archived"]
    assert not result.passed and "No evidence bundle" in result.reason
    EvidenceBundle.objects.create(sha256="0" * 64, storage_key="x", size=1, format_version=1, node=mv,
                                  subject_source=mv.source, subject_kind=mv.kind, subject_source_id=mv.source_id,
                                  depth=1)
    assert check(mv, require_evidence_archived=True)["evidence_archived"].passed


@pytest.mark.django_db
def test_gates_switched_off_are_not_on_the_checklist():
    mv = t.node(NodeKind.MODEL_VERSION, "k")
    assert gates.evaluate(mv, {"require_producing_run": False, "max_training_hops": None, "required_metrics": {},
                               "forbid_failed_runs": False, "require_evidence_archived": False}) == []


def test_metric_rules_are_validated():
    gates.validate_metric_rules({"accuracy": {">=": 0.8, "<": 1}})
    for bad in ([], {"a": {}}, {"a": {">=": float("nan")}}, {"a": {"~": 1}}, {"a": {">=": "high"}}, {"a": {">=": True}}, {"": {">": 1}}):
        with pytest.raises(ValueError):
            gates.validate_metric_rules(bad)


@pytest.mark.django_db
def test_the_request_shows_the_checklist_and_a_failing_gate_blocks_approval(clients):
    t.set_policy("staging", **ALL_ON, required_approvals=1)
    g = t.trained_model("l", metrics={"accuracy": 0.7})
    req = clients["engineer"].post(URL, {"node": g["mv"].pk, "target_stage": "staging", "justification": "try",
                                         "submit": True}, format="json").json()
    checklist = {x["gate"]: x for x in req["gates"]}
    assert set(checklist) == {"producing_run", "training_data", "metrics", "no_failed_run"}
    assert checklist["producing_run"]["passed"] and not checklist["metrics"]["passed"]
    assert req["blocked_by"] == ["metrics"]
    r = clients["approver"].post(f"{URL}{req['id']}/approve/", {}, format="json")
    assert r.status_code == 409 and r.json()["blocked_by"] == ["metrics"]
    assert "accuracy = 0.7 is not >= 0.8" in r.json()["detail"]
    assert clients["auditor"].get(f"{URL}{req['id']}/").json()["state"] == "pending"
    # Rejecting does not need the gates to pass.
    r = clients["approver"].post(f"{URL}{req['id']}/reject/", {"comment": "accuracy too low"}, format="json")
    assert r.json()["state"] == "rejected"


@pytest.mark.django_db
def test_admin_override_with_a_reason_unblocks_and_stays_on_record(clients):
    t.set_policy("staging", **ALL_ON, required_approvals=1)
    g = t.trained_model("m", metrics={"accuracy": 0.7})
    req = clients["engineer"].post(URL, {"node": g["mv"].pk, "target_stage": "staging", "justification": "try",
                                         "submit": True}, format="json").json()
    url = f"{URL}{req['id']}/override/"
    assert clients["approver"].post(url, {"gate": "metrics", "reason": "x"}, format="json").status_code == 403
    assert clients["admin"].post(url, {"gate": "metrics", "reason": "  "}, format="json").status_code == 400
    assert clients["admin"].post(url, {"gate": "bogus", "reason": "x"}, format="json").status_code == 400
    assert clients["admin"].post(url, {"gate": "evidence_archived", "reason": "x"}, format="json").status_code == 400
    assert not GateOverride.objects.exists()
    r = clients["admin"].post(url, {"gate": "metrics", "reason": "Shadow test showed 0.82 on fresh data"},
                              format="json")
    assert r.status_code == 201 and r.json()["blocked_by"] == []
    assert clients["admin"].post(url, {"gate": "metrics", "reason": "again"}, format="json").status_code == 409
    entry = AuditEntry.objects.get(action="promotion.gate_override")
    assert entry.actor_username == "admin" and entry.reason == "Shadow test showed 0.82 on fresh data"
    assert entry.before["passed"] is False and entry.object_id == str(req["id"])
    done = clients["approver"].post(f"{URL}{req['id']}/approve/", {}, format="json").json()
    assert done["state"] == "executed"
    assert done["gate_overrides"][0]["reason"] == "Shadow test showed 0.82 on fresh data"
    assert done["gate_overrides"][0]["actor"] == "admin"
    history = clients["auditor"].get(f"/api/model-versions/{g['mv'].pk}/stage-history/").json()
    assert history["history"][0]["evidence"]["overrides"][0]["gate"] == "metrics"


@pytest.mark.django_db
def test_admin_cannot_override_gates_on_their_own_request(clients):
    t.set_policy("staging", **ALL_ON)
    g = t.trained_model("n", metrics={"accuracy": 0.1})
    req = clients["admin"].post(URL, {"node": g["mv"].pk, "target_stage": "staging", "justification": "mine",
                                      "submit": True}, format="json").json()
    r = clients["admin"].post(f"{URL}{req['id']}/override/", {"gate": "metrics", "reason": "trust me"}, format="json")
    assert r.status_code == 403


@pytest.mark.django_db
def test_reevaluation_sees_lineage_that_arrived_after_submission(clients):
    t.set_policy("staging", require_producing_run=True, max_training_hops=None, forbid_failed_runs=False,
                 required_metrics={}, require_evidence_archived=False)
    mv = t.node(NodeKind.MODEL_VERSION, "o")
    req = clients["engineer"].post(URL, {"node": mv.pk, "target_stage": "staging", "justification": "j",
                                         "submit": True}, format="json").json()
    assert req["blocked_by"] == ["producing_run"]
    t.edge(EdgeKind.PRODUCED, t.node(NodeKind.RUN, "o-run"), mv)
    again = clients["engineer"].post(f"{URL}{req['id']}/evaluate/", format="json").json()
    assert again["blocked_by"] == [] and again["gates"][0]["evaluation"] == 2
