"""The ingest's locked read and the audit chain's statements go through lineage.store's prepared
statements on PostgreSQL: one text each whatever the event (so PostgreSQL plans it once per connection),
the same stored rows and the same chain as ever, and a prepared statement discarded under the connection
(DISCARD ALL, as a pooler may send) fails one request at most, after which everything is prepared again."""
from __future__ import annotations

import pytest
from django.db import connection

from governance.audit.models import AuditEntry
from governance.audit.verify import verify_chain
from lineage.ingest import service
from lineage.ingest.models import IngestedEvent
from tests.support.events import run_event

pytestmark = pytest.mark.postgres_only  # prepared statements are the PostgreSQL fast path's


def _prepared() -> dict[str, str]:
    with connection.cursor() as cur:
        cur.execute("SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'll\\_%%'")
        return dict(cur.fetchall())


def _kinds(names) -> set[str]:
    return {name.rsplit("_", 1)[0] for name in names}


def test_events_of_different_shapes_share_one_text_per_statement(transactional_db):
    service.ingest_event(run_event("ps-1", "ps-job", inputs=["ps-a"], outputs=["ps-b"]))
    first = _prepared()
    assert {"ll_locked_nodes", "ll_locked_read", "ll_audit_lock", "ll_audit_tail", "ll_ins_audit"} <= _kinds(first)
    # more inputs and outputs, another job, a repeat of the first event: no further PREPARE of these
    service.ingest_event(run_event("ps-2", "ps-job-2", inputs=["ps-a", "ps-b", "ps-c"], outputs=["ps-d", "ps-e"],
                                   time="2024-04-02T00:00:00Z"))
    service.ingest_event(run_event("ps-1", "ps-job", inputs=["ps-a"], outputs=["ps-b"]))
    later = _prepared()
    for name, text in first.items():
        if name.rsplit("_", 1)[0] in ("ll_locked_nodes", "ll_locked_read", "ll_audit_lock", "ll_audit_tail", "ll_ins_audit"):
            assert later.get(name) == text, name
    assert len(_kinds(later)) == len(later)  # one of each, not one per event
    assert IngestedEvent.objects.count() == 2 and AuditEntry.objects.filter(action="ingest.event").count() == 3
    assert verify_chain().ok


def test_statements_discarded_under_the_connection_are_prepared_again(transactional_db):
    service.ingest_event(run_event("pd-1", "pd-job", inputs=["pd-a"], outputs=["pd-b"]))
    with connection.cursor() as cur:
        cur.execute("DISCARD ALL")
    failures = 0
    for i in range(2, 5):
        try:
            service.ingest_event(run_event(f"pd-{i}", "pd-job", inputs=["pd-a"], outputs=["pd-b"],
                                           time=f"2024-04-0{i}T00:00:00Z"))
        except Exception:
            failures += 1
    assert failures <= 1
    assert IngestedEvent.objects.count() == 4 - failures
    assert verify_chain().ok
