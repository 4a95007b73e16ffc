"""An ingest is acknowledged only once it is on disk, yet its locks are not held through the disk flush
(PostgreSQL: commit with synchronous_commit off, then wait for the WAL flush with no lock held — the
wait sent after the COMMIT in the same round trip, service.DURABILITY_SQL)."""
from __future__ import annotations

import psycopg2
import pytest
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from governance.audit.recorder import ADVISORY_LOCK_KEY
from lineage.ingest import service
from lineage.ingest.models import IngestedEvent

pytestmark = pytest.mark.postgres_only  # WAL flushing and advisory locks are PostgreSQL's

EVENT = {
    "eventType": "START", "eventTime": "2024-03-01T00:00:00Z", "producer": "https://example.com/p",
    "run": {"runId": "d0d0d0d0-1111-4222-8333-444455556666"}, "job": {"namespace": "dur", "name": "job"},
    "outputs": [{"namespace": "db", "name": "t"}],
}


def _other_connection():
    params = connection.get_connection_params()
    other = psycopg2.connect(**{k: v for k, v in params.items() if k in ("host", "port", "user", "password", "dbname", "database")})
    other.autocommit = True
    return other


def _sent(monkeypatch) -> list[str]:
    """The SQL of every round trip through Django's cursors from now on (one psycopg2 execute each)."""
    sent: list[str] = []
    real = CursorWrapper._execute

    def spy(self, sql, params, *ignored):
        sent.append(sql)
        return real(self, sql, params, *ignored)

    monkeypatch.setattr(CursorWrapper, "_execute", spy)
    return sent


def _waits(sent: list[str]) -> list[str]:
    return [sql for sql in sent if service.DURABILITY_SQL in sql]


def test_acknowledged_event_waited_for_the_flush_after_its_commit_in_one_round_trip(transactional_db, monkeypatch):
    sent = _sent(monkeypatch)
    service.ingest_event(EVENT)
    monkeypatch.undo()
    waits = _waits(sent)
    assert len(waits) == 1 and waits[0] is sent[-1], sent  # the last round trip, nothing after it
    # the wait follows the COMMIT (locks released, event visible) and ends the text
    assert waits[0].endswith("COMMIT; " + service.DURABILITY_SQL)
    other = _other_connection()
    try:
        with other.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
            assert cur.fetchone()[0] is True
            cur.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
            cur.execute("SELECT count(*) FROM ingest_ingestedevent")
            assert cur.fetchone()[0] == 1
    finally:
        other.close()
    with connection.cursor() as cur:
        cur.execute("SHOW synchronous_commit")
        assert cur.fetchone()[0] == "on"  # SET LOCAL: later transactions on this connection are synchronous
    assert IngestedEvent.objects.count() == 1


def test_the_wait_is_its_own_synchronous_commit_of_a_wal_record(transactional_db):
    """Why the wait makes the ingest durable: sent after the ingest's COMMIT in one query string, it runs in
    a transaction of its own, with the connection's synchronous_commit (the ingest's SET LOCAL ended with
    its COMMIT), and that transaction writes WAL (a transactional logical message): its commit record lies
    after the ingest's, and a synchronous commit returns only once the WAL up to it is on disk. (Checking
    the flush position after the fact cannot show this: PostgreSQL's WAL writer flushes within
    milliseconds anyway.) Shown here with the same string shape and a probe in place of the message."""
    assert "pg_logical_emit_message(true," in service.DURABILITY_SQL.replace(" ", "")  # transactional
    connection.ensure_connection()
    raw = connection.connection
    autocommit = raw.autocommit
    raw.autocommit = True
    try:
        with raw.cursor() as cur:
            cur.execute("BEGIN; SET LOCAL synchronous_commit TO OFF; SELECT txid_current(); COMMIT; "
                        "SELECT current_setting('synchronous_commit'), txid_current_if_assigned() IS NULL, "
                        "txid_current() > 0")
            setting, fresh, _ = cur.fetchone()
            cur.execute("BEGIN; SELECT 1; COMMIT; " + service.DURABILITY_SQL)
            cur.fetchone()
    finally:
        raw.autocommit = autocommit
    assert setting == "on" and fresh  # a new transaction, synchronous


def test_inside_a_callers_transaction_the_callers_commit_decides(transactional_db, monkeypatch):
    sent = _sent(monkeypatch)
    with transaction.atomic():
        service.ingest_event(EVENT)
        with connection.cursor() as cur:
            cur.execute("SHOW synchronous_commit")
            assert cur.fetchone()[0] == "on"
    monkeypatch.undo()
    assert _waits(sent) == [] and not any("COMMIT" in sql for sql in sent)
    assert IngestedEvent.objects.count() == 1


def test_without_the_flush_function_commits_stay_synchronous(transactional_db, monkeypatch):
    """A role that may not call pg_logical_emit_message (an operator revoked it) keeps synchronous commits."""
    monkeypatch.setitem(service._can_flush_by_alias, connection.alias, False)
    real_store = service._store
    settings_seen = []

    def spy(prepared, user, sql_prefix=""):
        stored = real_store(prepared, user, sql_prefix)
        with connection.cursor() as cur:  # still inside the ingest transaction, after its first statement
            cur.execute("SHOW synchronous_commit")
            settings_seen.append(cur.fetchone()[0])
        return stored

    monkeypatch.setattr(service, "_store", spy)
    sent = _sent(monkeypatch)
    service.ingest_event(EVENT)
    assert _waits(sent) == [] and settings_seen == ["on"]
    assert sent[-1].rstrip().endswith("COMMIT")
    assert IngestedEvent.objects.count() == 1


def test_a_batch_is_flushed_once_after_its_commit(transactional_db, monkeypatch):
    sent = _sent(monkeypatch)
    second = dict(EVENT, eventType="COMPLETE", eventTime="2024-03-01T00:05:00Z")
    answer = service.ingest_batch([EVENT, second])
    monkeypatch.undo()
    assert answer["summary"]["successful"] == 2
    waits = _waits(sent)
    assert len(waits) == 1 and waits[0].endswith("COMMIT; " + service.DURABILITY_SQL)
