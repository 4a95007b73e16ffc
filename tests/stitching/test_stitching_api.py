"""POST /api/links/same-as/: admins and engineers link two platforms' nodes with a reason; audited;
idempotent; bad input is a 400 that changes nothing; other roles are refused."""
from __future__ import annotations

import pytest

from governance.audit.models import AuditEntry
from lineage import graph, store
from lineage.models import Edge, Node

pytestmark = pytest.mark.django_db
URL = "/api/links/same-as/"


@pytest.fixture
def nodes():
    kf_data = store.NodeKey("kubeflow", "dataset", "kfp.local/artifact/1")
    kf_model = store.NodeKey("kubeflow", "model_version", "kfp.local/artifact/2")
    kf_run = store.NodeKey("kubeflow", "run", "kfp.local/execution/3")
    viya = store.NodeKey("viya", "model_version", "viya.local/model/m1/version/1.0")
    project = store.NodeKey("viya", "project", "viya.local/project/p1")
    store.apply([store.NodeFact(k, name=k.source_id) for k in (kf_data, kf_model, kf_run, viya, project)] + [
        store.EdgeFact("consumed", kf_data, kf_run, "kubeflow"), store.EdgeFact("produced", kf_run, kf_model, "kubeflow")])
    return {name: Node.objects.get(source_id=k.source_id) for name, k in
            {"data": kf_data, "kf": kf_model, "run": kf_run, "viya": viya, "project": project}.items()}


@pytest.mark.parametrize("role", ["admin", "engineer"])
def test_link_is_created_audited_and_joins_the_lineage(clients, nodes, role):
    answer = clients[role].post(URL, {"src": nodes["kf"].pk, "dst": nodes["viya"].pk, "reason": "same pickle"}, format="json")
    assert answer.status_code == 201, answer.content
    edge = Edge.objects.get(kind="same_as")
    assert (edge.src, edge.dst, edge.properties["method"]) == (nodes["kf"], nodes["viya"], "explicit")
    assert answer.json()["id"] == edge.pk
    entry = AuditEntry.objects.get(action="lineage.link.same_as")
    assert entry.actor_username == role and entry.reason == "same pickle" and entry.object_id == str(edge.pk)
    upstream = {n.pk for n in graph.lineage([nodes["viya"].pk], direction="upstream").nodes}
    assert nodes["data"].pk in upstream

    again = clients[role].post(URL, {"src": nodes["kf"].pk, "dst": nodes["viya"].pk, "reason": "again"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == edge.pk
    assert Edge.objects.filter(kind="same_as").count() == 1
    assert AuditEntry.objects.filter(action="lineage.link.same_as").count() == 1


@pytest.mark.parametrize("who, status", [("auditor", 403), ("approver", 403), ("outsider", 403), ("anonymous", 401)])
def test_other_roles_are_refused(clients, nodes, who, status):
    answer = clients[who].post(URL, {"src": nodes["kf"].pk, "dst": nodes["viya"].pk, "reason": "x"}, format="json")
    assert answer.status_code == status
    assert not Edge.objects.filter(kind="same_as").exists()


@pytest.mark.parametrize("payload, needle", [
    (lambda n: {"src": n["kf"].pk, "dst": n["viya"].pk}, "reason"),
    (lambda n: {"src": n["kf"].pk, "dst": n["viya"].pk, "reason": "   "}, "reason"),
    (lambda n: {"src": 999999, "dst": n["viya"].pk, "reason": "x"}, "src"),
    (lambda n: {"src": n["kf"].pk, "dst": n["kf"].pk, "reason": "x"}, "itself"),
    (lambda n: {"src": n["kf"].pk, "dst": n["project"].pk, "reason": "x"}, "project"),
    (lambda n: {"src": n["run"].pk, "dst": n["viya"].pk, "reason": "x"}, "run"),
    (lambda n: {"src": n["data"].pk, "dst": n["kf"].pk, "reason": "x"}, "dataset"),
])
def test_bad_input_is_a_clear_400_and_changes_nothing(clients, nodes, payload, needle):
    entries = AuditEntry.objects.count()
    answer = clients["engineer"].post(URL, payload(nodes), format="json")
    assert answer.status_code == 400
    assert needle in answer.content.decode()
    assert not Edge.objects.filter(kind="same_as").exists()
    assert AuditEntry.objects.count() == entries


def test_same_platform_is_refused(clients, nodes):
    other = store.NodeKey("kubeflow", "model_version", "kfp.local/artifact/9")
    store.apply([store.NodeFact(other, name="other")])
    answer = clients["engineer"].post(URL, {"src": nodes["kf"].pk, "dst": Node.objects.get(source_id=other.source_id).pk,
                                            "reason": "x"}, format="json")
    assert answer.status_code == 400 and "two platforms" in answer.json()["detail"]
