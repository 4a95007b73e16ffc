"""Bundles carry the model version's promotion requests, decisions and gate results, with their audit
entries; the approvals app's "evidence archived" gate follows has_bundle; promoted versions are governed."""
import io
import json
import zipfile

import pytest

from governance.approvals import services as approvals
from governance.approvals.models import Stage
from tests.support.approvals import open_policy, set_policy
from governance.archive import retention, services
from devtools.archive_sample import make_model_lineage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def _docs(bundle):
    zf = zipfile.ZipFile(io.BytesIO(services.bundle_bytes(bundle)))
    return json.loads(zf.read("governance.json")), json.loads(zf.read("audit.json")), zf.read("report.html").decode()


def test_governance_records_and_their_audit_entries_are_bundled(users):
    mv = make_model_lineage("gv", upstream=10)
    other = make_model_lineage("gv-other", upstream=5)
    open_policy("staging")
    set_policy("staging", require_evidence_archived=True)
    staging = Stage.objects.get(name="staging")
    req = approvals.create_request(users["engineer"], node=mv, target_stage=staging, justification="ready", submit=True)
    approvals.create_request(users["engineer"], node=other, target_stage=staging, justification="not this one")
    gates = {g.gate: g.passed for g in approvals.latest_gates(req)}
    assert gates["evidence_archived"] is False

    first = services.build_bundle(mv, users["auditor"])
    gov, audit, report = _docs(first)
    models = {r["model"] for r in gov["records"]}
    assert gov["available"] and "approvals.promotionrequest" in models and "approvals.gateresult" in models
    requests = [r for r in gov["records"] if r["model"] == "approvals.promotionrequest"]
    assert [r["pk"] for r in requests] == [req.pk]  # not the other model version's request
    actions = {(e["action"], e["object_type"], e["object_id"]) for e in audit["entries"] if e["seq"] in audit["of_interest"]}
    assert ("promotion.create", "promotion_request", str(req.pk)) in actions
    assert ("promotion.submit", "promotion_request", str(req.pk)) in actions
    assert "approvals.promotionrequest" in report

    approvals.evaluate_gates(users["engineer"], req.pk)
    req.refresh_from_db()
    assert {g.gate: g.passed for g in approvals.latest_gates(req)}["evidence_archived"] is True
    approvals.decide(users["approver"], req.pk, "approve", "looks good")

    second = services.build_bundle(mv, users["auditor"])
    gov, audit, _ = _docs(second)
    models = {r["model"] for r in gov["records"]}
    assert "approvals.decision" in models
    of_interest = {(e["action"], e["object_type"]) for e in audit["entries"] if e["seq"] in audit["of_interest"]}
    assert ("bundle.create", "evidence_bundle") in of_interest  # the earlier bundle of this subject
    assert any(a.startswith("promotion.decision") for a, _ in of_interest)
    assert services.verify_bundle(second)["ok"]

    # A version with a promotion request is governed: what it was built from is kept live.
    assert mv.pk in retention.governed_model_versions()
