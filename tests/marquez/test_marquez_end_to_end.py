"""Marquez's lineage read end to end: OpenLineage events POSTed to /api/v1/lineage through the real ingest,
then GET /api/v1/lineage?nodeId=…&depth=… answers Marquez's job/dataset graph."""
import uuid

import pytest

from tests.conftest import client_for, make_user

PRODUCER = "https://example.com/lineage-ledger-tests"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def event(event_type, job, run_id, inputs=(), outputs=(), minute=0):
    return {
        "eventType": event_type, "eventTime": f"2024-06-01T10:{minute:02d}:00Z", "producer": PRODUCER,
        "schemaURL": SCHEMA, "run": {"runId": run_id}, "job": {"namespace": "etl", "name": job},
        "inputs": [{"namespace": "postgres://db:5432", "name": n} for n in inputs],
        "outputs": [{"namespace": "postgres://db:5432", "name": n} for n in outputs],
    }


@pytest.fixture
def posted(db):
    engineer = client_for(make_user("producer", "engineer"))
    steps = [("extract", (), ("public.raw",)), ("clean", ("public.raw",), ("public.clean",)),
             ("train", ("public.clean",), ("public.model",))]
    for minute, (job, inputs, outputs) in enumerate(steps):
        run_id = str(uuid.uuid4())
        for event_type, offset in (("START", 0), ("COMPLETE", 1)):
            response = engineer.post("/api/v1/lineage", event(event_type, job, run_id, inputs, outputs, 2 * minute + offset),
                                     format="json")
            assert response.status_code == 201, response.content
    return client_for(make_user("reader", "auditor"))


def test_get_lineage_of_a_dataset_over_http(posted):
    response = posted.get("/api/v1/lineage", {"nodeId": "dataset:postgres://db:5432:public.clean", "depth": 1})
    assert response.status_code == 200
    graph = {n["id"]: n for n in response.json()["graph"]}
    clean = "dataset:postgres://db:5432:public.clean"
    assert set(graph) == {clean, "dataset:postgres://db:5432:public.raw", "dataset:postgres://db:5432:public.model",
                          "job:etl:extract", "job:etl:clean", "job:etl:train"}
    assert graph[clean]["inEdges"] == [{"origin": "job:etl:clean", "destination": clean}]
    assert graph[clean]["outEdges"] == [{"origin": clean, "destination": "job:etl:train"}]
    assert graph["job:etl:clean"]["type"] == "JOB"
    assert graph["job:etl:clean"]["data"]["latestRun"]["state"] == "COMPLETED"
    shallow = posted.get("/api/v1/lineage", {"nodeId": "job:etl:extract", "depth": 0}).json()
    assert {n["id"] for n in shallow["graph"]} == {"job:etl:extract", "dataset:postgres://db:5432:public.raw"}


def test_bad_and_unknown_node_ids_over_http(posted):
    assert posted.get("/api/v1/lineage", {"nodeId": "table:x:y"}).status_code == 400
    assert posted.get("/api/v1/lineage", {"nodeId": "job:etl:nothing"}).status_code == 404
