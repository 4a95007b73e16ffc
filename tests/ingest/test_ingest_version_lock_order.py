"""A run reads the dataset version committed just before it, even when that version's writer commits
while the reader waits: the reader resolves its input versions only after it holds the dataset's row lock.

(Reading them earlier, with the duplicate check, saved a round trip but let the reader link to the older
version whenever the writer committed in between.)"""
from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from lineage.ingest import service
from lineage.models import Edge, Node
from tests.support.events import run_event

pytestmark = pytest.mark.postgres_only  # two writers at once need PostgreSQL's row locks


def _waiting_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cur.fetchone()
    return bool(row) and row[0] == "Lock"


@pytest.mark.django_db(transaction=True)
def test_reader_waiting_on_the_writer_links_to_the_writers_version():
    service.ingest_event(run_event("w1", "write", outputs=["t"], time="2024-04-01T00:00:00Z"))
    writer_holds, release, reader_pid, errors = threading.Event(), threading.Event(), [], []

    def writer():
        try:
            with transaction.atomic():  # the writer's transaction stays open until the test releases it
                service.ingest_event(run_event("w2", "write", outputs=["t"], time="2024-04-01T01:00:00Z"))
                writer_holds.set()
                assert release.wait(30)
        except BaseException as exc:
            errors.append(exc)
            writer_holds.set()
        finally:
            connections.close_all()

    def reader():
        try:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                reader_pid.append(cur.fetchone()[0])
            service.ingest_event(run_event("r-after", "read", inputs=["t"], time="2024-04-01T02:00:00Z"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    w = threading.Thread(target=writer)
    w.start()
    assert writer_holds.wait(30)
    r = threading.Thread(target=reader)
    r.start()
    deadline = time.monotonic() + 30
    while not (reader_pid and _waiting_on_a_lock(reader_pid[0])):
        assert time.monotonic() < deadline, "the reader never waited for the writer's lock on the dataset"
        assert r.is_alive(), f"the reader finished without waiting: {errors}"
        time.sleep(0.02)
    release.set()
    w.join(30)
    r.join(30)
    assert not errors, errors

    run = Node.objects.get(kind="run", source_id="r-after")
    consumed = set(Edge.objects.filter(kind="consumed", dst=run, valid_to__isnull=True)
                   .values_list("src__source_id", flat=True))
    assert consumed == {"wh:t@w2"}
