"""400 for bodies that are not events, 422 for events missing what the graph needs; either way the
answer is JSON naming the problem and nothing at all is stored (not even an audit entry)."""
from __future__ import annotations

import gzip
import json

import pytest

from governance.audit.models import AuditEntry
from lineage.ingest.models import IngestedEvent
from lineage.models import Edge, Node, NodeRevision, RawRecord


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The role fixtures hash six passwords per test; the default hasher makes that the slowest part."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


GOOD = {
    "eventType": "START",
    "eventTime": "2024-01-01T00:00:00Z",
    "run": {"runId": "3f5e83fa-3480-44ff-99c5-ff943904e5e8"},
    "job": {"namespace": "ns", "name": "job"},
    "inputs": [{"namespace": "db", "name": "in"}],
    "outputs": [{"namespace": "db", "name": "out"}],
    "producer": "https://example.com/p",
    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
}


def _with(**changes):
    event = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return event


def _counts():
    return [m.objects.count() for m in (RawRecord, Node, Edge, NodeRevision, IngestedEvent, AuditEntry)]


def _post(client, body, **extra):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/api/v1/lineage", data=data, content_type="application/json", **extra)


BAD_REQUESTS = [
    ("not json", b"{not json", "malformed_json"),
    ("not utf-8", b"\xff\xfe{", "malformed_json"),
    ("array", [GOOD], "not_an_event"),
    ("string", "\"hello\"", "not_an_event"),
    ("unrelated object", {"hello": "world"}, "not_an_event"),
    ("run is a string", _with(run="abc"), "not_an_event"),
    ("inputs not a list", _with(inputs={"namespace": "a", "name": "b"}), "not_an_event"),
    ("job name not a string", _with(job={"namespace": "ns", "name": 7}), "not_an_event"),
    ("facet not an object", _with(run={"runId": "r1", "facets": {"parent": 3}}), "not_an_event"),
]

UNPROCESSABLE = [
    ("no eventTime", _with(eventTime=None), "eventTime"),
    ("unreadable eventTime", _with(eventTime="yesterday"), "eventTime"),
    ("date without time", _with(eventTime="2024-01-01"), "eventTime"),
    ("no producer", _with(producer=None), "producer"),
    ("no run id", _with(run={}), "runId"),
    ("no run", _with(run=None), "run"),
    ("no job", _with(job=None), "job"),
    ("no job name", _with(job={"namespace": "ns"}), "job.name"),
    ("empty job namespace", _with(job={"namespace": " ", "name": "x"}), "job.namespace"),
    ("unknown eventType", _with(eventType="FINISHED"), "eventType"),
    ("input without name", _with(inputs=[{"namespace": "db"}]), "inputs[0].name"),
    ("job name too long", _with(job={"namespace": "ns", "name": "x" * 800}), "$.job"),
    ("output name too long", _with(outputs=[{"namespace": "db", "name": "y" * 701}]), "$.outputs[0]"),
    ("run id too long", _with(run={"runId": "r" * 256}), "runId"),
    ("dataset event without dataset",
     {"eventTime": "2024-01-01T00:00:00Z", "producer": "https://p",
      "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent"}, "dataset"),
    ("job event without job",
     {"eventTime": "2024-01-01T00:00:00Z", "producer": "https://p",
      "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent"}, "job"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("label, body, code", BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_not_an_event_is_400_and_stores_nothing(clients, label, body, code):
    before = _counts()
    response = _post(clients["engineer"], body)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == code and response.json()["detail"]
    assert _counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("label, body, field", UNPROCESSABLE, ids=[c[0] for c in UNPROCESSABLE])
def test_missing_what_we_need_is_422_and_stores_nothing(clients, label, body, field):
    before = _counts()
    response = _post(clients["engineer"], body)
    assert response.status_code == 422, response.content
    assert response.json()["error"] == "unprocessable_event"
    assert field in response.json()["detail"]
    assert _counts() == before


@pytest.mark.django_db
def test_what_marquez_accepts_is_accepted_but_marked_not_strict(clients):
    lenient = _with(schemaURL=None, eventTime="2024-01-01T00:00:00.123456", run={"runId": "run-42"})
    response = _post(clients["engineer"], lenient)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "created" and body["strict_ok"] is False
    row = IngestedEvent.objects.get()
    assert row.event_time.isoformat() == "2024-01-01T00:00:00.123456+00:00"  # no zone: taken as UTC
    assert row.event_time_given == "2024-01-01T00:00:00.123456"
    assert row.run_id == "run-42" and row.schema_url == ""
    assert any("schemaURL" in e for e in row.strict_errors)
    assert any("date-time" in e for e in row.strict_errors)
    assert any("uuid" in e for e in row.strict_errors)


@pytest.mark.django_db
def test_gzip_body_is_accepted_and_a_broken_one_is_400(clients):
    before = _counts()
    broken = _post(clients["engineer"], b"\x1f\x8b\x08\x00garbage", HTTP_CONTENT_ENCODING="gzip")
    assert broken.status_code == 400 and broken.json()["error"] == "malformed_gzip"
    truncated = gzip.compress(json.dumps(GOOD).encode())[:-12]
    assert _post(clients["engineer"], truncated, HTTP_CONTENT_ENCODING="gzip").status_code == 400
    assert _post(clients["engineer"], json.dumps(GOOD), HTTP_CONTENT_ENCODING="br").status_code == 415
    assert _counts() == before
    ok = _post(clients["engineer"], gzip.compress(json.dumps(GOOD).encode()), HTTP_CONTENT_ENCODING="gzip")
    assert ok.status_code == 201 and ok.json()["status"] == "created"
    assert IngestedEvent.objects.get().run_id == GOOD["run"]["runId"]
