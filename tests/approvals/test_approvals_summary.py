"""The read-only summary the dashboard shows: versions per stage, pending counts, one version's story."""
import pytest

from governance.approvals import summary
from tests.support import approvals as t
from lineage.kinds import NodeKind

URL = "/api/promotion-requests/"


@pytest.mark.django_db
def test_summary_counts_stages_pending_and_tells_one_versions_story(clients, users):
    t.open_policy("staging", approvals=1)
    t.open_policy("production", approvals=2, require_producing_run=True)
    a, b = t.node(NodeKind.MODEL_VERSION, "sum-a"), t.node(NodeKind.MODEL_VERSION, "sum-b")
    assert summary.stage_counts() == {"none": 2} and summary.pending_count() == 0
    req = clients["engineer"].post(URL, {"node": a.pk, "target_stage": "staging", "justification": "j",
                                         "submit": True}, format="json").json()
    clients["approver"].post(f"{URL}{req['id']}/approve/", {}, format="json")
    pending = clients["engineer"].post(URL, {"node": a.pk, "target_stage": "production", "justification": "p",
                                             "submit": True}, format="json").json()
    assert summary.stage_counts() == {"staging": 1, "none": 1}
    assert summary.pending_count() == 1
    assert summary.pending_for(users["approver"]) == [pending["id"]]
    assert summary.pending_for(users["engineer"]) == []
    story = summary.model_version(a, users["approver"])
    assert story["stage"] == "staging" and [h["stage"] for h in story["history"]] == ["staging"]
    assert [r["state"] for r in story["requests"]] == ["pending", "executed"]
    assert story["requests"][0]["may_decide"] is True
    assert story["gates"][0]["gate"] == "producing_run" and story["gates"][0]["passed"] is False
    assert summary.model_version(a, users["engineer"])["requests"][0]["may_decide"] is False
    assert summary.model_version(b)["stage"] is None
