"""marquez-python (the Marquez project's own client) against a live server: every read call returns what the
ingested OpenLineage events describe (names, fields, versions, run states, column lineage edges), and its
deprecated writes get a JSON refusal."""
from __future__ import annotations

import uuid

import pytest
import requests
from marquez_client import MarquezClient
from marquez_client.errors import APIError
from rest_framework.test import APIClient

from tests.conftest import client_for, make_user
from tests.support.marquez import DB, pipeline

JOBS = ("etl.extract", "etl.clean", "etl.report")


@pytest.fixture
def served(live_server, transactional_db):
    runs = {job: str(uuid.uuid4()) for job in JOBS}
    events = pipeline(runs)
    producer = client_for(make_user("producer", "engineer"))
    for e in events:
        assert producer.post("/api/v1/lineage", e, format="json").status_code == 201
    token = make_user("reader", "auditor").auth_token.key
    return MarquezClient(url=live_server.url, api_key=token), runs, events, live_server.url, token


def edges(graph: dict) -> set[tuple[str, str]]:
    return {(e["origin"], e["destination"]) for node in graph["graph"] for e in node["outEdges"] + node["inEdges"]}


def field(dataset: str, name: str) -> str:
    return f"datasetField:{DB}:{dataset}:{name}"


def test_every_read_call_returns_the_ingested_objects(served):
    client, runs, events, _url, _token = served
    assert {"etl", DB} <= {n["name"] for n in client.list_namespaces()["namespaces"]}
    assert client.get_namespace("etl")["name"] == "etl"

    jobs = client.list_jobs("etl")
    assert sorted(j["name"] for j in jobs["jobs"]) == sorted(JOBS) and jobs["totalCount"] == 3
    clean = client.get_job("etl", "etl.clean")
    assert clean["inputs"] == [{"namespace": DB, "name": "public.raw"}]
    assert clean["outputs"] == [{"namespace": DB, "name": "public.clean"}]
    assert clean["latestRun"]["id"] == runs["etl.clean"] and clean["latestRun"]["state"] == "COMPLETED"
    assert clean["currentVersion"] == runs["etl.clean"]
    assert clean["facets"]["tags"]["tags"][0]["key"] == "pii"

    report_runs = client.list_job_runs("etl", "etl.report")["runs"]
    assert [(r["id"], r["state"]) for r in report_runs] == [(runs["etl.report"], "FAILED")]
    assert report_runs[0]["startedAt"] == "2024-06-01T10:04:00Z" and report_runs[0]["endedAt"] == "2024-06-01T10:05:00Z"
    run = client.get_job_run(runs["etl.clean"])
    assert run["state"] == "COMPLETED" and run["durationMs"] == 60_000
    assert run["jobVersion"] == {"namespace": "etl", "name": "etl.clean", "version": runs["etl.clean"]}
    assert [v["datasetVersionId"] for v in run["inputDatasetVersions"]] == [
        {"namespace": DB, "name": "public.raw", "version": runs["etl.extract"]}]
    assert [v["datasetVersionId"] for v in run["outputDatasetVersions"]] == [
        {"namespace": DB, "name": "public.clean", "version": runs["etl.clean"]}]

    datasets = client.list_datasets(DB)
    assert sorted(d["name"] for d in datasets["datasets"]) == ["public.clean", "public.raw", "public.report"]
    got = client.get_dataset(DB, "public.clean")
    assert [(f["name"], f["type"]) for f in got["fields"]] == [("id", "INTEGER"), ("amount_usd", "DECIMAL")]
    assert got["currentVersion"] == runs["etl.clean"] and got["sourceName"] == DB
    versions = client.list_dataset_versions(DB, "public.raw")["versions"]
    assert [v["version"] for v in versions] == [runs["etl.extract"]]
    assert versions[0]["createdByRun"]["id"] == runs["etl.extract"]
    one = client.get_dataset_version(DB, "public.raw", runs["etl.extract"])
    assert [f["name"] for f in one["fields"]] == ["id", "amount"]

    assert DB in {s["name"] for s in client.list_sources()["sources"]}
    assert [t["name"] for t in client.list_tags()["tags"]] == ["pii"]
    listed = client.list_events(limit=100)
    assert listed["totalCount"] == len(events)
    assert sorted(e["eventTime"] for e in listed["events"]) == sorted(e["eventTime"] for e in events)
    assert listed["events"][0] == events[-1]  # newest first, the body as posted

    upstream = client.get_column_lineage_by_dataset(DB, "public.report", depth=5)
    assert edges(upstream) == {(field("public.clean", "amount_usd"), field("public.report", "total")),
                               (field("public.raw", "amount"), field("public.clean", "amount_usd"))}
    shallow = client.get_column_lineage_by_dataset(DB, "public.report", depth=1)
    assert edges(shallow) == {(field("public.clean", "amount_usd"), field("public.report", "total"))}
    down = client.get_column_lineage_by_dataset_field(DB, "public.raw", "amount", with_downstream=True)
    assert edges(down) == {(field("public.raw", "amount"), field("public.clean", "amount_usd")),
                           (field("public.clean", "amount_usd"), field("public.report", "total"))}
    assert client.get_column_lineage_by_dataset_field(DB, "public.raw", "amount")["graph"][0]["inEdges"] == []
    by_job = client.get_column_lineage_by_job("etl", "etl.clean", depth=1)
    assert edges(by_job) == {(field("public.raw", "id"), field("public.clean", "id")),
                             (field("public.raw", "amount"), field("public.clean", "amount_usd"))}
    node = {n["id"]: n for n in by_job["graph"]}[field("public.clean", "amount_usd")]
    assert node["type"] == "DATASET_FIELD" and node["data"]["fieldType"] == "DECIMAL"
    assert node["data"]["inputFields"][0]["transformationType"] == "IDENTITY"


def test_deprecated_writes_are_refused_with_a_json_reason(served):
    client, runs, _events, url, token = served
    with pytest.raises(APIError):
        client.create_namespace("newspace", "me")
    for method, path in (("put", "/api/v1/namespaces/etl"), ("put", f"/api/v1/namespaces/{DB}/datasets/x"),
                         ("put", "/api/v1/namespaces/etl/jobs/etl.clean"), ("post", "/api/v1/namespaces/etl/jobs/etl.clean/runs"),
                         ("post", f"/api/v1/jobs/runs/{runs['etl.clean']}/complete"), ("put", "/api/v1/tags/pii"),
                         ("put", "/api/v1/sources/s"), ("post", "/api/v1/namespaces/etl/datasets/x/tags/pii")):
        response = requests.request(method, url + path, json={}, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 405, (path, response.text)
        assert response.headers["Content-Type"].startswith("application/json")
        body = response.json()
        assert body["code"] == 405 and "POST /api/v1/lineage" in body["message"]
    # Nothing was written: the namespace still has its three jobs and no new one.
    assert client.list_jobs("etl")["totalCount"] == 3
    assert APIClient().get("/api/v1/namespaces/newspace").status_code == 401
