"""A job's inputs and outputs in the Marquez reads are those of its latest run, as Marquez lists those of a
job's current version: a job whose runs read different datasets shows what its latest run read, in
GET job, in the lineage graph (its edges, and which jobs a dataset leads to) and in column lineage; the
older runs' datasets stay in that run's job version and come back with `as_of`."""
from __future__ import annotations

import pytest

from tests.conftest import client_for, make_user
from tests.support.marquez import DB, _dataset, event

R1, R2 = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
BETWEEN = "2024-06-01T11:00:00Z"
A, B, OUT, OUT2 = (f"dataset:{DB}:public.{n}" for n in ("a", "b", "out", "out2"))


def _events():
    """load's run R1 (10:00) reads public.a and writes public.out; its run R2 (12:00) reads public.b and
    writes public.out2."""
    first = _dataset("public.out", {"x": "INTEGER"}, {"x": [("public.a", "x")]})
    second = _dataset("public.out2", {"y": "INTEGER"}, {"y": [("public.b", "y")]})
    return [event("START", "load", R1, "2024-06-01T10:00:00Z", ("public.a",), [first]),
            event("COMPLETE", "load", R1, "2024-06-01T10:01:00Z", ("public.a",), [first]),
            event("START", "load", R2, "2024-06-01T12:00:00Z", ("public.b",), [second]),
            event("COMPLETE", "load", R2, "2024-06-01T12:01:00Z", ("public.b",), [second])]


def _reader(events):
    engineer = client_for(make_user("producer", "engineer"))
    for e in events:
        assert engineer.post("/api/v1/lineage", e, format="json").status_code == 201, e
    return client_for(make_user("reader", "auditor"))


@pytest.fixture
def reader(db):
    return _reader(_events())


def _ids(answer):
    return {node["id"] for node in answer["graph"]}


def test_get_job_lists_the_latest_runs_datasets(reader):
    job = reader.get("/api/v1/namespaces/etl/jobs/load").json()
    assert job["latestRun"]["id"] == R2
    assert job["inputs"] == [{"namespace": DB, "name": "public.b"}]
    assert job["outputs"] == [{"namespace": DB, "name": "public.out2"}]
    listed = reader.get("/api/v1/namespaces/etl/jobs").json()["jobs"]
    assert [(j["name"], j["inputs"]) for j in listed] == [("load", [{"namespace": DB, "name": "public.b"}])]


def test_lineage_follows_the_latest_run_only(reader):
    graph = reader.get("/api/v1/lineage", {"nodeId": "job:etl:load", "depth": 0}).json()
    assert _ids(graph) == {"job:etl:load", B, OUT2}
    load = next(n for n in graph["graph"] if n["id"] == "job:etl:load")
    assert load["inEdges"] == [{"origin": B, "destination": "job:etl:load"}]
    assert load["outEdges"] == [{"origin": "job:etl:load", "destination": OUT2}]
    # No job's latest run reads public.a any more: it stands alone, as a dataset no job touches.
    alone = reader.get("/api/v1/lineage", {"nodeId": A, "depth": 5}).json()
    assert _ids(alone) == {A} and alone["graph"][0]["outEdges"] == []
    assert "job:etl:load" in _ids(reader.get("/api/v1/lineage", {"nodeId": B}).json())


def test_column_lineage_of_a_job_is_its_latest_runs_outputs(reader):
    answer = reader.get("/api/v1/column-lineage", {"nodeId": "job:etl:load"}).json()
    assert _ids(answer) == {f"datasetField:{DB}:public.out2:y", f"datasetField:{DB}:public.b:y"}


def test_older_runs_datasets_stay_in_their_version_and_as_of(reader):
    versions = reader.get("/api/v1/namespaces/etl/jobs/load/versions").json()["versions"]
    assert {v["version"]: v["inputs"] for v in versions} == {
        R1: [{"namespace": DB, "name": "public.a"}], R2: [{"namespace": DB, "name": "public.b"}]}
    then = reader.get("/api/v1/namespaces/etl/jobs/load", {"as_of": BETWEEN}).json()
    assert then["latestRun"]["id"] == R1 and then["inputs"] == [{"namespace": DB, "name": "public.a"}]
    graph_then = reader.get("/api/v1/lineage", {"nodeId": "job:etl:load", "depth": 0, "as_of": BETWEEN}).json()
    assert _ids(graph_then) == {"job:etl:load", A, OUT}


def test_latest_is_by_run_time_not_arrival(db):
    """R2's events arrive first; R1's (earlier eventTime) after: R2 is still the latest run."""
    events = _events()
    reader = _reader(events[2:] + events[:2])
    job = reader.get("/api/v1/namespaces/etl/jobs/load").json()
    assert job["latestRun"]["id"] == R2 and job["inputs"] == [{"namespace": DB, "name": "public.b"}]
