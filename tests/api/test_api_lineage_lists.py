"""Node, per-kind, edge and raw-record lists: django-filter filters, text search, cursor pagination;
node detail with revisions and properties as of a time; raw record detail with the source payload."""
import datetime as dt

import pytest

from lineage import store
from lineage.models import Edge, Node, RawRecord
from tests.conftest import client_for, make_user

T = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)


def hours(n):
    return T + dt.timedelta(hours=n)


@pytest.fixture
def api(db):
    return client_for(make_user("reader", "engineer"))


@pytest.fixture
def store_rows(db):
    facts = []
    for i in range(7):
        facts.append(store.NodeFact(key=store.NodeKey("openlineage", "dataset", f"lake:sales_{i}"), namespace="lake",
                                    name=f"sales_{i}", seen_at=hours(i)))
    facts += [
        store.NodeFact(key=store.NodeKey("kubeflow", "job", "pipe-1"), name="Churn pipeline", seen_at=hours(1),
                       display_name="churn-training"),
        store.NodeFact(key=store.NodeKey("kubeflow", "run", "run-1"), name="run-1", seen_at=hours(2),
                       properties={"state": "RUNNING"},
                       raw=store.RawPayload("kubeflow", "kfp.run", "run-1", {"run_id": "run-1", "state": "RUNNING"})),
        store.NodeFact(key=store.NodeKey("viya", "model", "m-1"), name="Churn model", seen_at=hours(3)),
        store.NodeFact(key=store.NodeKey("viya", "model_version", "m-1:1"), name="Churn model 1.0", seen_at=hours(4)),
        store.NodeFact(key=store.NodeKey("viya", "deployment", "d-1"), name="churn-scoring", seen_at=hours(5)),
        store.EdgeFact(kind="instance_of", src=store.NodeKey("kubeflow", "job", "pipe-1"),
                       dst=store.NodeKey("kubeflow", "run", "run-1"), source="kubeflow", valid_from=hours(2)),
        store.EdgeFact(kind="version_of", src=store.NodeKey("viya", "model_version", "m-1:1"),
                       dst=store.NodeKey("viya", "model", "m-1"), source="viya", valid_from=hours(4)),
        store.EdgeFact(kind="deployed_as", src=store.NodeKey("viya", "model_version", "m-1:1"),
                       dst=store.NodeKey("viya", "deployment", "d-1"), source="viya", valid_from=hours(5)),
    ]
    store.apply(facts, now=T)
    # The run finishes: its properties change (a new revision) and the deployment edge is closed.
    store.apply([store.NodeFact(key=store.NodeKey("kubeflow", "run", "run-1"), name="run-1", seen_at=hours(6),
                                properties={"state": "SUCCEEDED"},
                                raw=store.RawPayload("kubeflow", "kfp.run", "run-1", {"run_id": "run-1", "state": "SUCCEEDED"})),
                 store.EdgeClose(kind="deployed_as", src=store.NodeKey("viya", "model_version", "m-1:1"),
                                 dst=store.NodeKey("viya", "deployment", "d-1"), at=hours(7))], now=T)
    Node.objects.filter(name="sales_6").update(archived_at=hours(8))
    return {n.name: n.pk for n in Node.objects.all()}


def listed(api, url, **query):
    response = api.get(url, query)
    assert response.status_code == 200, response.content[:300]
    return [item["name"] if "name" in item else item["id"] for item in response.json()["results"]]


def test_node_filters(api, store_rows):
    assert set(listed(api, "/api/nodes/", kind="model_version")) == {"Churn model 1.0"}
    assert set(listed(api, "/api/nodes/", kind=["model", "deployment"])) == {"Churn model", "churn-scoring"}
    assert len(listed(api, "/api/nodes/", source="openlineage")) == 7
    assert listed(api, "/api/nodes/", source="kubeflow", source_id="run-1") == ["run-1"]
    assert len(listed(api, "/api/nodes/", namespace="lake")) == 7
    assert listed(api, "/api/nodes/", name="sales_3") == ["sales_3"]
    assert set(listed(api, "/api/nodes/", namespace="lake", first_seen_after=hours(5).isoformat())) == {"sales_5", "sales_6"}
    assert set(listed(api, "/api/nodes/", namespace="lake", first_seen_before=hours(1).isoformat())) == {"sales_0", "sales_1"}
    assert "run-1" in listed(api, "/api/nodes/", last_seen_after=hours(6).isoformat())
    assert listed(api, "/api/nodes/", archived="true") == ["sales_6"]
    assert "sales_6" not in listed(api, "/api/nodes/", archived="false", namespace="lake")


def test_bad_filter_values_are_400(api, store_rows):
    for query in ({"kind": "spaceship"}, {"first_seen_after": "last tuesday"}, {"archived": "maybe"}):
        response = api.get("/api/nodes/", query)
        assert response.status_code == 400, query
        assert response.json()["error"]


def test_text_search_by_q_and_search(api, store_rows):
    assert set(listed(api, "/api/nodes/", q="churn")) == {"Churn pipeline", "Churn model", "Churn model 1.0", "churn-scoring"}
    assert set(listed(api, "/api/nodes/", search="CHURN model")) == {"Churn model", "Churn model 1.0"}
    assert listed(api, "/api/nodes/", q="churn-training") == ["Churn pipeline"]  # display name
    assert listed(api, "/api/nodes/", q="m-1:1") == ["Churn model 1.0"]  # the source's id
    assert listed(api, "/api/models/", q="churn") == ["Churn model"]


def test_per_kind_lists_show_only_their_kind(api, store_rows):
    assert listed(api, "/api/jobs/") == ["Churn pipeline"]
    assert listed(api, "/api/runs/") == ["run-1"]
    assert len(listed(api, "/api/datasets/")) == 7
    assert listed(api, "/api/models/") == ["Churn model"]
    assert listed(api, "/api/model-versions/") == ["Churn model 1.0"]
    assert listed(api, "/api/deployments/") == ["churn-scoring"]
    assert listed(api, "/api/dataset-versions/") == []
    assert api.get(f"/api/jobs/{store_rows['run-1']}/").status_code == 404  # a run is not a job
    assert api.get(f"/api/runs/{store_rows['run-1']}/").json()["name"] == "run-1"


def test_cursor_pagination_walks_every_row_once(api, store_rows):
    seen, url, pages = [], "/api/nodes/?page_size=3", 0
    while url:
        body = api.get(url).json()
        assert "count" not in body  # cursor pagination: no COUNT(*) over millions of rows
        seen += [item["id"] for item in body["results"]]
        url, pages = body["next"], pages + 1
    assert pages == 4 and len(seen) == 12 and len(set(seen)) == 12
    assert seen == sorted(seen, reverse=True)  # newest first
    assert api.get("/api/nodes/", {"cursor": "garbage"}).status_code == 404


def test_edge_filters(api, store_rows):
    def edges(**query):
        response = api.get("/api/edges/", query)
        assert response.status_code == 200
        return sorted(e["kind"] for e in response.json()["results"])

    assert edges() == ["deployed_as", "instance_of", "version_of"]
    assert edges(open="true") == ["instance_of", "version_of"]
    assert edges(open="false") == ["deployed_as"]
    assert edges(kind="version_of") == ["version_of"]
    assert edges(node=store_rows["Churn model 1.0"]) == ["deployed_as", "version_of"]
    assert edges(src=store_rows["Churn pipeline"]) == ["instance_of"]
    assert edges(dst=store_rows["churn-scoring"]) == ["deployed_as"]
    assert edges(as_of=hours(6).isoformat()) == ["deployed_as", "instance_of", "version_of"]
    assert edges(as_of=hours(7).isoformat()) == ["instance_of", "version_of"]
    assert edges(as_of=hours(3).isoformat()) == ["instance_of"]
    assert edges(source="viya") == ["deployed_as", "version_of"]
    closed = api.get("/api/edges/", {"open": "false"}).json()["results"][0]
    assert closed["open"] is False and closed["valid_to"].startswith("2024-03-01T07:00:00")


def test_node_detail_has_revisions_and_properties_as_of(api, store_rows):
    url = f"/api/nodes/{store_rows['run-1']}/"
    body = api.get(url).json()
    assert body["properties"] == {"state": "SUCCEEDED"}
    assert [r["properties"]["state"] for r in body["revisions"]] == ["RUNNING", "SUCCEEDED"]
    assert body["properties_as_of"] is None
    assert api.get(url, {"as_of": hours(3).isoformat()}).json()["properties_as_of"] == {"state": "RUNNING"}
    assert api.get(url, {"as_of": hours(6).isoformat()}).json()["properties_as_of"] == {"state": "SUCCEEDED"}
    assert api.get(url, {"as_of": hours(1).isoformat()}).json()["properties_as_of"] is None  # before it existed
    bad = api.get(url, {"as_of": "soon"})
    assert bad.status_code == 400 and "as_of" in bad.json()["detail"]


def test_raw_record_detail_is_the_way_back_to_the_source(api, store_rows):
    node = api.get(f"/api/nodes/{store_rows['run-1']}/").json()
    raw = api.get(node["raw_url"]).json()
    assert raw["body"] == {"run_id": "run-1", "state": "SUCCEEDED"}
    assert raw["source"] == "kubeflow" and raw["kind"] == "kfp.run" and raw["source_id"] == "run-1"
    listing = api.get("/api/raw-records/", {"source": "kubeflow", "source_id": "run-1"}).json()["results"]
    assert len(listing) == 2 and all("body" not in item for item in listing)  # bodies only on the detail
    assert len(api.get("/api/raw-records/", {"q": "kfp"}).json()["results"]) == 2
    assert RawRecord.objects.count() == 2 and Edge.objects.count() == 3
