"""Per-token ingest rate limit (INGEST_RATE_LIMIT): past the limit a producer gets 429 with Retry-After,
the refused event leaves no trace in the store, and other tokens keep their own budget."""
from __future__ import annotations

import json
import uuid

import pytest
from django.core.cache import cache

from governance.audit.models import AuditEntry
from lineage.ingest.models import IngestedEvent
from lineage.ingest.throttling import IngestRateThrottle
from lineage.models import Edge, Node, NodeRevision, RawRecord


@pytest.fixture(autouse=True)
def _fresh_counts(settings):
    """Counts live in the (process-wide) cache: start and end every test with none."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


def _event(name: str) -> dict:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2024-01-01T00:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "ns", "name": name},
        "inputs": [{"namespace": "db", "name": f"{name}.in"}],
        "outputs": [{"namespace": "db", "name": f"{name}.out"}],
        "producer": "https://example.com/p",
    }


def _post(client, body, path="/api/v1/lineage"):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def _counts():
    return [m.objects.count() for m in (RawRecord, Node, Edge, NodeRevision, IngestedEvent, AuditEntry)]


@pytest.mark.django_db
def test_over_the_limit_is_429_with_retry_after_and_stores_nothing(clients, settings):
    settings.INGEST_RATE_LIMIT = "2/minute"
    engineer = clients["engineer"]
    assert _post(engineer, _event("a")).status_code == 201
    assert _post(engineer, _event("b")).status_code == 201
    before = _counts()

    refused = _post(engineer, _event("c"))

    assert refused.status_code == 429, refused.content
    retry_after = int(refused["Retry-After"])
    assert 1 <= retry_after <= 60
    assert refused.json()["error"] == "throttled"
    assert _counts() == before
    assert not IngestedEvent.objects.filter(job_name="c").exists()
    # Neither the job nor its datasets (run ids are random, so match exact names, not prefixes), while an
    # accepted event's job and datasets are there under those names.
    assert Node.objects.filter(name__in=["a", "a.in", "a.out"]).exists()
    assert not Node.objects.filter(name__in=["c", "c.in", "c.out"]).exists()


@pytest.mark.django_db
def test_batch_counts_against_the_same_budget(clients, settings):
    settings.INGEST_RATE_LIMIT = "1/hour"
    engineer = clients["engineer"]
    assert _post(engineer, _event("single")).status_code == 201
    before = _counts()

    refused = _post(engineer, [_event("x"), _event("y")], path="/api/v1/lineage/batch")

    assert refused.status_code == 429, refused.content
    assert 60 < int(refused["Retry-After"]) <= 3600
    assert _counts() == before


@pytest.mark.django_db
def test_each_token_has_its_own_budget(clients, settings):
    settings.INGEST_RATE_LIMIT = "1/minute"
    assert _post(clients["engineer"], _event("e1")).status_code == 201
    assert _post(clients["engineer"], _event("e2")).status_code == 429
    assert _post(clients["admin"], _event("a1")).status_code == 201
    assert _post(clients["admin"], _event("a2")).status_code == 429


@pytest.mark.django_db
def test_reads_are_not_limited(clients, settings):
    settings.INGEST_RATE_LIMIT = "1/minute"
    assert _post(clients["engineer"], _event("r")).status_code == 201
    for _ in range(3):
        response = clients["engineer"].get("/api/v1/lineage", {"nodeId": "job:ns:r", "depth": 1})
        assert response.status_code != 429


@pytest.mark.django_db
def test_refused_callers_are_answered_before_the_limit_counts(clients, settings):
    """Anonymous and role-less callers get 401/403 as before: the limit never hides a missing right."""
    settings.INGEST_RATE_LIMIT = "1/minute"
    for _ in range(2):
        assert _post(clients["anonymous"], _event("n")).status_code == 401
        assert _post(clients["auditor"], _event("n")).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("off", ["", "0"])
def test_off_by_default_and_when_zero(clients, settings, off):
    settings.INGEST_RATE_LIMIT = off
    for i in range(25):
        assert _post(clients["engineer"], _event(f"free{i}")).status_code == 201


def test_a_misspelt_rate_fails_loudly(settings):
    settings.INGEST_RATE_LIMIT = "10 per minute"
    with pytest.raises(ValueError, match="INGEST_RATE_LIMIT"):
        IngestRateThrottle()


def test_the_window_slides(settings):
    """After the window the oldest request no longer counts (time moved by hand, not slept)."""
    from types import SimpleNamespace

    settings.INGEST_RATE_LIMIT = "1/second"
    request = SimpleNamespace(method="POST", user=SimpleNamespace(is_authenticated=True, pk=4242))
    clock = [1000.0]

    def throttle():
        t = IngestRateThrottle()
        t.timer = lambda: clock[0]
        return t

    assert throttle().allow_request(request, None)
    second = throttle()
    assert not second.allow_request(request, None)
    assert second.wait() == 1
    clock[0] += 1.01
    assert throttle().allow_request(request, None)
