"""An ingest is acknowledged only once it is on disk, yet its locks are not held through the disk flush
(PostgreSQL: commit with synchronous_commit off, then wait for the WAL flush with no lock held)."""
from __future__ import annotations

import psycopg2
import pytest
from django.db import connection, transaction

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


def test_acknowledged_event_is_flushed_and_locks_were_free_during_the_flush(transactional_db, monkeypatch):
    seen = {}
    real_wait = service._wait_for_durability

    def spy():
        with connection.cursor() as cur:
            # Taken after the ingest's COMMIT: at or past the end of its commit record.
            cur.execute("SELECT pg_current_wal_insert_lsn()::text")
            seen["commit_lsn"] = cur.fetchone()[0]
        other = _other_connection()
        try:
            with other.cursor() as cur:
                # The audit chain lock is free while we wait for the disk: another ingest may proceed.
                cur.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
                seen["chain_lock_free"] = cur.fetchone()[0]
                cur.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
                # ...and the event is already visible to other connections.
                cur.execute("SELECT count(*) FROM ingest_ingestedevent")
                seen["visible"] = cur.fetchone()[0]
        finally:
            other.close()
        real_wait()

    monkeypatch.setattr(service, "_wait_for_durability", spy)
    service.ingest_event(EVENT)
    assert seen["chain_lock_free"] is True and seen["visible"] == 1
    with connection.cursor() as cur:
        cur.execute("SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn", [seen["commit_lsn"]])
        assert cur.fetchone()[0] is True, "ingest_event returned before its commit reached the disk"
        cur.execute("SHOW synchronous_commit")
        assert cur.fetchone()[0] == "on"  # SET LOCAL: later transactions on this connection are synchronous
    assert IngestedEvent.objects.count() == 1


def test_the_wait_is_its_own_synchronous_commit_of_a_wal_record(transactional_db):
    """Why the wait makes the ingest durable: it commits, synchronously and outside any transaction, a
    transaction that writes WAL (a transactional logical message); that commit record lies after the
    ingest's, and a synchronous commit returns only once the WAL up to it is on disk. (Checking the flush
    position after the fact cannot show this: PostgreSQL's WAL writer flushes within milliseconds anyway.)"""
    executed = []

    def watch(execute, sql, params, many, context):
        with connection.cursor() as cur:
            cur.cursor.execute("SHOW synchronous_commit")
            sync = cur.cursor.fetchone()[0]
        executed.append((sql, connection.in_atomic_block, connection.get_autocommit(), sync))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        service._wait_for_durability()
    assert len(executed) == 1
    sql, in_atomic, autocommit, sync = executed[0]
    assert "pg_logical_emit_message(true," in sql.replace(" ", "")  # transactional: it commits a WAL record
    assert not in_atomic and autocommit and sync == "on"


def test_inside_a_callers_transaction_the_callers_commit_decides(transactional_db, monkeypatch):
    waits = []
    monkeypatch.setattr(service, "_wait_for_durability", lambda: waits.append(1))
    with transaction.atomic():
        service.ingest_event(EVENT)
        with connection.cursor() as cur:
            cur.execute("SHOW synchronous_commit")
            assert cur.fetchone()[0] == "on"
    assert waits == []
    assert IngestedEvent.objects.count() == 1


def test_without_the_flush_function_commits_stay_synchronous(transactional_db, monkeypatch):
    """A role that may not call pg_logical_emit_message (an operator revoked it) keeps synchronous commits."""
    monkeypatch.setitem(service._can_flush_by_alias, connection.alias, False)
    waits = []
    monkeypatch.setattr(service, "_wait_for_durability", lambda: waits.append(1))
    real_store = service._store
    settings_seen = []

    def spy(prepared, user, sql_prefix=""):
        stored = real_store(prepared, user, sql_prefix)
        with connection.cursor() as cur:  # still inside the ingest transaction, after its first statement
            cur.execute("SHOW synchronous_commit")
            settings_seen.append(cur.fetchone()[0])
        return stored

    monkeypatch.setattr(service, "_store", spy)
    service.ingest_event(EVENT)
    assert waits == [] and settings_seen == ["on"]
    assert IngestedEvent.objects.count() == 1


def test_a_batch_is_flushed_once_after_its_commit(transactional_db, monkeypatch):
    waits = []
    real_wait = service._wait_for_durability

    def spy():
        waits.append(connection.in_atomic_block)
        real_wait()

    monkeypatch.setattr(service, "_wait_for_durability", spy)
    second = dict(EVENT, eventType="COMPLETE", eventTime="2024-03-01T00:05:00Z")
    answer = service.ingest_batch([EVENT, second])
    assert answer["summary"]["successful"] == 2
    assert waits == [False]
