"""Every Marquez-compatible read answers in the shape of Marquez's own OpenAPI description, over the whole
shared OpenLineage corpus ingested through POST /api/v1/lineage (tests/support/marquez.py says how the
description is read). Each object the corpus names is fetched, so every answer shape is met with real data."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.conftest import client_for, make_user
from tests.support.marquez import MarquezSchema, complete_events, ingest


def q(text: str) -> str:
    return quote(text, safe="")


@pytest.fixture(scope="module")
def marquez_schema() -> MarquezSchema:
    return MarquezSchema()


@pytest.fixture
def reader(db):
    ingest(client_for(make_user("producer", "engineer")), complete_events())
    return client_for(make_user("reader", "auditor"))


def get(client, url, params=None):
    response = client.get(url, params or {})
    assert response.status_code == 200, (url, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def test_every_answer_validates_against_marquez_openapi(reader, marquez_schema):
    check = marquez_schema.check
    namespaces = get(reader, "/api/v1/namespaces", {"limit": 1000})
    check("/namespaces", namespaces)
    assert namespaces["totalCount"] == len(namespaces["namespaces"]) > 5
    seen = {"datasets": 0, "versions": 0, "jobs": 0, "runs": 0, "job_versions": 0, "column_edges": 0}
    for ns in namespaces["namespaces"]:
        name = ns["name"]
        check("/namespaces/{namespace}", get(reader, f"/api/v1/namespaces/{q(name)}"))
        datasets = get(reader, f"/api/v1/namespaces/{q(name)}/datasets", {"limit": 1000})
        check("/namespaces/{namespace}/datasets", datasets)
        for ds in datasets["datasets"]:
            base = f"/api/v1/namespaces/{q(name)}/datasets/{q(ds['name'])}"
            check("/namespaces/{namespace}/datasets/{dataset}", get(reader, base))
            versions = get(reader, base + "/versions", {"limit": 1000})
            check("/namespaces/{namespace}/datasets/{dataset}/versions", versions)
            for version in versions["versions"]:
                one = get(reader, base + "/versions/" + version["version"])
                check("/namespaces/{namespace}/datasets/{dataset}/versions/{version}", one)
                assert one == version
                seen["versions"] += 1
            node = f"dataset:{name}:{ds['name']}"
            check("/lineage", get(reader, "/api/v1/lineage", {"nodeId": node, "depth": 2}))
            columns = get(reader, "/api/v1/column-lineage", {"nodeId": node, "withDownstream": "true"})
            check("/column-lineage", columns)
            seen["column_edges"] += sum(len(n["inEdges"]) for n in columns["graph"])  # the seed's columnLineage
            seen["datasets"] += 1
        jobs = get(reader, f"/api/v1/namespaces/{q(name)}/jobs", {"limit": 1000})
        check("/namespaces/{namespace}/jobs", jobs)
        for job in jobs["jobs"]:
            base = f"/api/v1/namespaces/{q(name)}/jobs/{q(job['name'])}"
            check("/namespaces/{namespace}/jobs/{job}", get(reader, base))
            versions = get(reader, base + "/versions", {"limit": 1000})
            check("/namespaces/{namespace}/jobs/{job}/versions", versions)
            for version in versions["versions"]:
                check("/namespaces/{namespace}/jobs/{job}/versions/{version}",
                      get(reader, base + "/versions/" + version["version"]))
                seen["job_versions"] += 1
            runs = get(reader, base + "/runs", {"limit": 1000})
            check("/namespaces/{namespace}/jobs/{job}/runs", runs)
            for run in runs["runs"]:
                check("/jobs/runs/{id}", get(reader, f"/api/v1/jobs/runs/{run['id']}"))
                for kind in ("run", "job"):
                    check("/jobs/runs/{id}/facets", get(reader, f"/api/v1/jobs/runs/{run['id']}/facets", {"type": kind}))
                check("/runlineage/upstream", get(reader, "/api/v1/runlineage/upstream", {"runId": run["id"]}))
                seen["runs"] += 1
            node = f"job:{name}:{job['name']}"
            check("/lineage", get(reader, "/api/v1/lineage", {"nodeId": node, "depth": 2}))
            check("/column-lineage", get(reader, "/api/v1/column-lineage", {"nodeId": node}))
            seen["jobs"] += 1
    assert all(seen.values()), seen
    check("/namespaces/{namespace}/jobs", get(reader, "/api/v1/jobs", {"limit": 1000}))
    sources = get(reader, "/api/v1/sources", {"limit": 1000})
    check("/sources", sources)
    assert sources["sources"]
    for source in sources["sources"]:
        check("/sources/{source}", get(reader, f"/api/v1/sources/{q(source['name'])}"))
    check("/tags", get(reader, "/api/v1/tags"))
    for params in ({"q": "a"}, {"q": "%", "filter": "JOB", "sort": "UPDATE_AT", "limit": 50}, {"q": "_", "filter": "dataset"}):
        check("/search", get(reader, "/api/v1/search", params))
    for params in ({}, {"sortDirection": "asc", "limit": 5, "offset": 3},
                   {"after": "2020-01-01T00:00:00Z", "before": "2030-01-01T00:00:00Z"}):
        check("/events/lineage", get(reader, "/api/v1/events/lineage", params))


def test_errors_are_json_in_marquez_shape(reader):
    for url, params, status in (
        ("/api/v1/namespaces/nowhere", {}, 404),
        ("/api/v1/namespaces/nowhere/datasets/x", {}, 404),
        ("/api/v1/jobs/runs/00000000-0000-0000-0000-000000000000", {}, 404),
        ("/api/v1/no/such/thing", {}, 404),
        ("/api/v1/namespaces", {"limit": "-1"}, 400),
        ("/api/v1/namespaces", {"limit": "many"}, 400),
        ("/api/v1/namespaces", {"as_of": "yesterday"}, 400),
        ("/api/v1/lineage", {}, 400),
        ("/api/v1/lineage", {"nodeId": "job:x:y", "depth": "-2"}, 400),
        ("/api/v1/column-lineage", {"nodeId": "table:x:y"}, 400),
        ("/api/v1/search", {}, 400),
        ("/api/v1/events/lineage", {"sortDirection": "sideways"}, 400),
    ):
        response = reader.get(url, params)
        assert response.status_code == status, (url, params, response.content)
        assert response["Content-Type"].startswith("application/json")
        body = response.json()
        assert body["code"] == status and isinstance(body["message"], str) and body["message"]
