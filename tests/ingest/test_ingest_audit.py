"""Every accepted ingest request leaves one audit entry naming who sent what, under the request id that
the response and the IngestedEvent row carry."""
from __future__ import annotations

import json

import pytest

from governance.audit.models import AuditEntry
from lineage.ingest.models import IngestedEvent


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


EVENT = {
    "eventType": "START", "eventTime": "2024-01-01T00:00:00+02:00",
    "run": {"runId": "9b2f4c1e-7d3a-4e5b-8c6d-0e1f2a3b4c5d"}, "job": {"namespace": "ns", "name": "audited"},
    "outputs": [{"namespace": "db", "name": "t"}], "producer": "https://example.com/p",
}


@pytest.mark.django_db
def test_single_event_is_audited_with_actor_request_and_counts(clients, users):
    response = clients["engineer"].post("/api/v1/lineage", data=json.dumps(EVENT), content_type="application/json",
                                        HTTP_X_REQUEST_ID="req-ingest-1")
    assert response.status_code == 201
    entry = AuditEntry.objects.get(action="ingest.event")
    assert entry.actor_id == users["engineer"].pk and entry.actor_username == "engineer"
    assert entry.request_id == "req-ingest-1" == response["X-Request-ID"]
    assert entry.object_type == "openlineage.RunEvent" and entry.object_id == EVENT["run"]["runId"]
    assert entry.after["kind"] == "RunEvent" and entry.after["eventType"] == "START"
    assert entry.after["duplicate"] is False and entry.after["nodes_created"] == 4 and entry.after["edges_created"] == 3
    row = IngestedEvent.objects.get()
    assert row.request_id == "req-ingest-1" and row.posted_by == users["engineer"]
    assert row.event_time.isoformat() == "2023-12-31T22:00:00+00:00"
    assert row.event_time_given == "2024-01-01T00:00:00+02:00"


@pytest.mark.django_db
def test_rejected_event_leaves_no_audit_entry(clients):
    bad = dict(EVENT, run={})
    assert clients["engineer"].post("/api/v1/lineage", data=json.dumps(bad), content_type="application/json").status_code == 422
    assert not AuditEntry.objects.filter(action__startswith="ingest.").exists()


@pytest.mark.django_db
def test_a_failing_write_rolls_back_the_audit_entry_with_it(clients, monkeypatch):
    """Graph, raw event, IngestedEvent and audit entry share one transaction: if the last write fails,
    none of them stays."""
    from lineage.ingest import service

    real_insert = service.store.insert

    def insert_failing_on_the_log_row(objects, *args, **kwargs):
        if objects and (kwargs.get("model") is service.IngestedEvent or isinstance(objects[0], service.IngestedEvent)):
            raise service.IntegrityError("simulated")
        real_insert(objects, *args, **kwargs)

    monkeypatch.setattr(service.store, "insert", insert_failing_on_the_log_row)
    from lineage.models import Node, RawRecord

    with pytest.raises(service.IntegrityError):
        service.ingest_event(EVENT)
    assert Node.objects.count() == 0 and RawRecord.objects.count() == 0
    assert not AuditEntry.objects.filter(action__startswith="ingest.").exists()
