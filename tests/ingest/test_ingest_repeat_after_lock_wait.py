"""A repeat of an event that a concurrent transaction is committing is answered "duplicate" once that
transaction commits, without being written and refused first: the duplicate check runs after the row
locks are granted, in the same round trip (lineage.ingest.service._locked_read), so a request that waited
for the other writer's locks sees what that writer committed."""
from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from lineage.ingest import service
from lineage.ingest.models import IngestedEvent
from lineage.models import RawRecord
from tests.support.events import run_event

pytestmark = pytest.mark.postgres_only  # two writers at once need PostgreSQL's row locks

EVENT = run_event("rep-1", "rep-job", inputs=["rep-in"], outputs=["rep-out"], time="2024-05-01T00:00:00Z")


def _waiting_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cur.fetchone()
    return bool(row) and row[0] == "Lock"


@pytest.mark.django_db(transaction=True)
def test_a_repeat_waiting_for_the_first_writers_locks_is_a_duplicate_without_a_retry(monkeypatch):
    service.ingest_event(run_event("rep-0", "rep-job", inputs=["rep-in"], outputs=["rep-out"]))  # the nodes exist
    retries = []
    real_reset = service._reset
    monkeypatch.setattr(service, "_reset", lambda group: (retries.append(len(group)), real_reset(group)))
    writer_holds, release, repeat_pid, errors, answers = threading.Event(), threading.Event(), [], [], []

    def writer():
        try:
            with transaction.atomic():  # holds its row locks until the test releases it
                answers.append(("writer", service.ingest_event(EVENT).duplicate))
                writer_holds.set()
                assert release.wait(30)
        except BaseException as exc:
            errors.append(exc)
            writer_holds.set()
        finally:
            connections.close_all()

    def repeat():
        try:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                repeat_pid.append(cur.fetchone()[0])
            answers.append(("repeat", service.ingest_event(EVENT).duplicate))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    w = threading.Thread(target=writer)
    w.start()
    assert writer_holds.wait(30)
    r = threading.Thread(target=repeat)
    r.start()
    deadline = time.monotonic() + 30
    while not (repeat_pid and _waiting_on_a_lock(repeat_pid[0])):
        assert time.monotonic() < deadline, "the repeat never waited for the writer's row locks"
        assert r.is_alive(), f"the repeat finished without waiting: {errors}"
        time.sleep(0.02)
    release.set()
    w.join(30)
    r.join(30)
    assert not errors, errors
    assert sorted(answers) == [("repeat", True), ("writer", False)]
    assert retries == []  # not written, refused by the unique index and written again
    assert IngestedEvent.objects.filter(run_id="rep-1").count() == 1
    assert RawRecord.objects.filter(source_id="rep-1").count() == 1
