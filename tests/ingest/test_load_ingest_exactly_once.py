"""R1 at a small size: the load test's own machinery (bench.load) against gunicorn on the test database.

8 client processes post their own events at once; a quarter of first attempts are abandoned before the
answer (the server stores the event anyway, and the client's retry races it on another worker or finds it
stored), a quarter of acknowledged sends are re-sent later. Every event must be stored exactly once, every
re-send answered as a duplicate, the graph must hold what the events name, and no answer may be a 5xx.

PostgreSQL only: the server is gunicorn, separate processes that must see the test's database; the SQLite
test database is in memory, invisible to them."""
from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from bench._server import Gunicorn, server_env
from bench.load import client_events, run_clients, verify
from tests.conftest import make_user

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True), pytest.mark.slow]
CLIENTS, EVENTS = 8, 40


@pytest.fixture
def server(tmp_path):
    s = connection.settings_dict
    url = f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    # The rate limit is on, as in production, high enough never to refuse (per worker: no shared cache here).
    env = server_env(url, LL_DATA_DIR=str(tmp_path), INGEST_RATE_LIMIT="100000/minute", CACHE_URL="",
                     SECRET_KEY=settings.SECRET_KEY, AUDIT_HMAC_KEY=settings.AUDIT_HMAC_KEY)
    with Gunicorn(env, workers=3) as running:
        yield running


def _tokens(prefix: str) -> list[str]:
    return [make_user(f"{prefix}-{i}", "engineer").auth_token.key for i in range(CLIENTS)]


@pytest.mark.parametrize("batch_size", [1, 5], ids=["single", "batch"])
def test_concurrent_clients_with_retries_and_resends_store_every_event_exactly_once(server, batch_size):
    events = client_events(7100 + batch_size, CLIENTS, EVENTS)
    report = run_clients(server.base, _tokens(f"load-{batch_size}"), events, batch_size=batch_size,
                         resend_share=0.25, abort_share=0.25, abort_timeout=0.001, timeout=60, seed=batch_size)
    flat = [e for own in events for e in own]
    assert verify(flat, report, batch_size=batch_size) == []
    statuses = report["statuses"]
    ok = "201" if batch_size == 1 else "200"
    assert set(statuses) <= {ok, "timeout (deliberate)"}, statuses
    # The races this test is about happened: abandoned first attempts, and re-sends of acknowledged events.
    assert statuses.get("timeout (deliberate)", 0) > 0 and report["tally"]["resent"] > 0
    assert report["tally"]["created"] + report["tally"].get("created_by_abandoned_attempt", 0) == len(flat)


def test_the_check_finds_a_lost_event_and_a_double_answer(server):
    """verify() is what the load test's verdict rests on: it must see an event that never arrived and a
    re-send that was not answered as a duplicate."""
    events = client_events(7200, 2, 10)
    report = run_clients(server.base, _tokens("check")[:2], events, resend_share=0.5, abort_share=0.0, seed=3)
    flat = [e for own in events for e in own]
    assert verify(flat, report) == []
    never_sent = client_events(7300, 1, 1)[0]
    problems = verify(flat + never_sent, report)
    assert any("stored, expected exactly" in p for p in problems)
    assert any("missing" in p for p in problems)
    report["tally"]["resent_duplicate"] -= 1
    assert any("answered as duplicates" in p for p in verify(flat, report))
