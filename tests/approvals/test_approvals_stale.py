"""A decision on a request whose model version changed after the request was made is refused."""
import pytest

from tests.support import approvals as t
from governance.approvals.models import Decision
from lineage import store
from lineage.kinds import NodeKind

URL = "/api/promotion-requests/"


@pytest.fixture
def req(db, clients):
    t.open_policy("production", approvals=2)
    mv = t.node(NodeKind.MODEL_VERSION, "credit-v2", {"algorithm": "gbm"})
    body = clients["engineer"].post(URL, {"node": mv.pk, "target_stage": "production", "justification": "j",
                                          "submit": True}, format="json").json()
    return mv, body


def test_a_harvest_that_only_sees_the_model_again_does_not_make_it_stale(clients, req):
    mv, body = req
    store.apply([store.NodeFact(key=store.NodeKey(mv.source, mv.kind, mv.source_id), name=mv.name,
                                properties={"algorithm": "gbm"})])
    assert clients["approver"].post(f"{URL}{body['id']}/approve/", {}, format="json").status_code == 200


def test_changed_properties_make_the_request_stale_and_decisions_are_refused(clients, req):
    mv, body = req
    assert clients["approver"].post(f"{URL}{body['id']}/approve/", {}, format="json").status_code == 200
    store.apply([store.NodeFact(key=store.NodeKey(mv.source, mv.kind, mv.source_id), name=mv.name,
                                properties={"algorithm": "gbm", "retrained": True})])
    r = clients["admin"].post(f"{URL}{body['id']}/approve/", {}, format="json")
    assert r.status_code == 409
    detail = r.json()["detail"]
    assert detail.startswith("Stale request") and "changed after request" in detail
    assert "properties_sha256" in r.json()["changed"]
    shown = clients["auditor"].get(f"{URL}{body['id']}/").json()
    assert shown["stale"] is True and shown["state"] == "pending" and shown["approvals"] == 1
    assert clients["admin"].post(f"{URL}{body['id']}/reject/", {"comment": "stale"}, format="json").status_code == 409
    assert Decision.objects.count() == 1
    # The way forward: withdraw and request again, which takes the new fingerprint.
    clients["engineer"].post(f"{URL}{body['id']}/withdraw/", {"reason": "model retrained"}, format="json")
    again = clients["engineer"].post(URL, {"node": mv.pk, "target_stage": "production", "justification": "j2",
                                           "submit": True}, format="json").json()
    assert again["fingerprint"] != body["fingerprint"] and again["stale"] is False
