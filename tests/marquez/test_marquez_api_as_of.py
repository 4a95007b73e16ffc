"""`as_of` on the Marquez reads (this project's extension): every answer as the store stood at that time:
objects that did not exist yet are absent, properties are the revision then, edges those that held then."""
from __future__ import annotations

import pytest

from tests.conftest import client_for, make_user
from tests.support.marquez import DB, _dataset, event

R1, R2 = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
BETWEEN = "2024-06-01T11:00:00Z"


@pytest.fixture
def reader(db):
    """load writes public.t with one column at 10:00, then again with two columns and column lineage from
    public.src at 12:00 (a second run); public.src is first named at 12:00."""
    engineer = client_for(make_user("producer", "engineer"))
    first = _dataset("public.t", {"a": "INTEGER"})
    second = _dataset("public.t", {"a": "INTEGER", "b": "TEXT"}, {"b": [("public.src", "s")]})
    for e in (event("COMPLETE", "load", R1, "2024-06-01T10:00:00Z", (), [first]),
              event("COMPLETE", "load", R2, "2024-06-01T12:00:00Z", ("public.src",), [second])):
        assert engineer.post("/api/v1/lineage", e, format="json").status_code == 201
    return client_for(make_user("reader", "approver"))


def test_reads_answer_as_of_a_time(reader):
    url = f"/api/v1/namespaces/{DB}/datasets/public.t"
    now, then = reader.get(url).json(), reader.get(url, {"as_of": BETWEEN}).json()
    assert [f["name"] for f in now["fields"]] == ["a", "b"] and now["currentVersion"] == R2
    assert [f["name"] for f in then["fields"]] == ["a"] and then["currentVersion"] == R1
    assert reader.get(url + "/versions").json()["totalCount"] == 2
    assert [v["version"] for v in reader.get(url + "/versions", {"as_of": BETWEEN}).json()["versions"]] == [R1]
    assert reader.get(f"/api/v1/namespaces/{DB}/datasets/public.src", {"as_of": BETWEEN}).status_code == 404
    assert reader.get(f"/api/v1/namespaces/{DB}/datasets", {"as_of": BETWEEN}).json()["totalCount"] == 1
    assert reader.get("/api/v1/namespaces/etl/jobs/load/runs", {"as_of": BETWEEN}).json()["totalCount"] == 1
    assert reader.get(f"/api/v1/jobs/runs/{R2}", {"as_of": BETWEEN}).status_code == 404
    assert reader.get("/api/v1/namespaces/etl", {"as_of": "2024-01-01T00:00:00Z"}).status_code == 404

    job_now = reader.get("/api/v1/namespaces/etl/jobs/load").json()
    job_then = reader.get("/api/v1/namespaces/etl/jobs/load", {"as_of": BETWEEN}).json()
    assert job_now["inputs"] == [{"namespace": DB, "name": "public.src"}] and job_now["latestRun"]["id"] == R2
    assert job_then["inputs"] == [] and job_then["latestRun"]["id"] == R1

    lineage_then = reader.get("/api/v1/lineage", {"nodeId": "job:etl:load", "as_of": BETWEEN}).json()
    assert {n["id"] for n in lineage_then["graph"]} == {"job:etl:load", f"dataset:{DB}:public.t"}
    column_now = reader.get("/api/v1/column-lineage", {"nodeId": f"dataset:{DB}:public.t"}).json()
    column_then = reader.get("/api/v1/column-lineage", {"nodeId": f"dataset:{DB}:public.t", "as_of": BETWEEN}).json()
    assert f"datasetField:{DB}:public.src:s" in {n["id"] for n in column_now["graph"]}
    assert {n["id"] for n in column_then["graph"]} == {f"datasetField:{DB}:public.t:a"}
    events = reader.get("/api/v1/events/lineage", {"as_of": BETWEEN}).json()
    assert [e["run"]["runId"] for e in events["events"]] == [R1]


def test_lists_page_with_limit_and_offset(reader):
    first = reader.get(f"/api/v1/namespaces/{DB}/datasets/public.t/versions", {"limit": 1}).json()
    second = reader.get(f"/api/v1/namespaces/{DB}/datasets/public.t/versions", {"limit": 1, "offset": 1}).json()
    assert [v["version"] for v in first["versions"] + second["versions"]] == [R2, R1]
    assert first["totalCount"] == second["totalCount"] == 2
    assert reader.get("/api/v1/namespaces", {"limit": 1001}).status_code == 400


@pytest.mark.parametrize("value", ["2024-13-45T99:99:99", "2024-02-30", "2024-02-30T10:00:00Z", "yesterday"])
@pytest.mark.parametrize("path,query", [("/api/v1/lineage", {"nodeId": f"dataset:{DB}:public.raw"}),
                                        ("/api/v1/namespaces", {}), ("/api/v1/namespaces/etl/jobs", {})])
def test_an_impossible_or_malformed_as_of_is_a_400(reader, path, query, value):
    """Well-formed but impossible dates (month 13, February 30) make Django's parsers raise, not answer None."""
    r = reader.get(path, {**query, "as_of": value})
    assert r.status_code == 400, r.content
    assert "as_of" in r.json()["message"]
