"""A batch reports an event that cannot be stored the same way on every database (a lone surrogate, a NUL
character, more than INGEST_MAX_EVENT_BYTES) as that item's failure and stores the others; a single POST of
the same event is refused with the same code, on SQLite as on PostgreSQL."""
from __future__ import annotations

import json

import pytest

from lineage.ingest.models import IngestedEvent


def _event(run_id: str, job: str = "job") -> str:
    return json.dumps({"eventType": "START", "eventTime": "2024-01-01T00:00:00Z", "run": {"runId": run_id},
                       "job": {"namespace": "ns", "name": job}, "producer": "https://example.com/p"})


SURROGATE = _event("r-bad").replace('"name": "job"', '"name": "surr\\ud800x"')
NUL = _event("r-nul", job="n\u0000l")


@pytest.mark.django_db
@pytest.mark.parametrize("bad,code", [(SURROGATE, "invalid_unicode"), (NUL, "nul_character")], ids=["surrogate", "nul"])
def test_one_bad_item_fails_alone(clients, bad, code):
    body = "[" + ", ".join([_event("r-1"), bad, _event("r-3")]) + "]"
    answer = clients["engineer"].post("/api/v1/lineage/batch", data=body, content_type="application/json")
    assert answer.status_code == 200, answer.content
    payload = answer.json()
    assert payload["status"] == "partial_success"
    assert payload["summary"]["successful"] == 2 and payload["summary"]["failed"] == 1
    assert [f["index"] for f in payload["failed_events"]] == [1]
    assert payload["failed_events"][0]["reason"].startswith(code + ": $.job.name")
    assert sorted(IngestedEvent.objects.values_list("run_id", flat=True)) == ["r-1", "r-3"]
    single = clients["engineer"].post("/api/v1/lineage", data=bad, content_type="application/json")
    assert single.status_code == 422 and single.json()["error"] == code
    assert IngestedEvent.objects.count() == 2


@pytest.mark.django_db
def test_an_event_over_the_size_limit_fails_alone(clients, settings):
    settings.INGEST_MAX_EVENT_BYTES = 2000
    big = json.loads(_event("r-big"))
    big["run"]["facets"] = {"plan": {"text": "x" * 3000}}
    body = json.dumps([json.loads(_event("r-1")), big])
    payload = clients["engineer"].post("/api/v1/lineage/batch", data=body, content_type="application/json").json()
    assert [f["index"] for f in payload["failed_events"]] == [1]
    assert payload["failed_events"][0]["reason"].startswith("event_too_large:")
    single = clients["engineer"].post("/api/v1/lineage", data=json.dumps(big), content_type="application/json")
    assert single.status_code == 413 and single.json()["error"] == "event_too_large"
    assert "INGEST_MAX_EVENT_BYTES" in single.json()["detail"]
    assert list(IngestedEvent.objects.values_list("run_id", flat=True)) == ["r-1"]
