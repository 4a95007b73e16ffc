"""One large event must not make everyone's lists large: list endpoints carry summaries (no properties),
the detail (or `?expand=properties`) the full facets. The large event here is a run with 1 MB of facets."""
from __future__ import annotations

import json

import pytest

BIG = "x" * 1_000_000


def _big_event() -> dict:
    return {
        "eventType": "COMPLETE", "eventTime": "2024-01-01T00:00:00Z", "producer": "https://example.com/spark",
        "run": {"runId": "11111111-1111-4111-8111-111111111111", "facets": {"spark_plan": {"plan": BIG}}},
        "job": {"namespace": "spark", "name": "wide_job", "facets": {"sql": {"query": BIG}}},
        "outputs": [{"namespace": "db", "name": "wide", "facets": {"schema": {"fields": [{"name": BIG}]}}}],
    }


@pytest.mark.django_db
def test_lists_leave_properties_to_the_detail(clients):
    engineer = clients["engineer"]
    posted = engineer.post("/api/v1/lineage", data=json.dumps(_big_event()), content_type="application/json")
    assert posted.status_code == 201, posted.content
    for path in ("/api/nodes/?page_size=50", "/api/runs/", "/api/jobs/", "/api/datasets/", "/api/edges/"):
        response = engineer.get(path)
        assert response.status_code == 200
        assert len(response.content) < 20_000, (path, len(response.content))
        for item in response.json()["results"]:
            assert "properties" not in item
    run = engineer.get("/api/runs/").json()["results"][0]
    detail = engineer.get(f"/api/nodes/{run['id']}/").json()
    assert BIG in json.dumps(detail["properties"])
    expanded = engineer.get("/api/runs/?expand=properties").json()["results"][0]
    assert BIG in json.dumps(expanded["properties"])
    assert "properties" in engineer.get("/api/edges/?expand=properties").json()["results"][0]


@pytest.mark.django_db
def test_the_ingest_log_keeps_a_bounded_list_of_strict_errors(clients):
    """An event failing the strict spec in thousands of places is stored (Marquez would take it), but its
    judgement, shown by /api/ingested-events/, keeps the first MAX_ERRORS and a count of the rest."""
    from lineage.ingest.strict import MAX_ERRORS

    event = {"eventType": "START", "eventTime": "2024-01-01T00:00:00Z", "producer": "https://example.com/p",
             "run": {"runId": "22222222-2222-4222-8222-222222222222"}, "job": {"namespace": "ns", "name": "bad"},
             "inputs": [{"namespace": "n", "name": f"x{i}",
                         "facets": {"schema": {"_producer": "p", "_schemaURL": "u", "fields": "nope"}}}
                        for i in range(1000)]}
    engineer = clients["engineer"]
    assert engineer.post("/api/v1/lineage", data=json.dumps(event), content_type="application/json").status_code == 201
    logged = engineer.get("/api/ingested-events/").json()["results"][0]
    assert logged["strict_ok"] is False
    assert len(logged["strict_errors"]) == MAX_ERRORS + 1
    assert logged["strict_errors"][-1].startswith("… and ") and logged["strict_errors"][-1].endswith(" more")
