"""POST /api/v1/lineage/batch answers in the shape OpenLineage.yml gives it, stores every acceptable
event of the array in one transaction, reports each refused one by index, and audits once."""
from __future__ import annotations

import copy
import gzip
import json

import jsonschema
import pytest
import yaml

from governance.audit.models import AuditEntry
from lineage.ingest.models import IngestedEvent
from lineage.models import Node
from tests.conftest import shared_fixture


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _event(run_id: str, event_type: str = "START", job: str = "batch.job") -> dict:
    return {
        "eventType": event_type,
        "eventTime": "2024-02-01T10:00:00Z" if event_type == "START" else "2024-02-01T10:05:00Z",
        "run": {"runId": run_id},
        "job": {"namespace": "batch", "name": job},
        "inputs": [{"namespace": "db", "name": "source"}],
        "outputs": [{"namespace": "db", "name": f"target_{job}"}],
        "producer": "https://example.com/batcher",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }


@pytest.fixture(scope="module")
def response_schema():
    spec = yaml.safe_load(shared_fixture("openlineage", "spec", "OpenLineage.yml").read_text())
    post = spec["paths"]["/lineage/batch"]["post"]
    return post["responses"]["200"]["content"]["application/json"]["schema"]


def _post(client, body, **extra):
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post("/api/v1/lineage/batch", data=data, content_type="application/json", **extra)


@pytest.mark.django_db
def test_mixed_batch_reports_each_failure_by_index(clients, response_schema):
    no_run_id = _event("x")
    no_run_id["run"] = {}
    batch = [
        _event("11111111-1111-4111-8111-111111111111"),
        "not an event",
        _event("11111111-1111-4111-8111-111111111111", "COMPLETE"),
        no_run_id,
        _event("22222222-2222-4222-8222-222222222222", job="other"),
        _event("11111111-1111-4111-8111-111111111111"),  # same as index 0: acknowledged, not stored twice
    ]
    audit_before = AuditEntry.objects.count()
    response = _post(clients["engineer"], batch)
    assert response.status_code == 200
    body = response.json()
    jsonschema.validate(body, response_schema)
    assert body["status"] == "partial_success"
    assert body["summary"]["received"] == 6
    assert body["summary"]["successful"] == 4
    assert body["summary"]["failed"] == 2
    assert body["summary"]["duplicates"] == 1
    assert [f["index"] for f in body["failed_events"]] == [1, 3]
    assert all(f["retriable"] is False for f in body["failed_events"])
    assert "not_an_event" in body["failed_events"][0]["reason"]
    assert "runId" in body["failed_events"][1]["reason"]
    assert IngestedEvent.objects.count() == 3
    run = Node.objects.get(kind="run", source_id="11111111-1111-4111-8111-111111111111")
    assert run.properties["state"] == "COMPLETE"
    entries = list(AuditEntry.objects.filter(seq__gt=0).order_by("seq"))[audit_before:]
    assert [e.action for e in entries] == ["ingest.batch"]
    assert entries[0].actor_username == "engineer"
    assert entries[0].after["stored"] == 3 and entries[0].after["rejected_indexes"] == [1, 3]
    assert entries[0].after["kinds"] == {"RunEvent": 3}


@pytest.mark.django_db
def test_clean_gzip_batch_is_success(clients, response_schema):
    batch = [_event(f"33333333-3333-4333-8333-33333333333{i}", job=f"j{i}") for i in range(5)]
    response = _post(clients["admin"], gzip.compress(json.dumps(batch).encode()), HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200
    jsonschema.validate(response.json(), response_schema)
    assert response.json()["status"] == "success"
    assert response.json()["summary"] == {"received": 5, "successful": 5, "failed": 0, "retriable": 0,
                                         "non_retriable": 0, "duplicates": 0}
    assert response.json()["failed_events"] == []
    assert IngestedEvent.objects.count() == 5


@pytest.mark.django_db
def test_batch_matches_the_same_events_posted_one_by_one(clients):
    events = [_event("44444444-4444-4444-8444-444444444444"), _event("44444444-4444-4444-8444-444444444444", "COMPLETE"),
              _event("55555555-5555-4555-8555-555555555555", job="downstream")]
    events[2]["inputs"] = [{"namespace": "db", "name": "target_batch.job"}]
    assert _post(clients["engineer"], events).json()["status"] == "success"
    batch_graph = _graph()
    for model in (IngestedEvent,):
        model.objects.all().delete()
    from lineage.models import Edge, NodeRevision, RawRecord

    Edge.objects.all().delete()
    NodeRevision.objects.all().delete()
    Node.objects.all().delete()
    RawRecord.objects.all().delete()
    for event in events:
        assert clients["engineer"].post("/api/v1/lineage", data=json.dumps(event), content_type="application/json").status_code == 201
    assert _graph() == batch_graph
    # the downstream run read the version the first run produced, not the bare dataset
    assert ("consumed", "db:target_batch.job@44444444-4444-4444-8444-444444444444",
            "55555555-5555-4555-8555-555555555555") in {(k, s, d) for k, s, d, *_ in batch_graph[1]}


def _graph():
    from lineage.models import Edge

    nodes = sorted((n.kind, n.source_id, json.dumps(n.properties, sort_keys=True), n.first_seen, n.last_seen)
                   for n in Node.objects.all())
    edges = sorted((e.kind, e.src.source_id, e.dst.source_id, e.valid_from, e.valid_to, e.last_seen)
                   for e in Edge.objects.select_related("src", "dst"))
    return nodes, edges


@pytest.mark.django_db
@pytest.mark.parametrize("body, status", [(b"{}", 400), (b"[", 400), (json.dumps({"eventTime": "x"}).encode(), 400)])
def test_a_body_that_is_not_an_array_is_400(clients, body, status):
    response = _post(clients["engineer"], body)
    assert response.status_code == status
    assert response.json()["error"] in ("not_an_event", "malformed_json")
    assert IngestedEvent.objects.count() == 0


@pytest.mark.django_db
def test_empty_and_all_invalid_batches_store_nothing(clients):
    assert _post(clients["engineer"], []).json() == {
        "status": "success", "failed_events": [],
        "summary": {"received": 0, "successful": 0, "failed": 0, "retriable": 0, "non_retriable": 0, "duplicates": 0},
    }
    audit_before = AuditEntry.objects.count()
    bad = copy.deepcopy(_event("r"))
    del bad["job"]
    body = _post(clients["engineer"], [bad, 3]).json()
    assert body["status"] == "partial_success" and body["summary"]["failed"] == 2
    assert IngestedEvent.objects.count() == 0 and Node.objects.count() == 0
    assert AuditEntry.objects.count() == audit_before


def _nul_in_json():
    nul = _event("66666666-6666-4666-8666-666666666666", job="nul")
    nul["job"]["facets"] = {"documentation": {"_producer": "https://p", "_schemaURL": "https://s", "description": "a\u0000b"}}
    return nul


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("make_nul", [_nul_in_json, lambda: _event("66666666-6666-4666-8666-666666666666", job="n\u0000l")],
                         ids=["nul-in-json", "nul-in-text"])
def test_an_event_the_database_refuses_fails_alone(clients, make_nul):
    """PostgreSQL refuses NUL characters in JSON and text, SQLite would keep them: the ingest refuses them up
    front on both (lineage.ingest.service._checked_digest), so only that event of the batch fails."""
    nul = make_nul()
    batch = [_event("77777777-7777-4777-8777-777777777777", job="fine"), nul]
    body = _post(clients["engineer"], batch).json()
    assert body["status"] == "partial_success"
    assert body["failed_events"] == [{"index": 1, "reason": body["failed_events"][0]["reason"], "retriable": False}]
    assert body["failed_events"][0]["reason"].startswith("nul_character: $.")
    assert IngestedEvent.objects.count() == 1
    single = clients["engineer"].post("/api/v1/lineage", data=json.dumps(nul), content_type="application/json")
    assert single.status_code == 422 and single.json()["error"] == "nul_character"
    assert IngestedEvent.objects.count() == 1
