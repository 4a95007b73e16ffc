"""Every lineage read endpoint: any role reads, an outsider (no role) gets 403, anonymous 401, writes 405/403."""
import pytest

from lineage import store
from lineage.models import Edge, Node, RawRecord

ROLES = ("engineer", "auditor", "approver", "admin")


@pytest.fixture
def one_of_each(db):
    raw = store.RawPayload(source="manual", kind="manual.note", source_id="n1", body={"said": "hello"})
    src, dst = store.NodeKey("manual", "job", "j"), store.NodeKey("manual", "run", "r")
    store.apply([store.NodeFact(key=src, name="j", raw=raw), store.NodeFact(key=dst, name="r"),
                 store.EdgeFact(kind="instance_of", src=src, dst=dst, source="manual", raw=raw)])
    return {"node": Node.objects.get(name="j").pk, "run": Node.objects.get(name="r").pk,
            "edge": Edge.objects.get().pk, "raw": RawRecord.objects.get().pk}


def endpoints(ids):
    n, r = ids["node"], ids["run"]
    return [
        "/api/nodes/", f"/api/nodes/{n}/", f"/api/nodes/{n}/lineage/", f"/api/nodes/{n}/path/?to={r}",
        "/api/jobs/", f"/api/jobs/{n}/", "/api/runs/", "/api/datasets/", "/api/dataset-versions/",
        "/api/artifacts/", "/api/models/", "/api/model-versions/", "/api/deployments/", "/api/projects/",
        "/api/repositories/", "/api/edges/", f"/api/edges/{ids['edge']}/", "/api/raw-records/",
        f"/api/raw-records/{ids['raw']}/",
    ]


# One test per outcome rather than per role: creating the users (password hashing) dominates the run time.
def test_every_role_reads_every_endpoint(clients, one_of_each):
    for role in ROLES:
        for url in endpoints(one_of_each):
            response = clients[role].get(url)
            assert response.status_code == 200, (role, url, response.content[:200])


def test_outsiders_and_anonymous_are_refused_with_json(clients, one_of_each):
    for who, status in (("outsider", 403), ("anonymous", 401)):
        for url in endpoints(one_of_each):
            response = clients[who].get(url)
            assert response.status_code == status, (who, url)
            assert response.json()["error"] == ("not_authenticated" if status == 401 else "permission_denied")
    assert clients["anonymous"].get("/api/nodes/")["WWW-Authenticate"].startswith("Bearer")


def test_nobody_writes_lineage_through_rest(clients, one_of_each):
    n = one_of_each["node"]
    before = (Node.objects.count(), Edge.objects.count(), Node.objects.get(pk=n).name)
    writes = (("post", "/api/nodes/"), ("put", f"/api/nodes/{n}/"), ("patch", f"/api/nodes/{n}/"),
              ("delete", f"/api/nodes/{n}/"), ("post", "/api/edges/"), ("delete", f"/api/edges/{one_of_each['edge']}/"),
              ("delete", f"/api/raw-records/{one_of_each['raw']}/"), ("post", f"/api/nodes/{n}/lineage/"))
    for role, (method, url) in ((role, w) for role in ROLES for w in writes):
        response = getattr(clients[role], method)(url, {"name": "changed"}, format="json")
        assert response.status_code in (403, 405), (role, method, url, response.status_code)
    assert (Node.objects.count(), Edge.objects.count(), Node.objects.get(pk=n).name) == before
