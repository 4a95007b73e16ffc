"""An ingest transaction on PostgreSQL sends BEGIN with its first statement and COMMIT with its last
writes: psycopg2 sends no BEGIN or COMMIT of its own, the first round trip takes the row locks and reads
what the mapping needs, and the audit entry's INSERT and the COMMIT share the last one."""
from __future__ import annotations

import re

import pytest
from django.db import connection
from django.db.backends.utils import CursorWrapper

from governance.audit.models import AuditEntry
from lineage.ingest import service
from lineage.ingest.models import IngestedEvent
from tests.support.events import run_event

pytestmark = pytest.mark.postgres_only  # several statements per round trip are PostgreSQL's


def _round_trips(monkeypatch, body) -> list[tuple[str, bool]]:
    """(SQL as sent, psycopg2 in autocommit mode) of every execute through Django's cursors: observed
    below every execute wrapper, where the SQL goes to psycopg2 (one round trip each)."""
    sent = []
    real = CursorWrapper._execute

    def spy(self, sql, params, *ignored):
        sent.append((sql, connection.connection.autocommit))
        return real(self, sql, params, *ignored)

    monkeypatch.setattr(CursorWrapper, "_execute", spy)
    service.ingest_event(body)
    monkeypatch.undo()
    return sent


def _prepared_bodies(names: list[str]) -> dict[str, str]:
    with connection.cursor() as cur:
        cur.execute("SELECT name, statement FROM pg_prepared_statements WHERE name = ANY(%s)", [names])
        return dict(cur.fetchall())


def test_begin_rides_with_the_locking_read_and_commit_with_the_audit_insert(transactional_db, monkeypatch):
    service.ingest_event(run_event("rt-0", "rt-job", inputs=["rt-in"], outputs=["rt-out"]))  # nodes exist
    sent = _round_trips(monkeypatch, run_event("rt-1", "rt-job", inputs=["rt-in"], outputs=["rt-out"],
                                               time="2024-04-01T01:00:00Z"))

    # psycopg2 in autocommit mode for every statement: it sends no BEGIN (nor COMMIT) of its own.
    assert all(autocommit for _, autocommit in sent), sent
    statements = [sql for sql, _ in sent]
    first = statements[0]
    assert first.startswith("BEGIN; SET LOCAL synchronous_commit TO OFF; ")
    # locks, then reads, one round trip: two prepared statements (the event's nodes existed, so both were
    # prepared by the first ingest and are only executed now)
    executed = re.findall(r"EXECUTE (ll_\w+)\(", first)
    assert [name.rsplit("_", 1)[0] for name in executed] == ["ll_locked_nodes", "ll_locked_read"], first
    bodies = _prepared_bodies(executed)
    assert "FOR UPDATE" in bodies[executed[0]] and "ingest_ingestedevent" in bodies[executed[1]]
    assert "$1" in bodies[executed[0]]  # parameters, not literal values: one text whatever the event
    commits = [i for i, sql in enumerate(statements) if "COMMIT" in sql]
    assert len(commits) == 1
    last = statements[commits[0]]
    # the audit entry's INSERT (prepared by the first ingest) rides with the COMMIT
    inserts = re.findall(r"EXECUTE (ll_ins_audit_\d+)\(", last.split("COMMIT")[0])
    assert len(inserts) == 1, last
    assert "INSERT INTO audit_auditentry" in _prepared_bodies(inserts)[inserts[0]]
    # the wait for the WAL flush rides after the COMMIT, outside the transaction, in the same round trip
    assert last.rstrip().endswith("COMMIT; " + service.DURABILITY_SQL)
    assert commits[0] == len(statements) - 1
    assert not any(sql.strip() in ("BEGIN", "COMMIT") for sql in statements)
    assert IngestedEvent.objects.count() == 2 and AuditEntry.objects.filter(action="ingest.event").count() == 2
    assert AuditEntry.objects.order_by("seq").last().object_id == "rt-1"


def test_a_failed_transaction_is_rolled_back_and_the_connection_stays_usable(transactional_db, monkeypatch):
    """psycopg2's rollback does nothing in autocommit mode: the unit of work sends ROLLBACK itself."""
    real_record = service._record_singles

    def failing(group, stored, held=None):
        real_record(group, stored, held)
        with connection.cursor() as cur:
            cur.execute("SELECT 1/0")

    monkeypatch.setattr(service, "_record_singles", failing)
    with pytest.raises(Exception):
        service.ingest_event(run_event("rt-fail", "rt-job"))
    monkeypatch.undo()
    assert connection.connection.info.transaction_status == 0  # idle: no transaction left open
    assert IngestedEvent.objects.count() == 0 and not AuditEntry.objects.filter(action="ingest.event").exists()
    service.ingest_event(run_event("rt-fail", "rt-job"))  # the same event, on the same connection
    assert IngestedEvent.objects.count() == 1
