"""The ingest log API: every role can list and filter what was ingested, nobody can write to it."""
from __future__ import annotations

import json

import pytest

from lineage.ingest.models import IngestedEvent


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _event(run_id, job, time, schema=True):
    event = {"eventType": "COMPLETE", "eventTime": time, "run": {"runId": run_id},
             "job": {"namespace": "log", "name": job}, "producer": "https://example.com/p"}
    if schema:
        event["schemaURL"] = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    return event


@pytest.fixture
def ingested(clients):
    events = [_event("a1b2c3d4-0000-4000-8000-000000000001", "alpha", "2024-01-01T00:00:00Z"),
              _event("a1b2c3d4-0000-4000-8000-000000000002", "beta", "2024-01-02T00:00:00Z"),
              _event("not-a-uuid", "beta", "2024-01-03T00:00:00Z", schema=False)]
    for event in events:
        assert clients["engineer"].post("/api/v1/lineage", data=json.dumps(event), content_type="application/json").status_code == 201
    return events


@pytest.mark.django_db
@pytest.mark.parametrize("who, status", [("anonymous", 401), ("outsider", 403), ("engineer", 200), ("auditor", 200),
                                         ("approver", 200), ("admin", 200)])
def test_every_role_reads_the_log(clients, ingested, who, status):
    response = clients[who].get("/api/ingested-events/")
    assert response.status_code == status
    if status == 200:
        assert len(response.json()["results"]) == 3


@pytest.mark.django_db
def test_filters(clients, ingested):
    client = clients["auditor"]

    def count(**params):
        response = client.get("/api/ingested-events/", params)
        assert response.status_code == 200, response.content
        return len(response.json()["results"])

    assert count(job_name="beta") == 2
    assert count(strict_ok="false") == 1 and count(strict_ok="true") == 2
    assert count(event_time_after="2024-01-02T00:00:00Z") == 2
    assert count(q="alpha") == 1
    assert count(posted_by="engineer") == 3
    assert client.get("/api/ingested-events/", {"strict_ok": "maybe"}).status_code == 400
    row = client.get("/api/ingested-events/", {"run_id": "not-a-uuid"}).json()["results"][0]
    assert row["strict_ok"] is False and any("uuid" in e for e in row["strict_errors"])
    assert client.get(f"/api/ingested-events/{row['id']}/").json()["raw"] == IngestedEvent.objects.get(pk=row["id"]).raw_id


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_nobody_writes_to_the_log(clients, ingested, method):
    row = IngestedEvent.objects.first()
    url = "/api/ingested-events/" if method == "post" else f"/api/ingested-events/{row.pk}/"
    response = getattr(clients["admin"], method)(url, data={}, format="json")
    assert response.status_code in (403, 405)
    assert IngestedEvent.objects.count() == 3
