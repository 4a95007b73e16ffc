"""Who may use the Marquez API: any role reads (engineer, auditor, approver, admin), a user without a role is
refused (403), anonymous requests get 401; every answer, refusals included, is JSON in Marquez's error shape.
Reading raw events is recorded as an export; a refused deprecated write is recorded too."""
from __future__ import annotations

import uuid

import pytest

from governance.audit.models import AuditEntry
from tests.support.marquez import DB, pipeline

READS = ["/api/v1/namespaces", "/api/v1/namespaces/etl", "/api/v1/namespaces/etl/jobs", "/api/v1/jobs",
         "/api/v1/namespaces/etl/jobs/etl.clean", "/api/v1/namespaces/etl/jobs/etl.clean/runs",
         "/api/v1/namespaces/etl/jobs/etl.clean/versions", f"/api/v1/namespaces/{DB}/datasets",
         f"/api/v1/namespaces/{DB}/datasets/public.clean/versions", "/api/v1/sources", "/api/v1/tags",
         "/api/v1/search?q=clean", "/api/v1/lineage?nodeId=job:etl:etl.clean",
         f"/api/v1/column-lineage?nodeId=dataset:{DB}:public.report", "/api/v1/events/lineage"]


@pytest.fixture
def stored(clients):
    runs = {job: str(uuid.uuid4()) for job in ("etl.extract", "etl.clean", "etl.report")}
    for e in pipeline(runs):
        assert clients["engineer"].post("/api/v1/lineage", e, format="json").status_code == 201
    return runs


@pytest.mark.parametrize("who", ["engineer", "auditor", "approver", "admin"])
def test_every_role_reads(clients, stored, who):
    for url in READS + [f"/api/v1/jobs/runs/{stored['etl.clean']}",
                        f"/api/v1/runlineage/upstream?runId={stored['etl.report']}"]:
        response = clients[who].get(url)
        assert response.status_code == 200, (who, url, response.content[:300])


@pytest.mark.parametrize("who,status", [("outsider", 403), ("anonymous", 401)])
def test_outsiders_and_anonymous_are_refused_everywhere(clients, stored, who, status):
    before = AuditEntry.objects.filter(action="lineage.events.export").count()
    for url in READS + ["/api/v1/no/such/path"]:
        response = clients[who].get(url)
        assert response.status_code == status, (who, url)
        assert response.json()["code"] == status
    for url in ("/api/v1/namespaces/etl", "/api/v1/tags/pii"):
        assert clients[who].put(url, {}, format="json").status_code == status
    assert AuditEntry.objects.filter(action="lineage.events.export").count() == before
    assert not AuditEntry.objects.filter(action="marquez.write.refused").exists()


def test_reading_raw_events_is_audited_as_an_export(clients, stored, users):
    response = clients["auditor"].get("/api/v1/events/lineage", {"limit": 2, "sortDirection": "asc"})
    assert response.status_code == 200 and len(response.json()["events"]) == 2
    entry = AuditEntry.objects.filter(action="lineage.events.export").latest("seq")
    assert entry.actor_username == "auditor"
    assert entry.after["count"] == 2 and entry.after["total"] == 6 and entry.after["sort"] == "asc"
    assert len(entry.after["ingested_event_ids"]) == 2


def test_a_refused_deprecated_write_is_audited_and_changes_nothing(clients, stored):
    response = clients["engineer"].put("/api/v1/namespaces/etl/jobs/etl.new", {"type": "BATCH"}, format="json")
    assert response.status_code == 405 and response.json()["error"] == "deprecated_write"
    entry = AuditEntry.objects.filter(action="marquez.write.refused").latest("seq")
    assert entry.actor_username == "engineer" and entry.after["method"] == "PUT"
    assert clients["engineer"].get("/api/v1/namespaces/etl/jobs/etl.new").status_code == 404
