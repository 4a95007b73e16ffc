"""Two real PostgreSQL transactions, the second made to wait on the first's row locks: what the ingest's
lock-order tests need, in one place."""
from __future__ import annotations

import threading
import time
from typing import Callable

from django.db import connection, connections, transaction


def _waiting_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cur.fetchone()
    return bool(row) and row[0] == "Lock"


def second_waits_on_first(first: Callable[[], None], second: Callable[[], None], *, what: str) -> None:
    """Run `first` in a transaction that stays open, then `second` in its own thread and connection; once
    `second` is seen waiting on a lock (pg_stat_activity), let `first` commit and both finish. Fails when
    `second` finishes without waiting (`what` names the lock it should have waited for) or either raises."""
    first_holds, release, second_pid, errors = threading.Event(), threading.Event(), [], []

    def run_first():
        try:
            with transaction.atomic():  # holds its row locks until released below
                first()
                first_holds.set()
                assert release.wait(30)
        except BaseException as exc:
            errors.append(exc)
            first_holds.set()
        finally:
            connections.close_all()

    def run_second():
        try:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                second_pid.append(cur.fetchone()[0])
            second()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    a = threading.Thread(target=run_first)
    a.start()
    assert first_holds.wait(30)
    b = threading.Thread(target=run_second)
    b.start()
    deadline = time.monotonic() + 30
    while not (second_pid and _waiting_on_a_lock(second_pid[0])):
        assert time.monotonic() < deadline, f"the second transaction never waited for {what}"
        assert b.is_alive(), f"the second transaction finished without waiting: {errors}"
        time.sleep(0.02)
    release.set()
    a.join(30)
    b.join(30)
    assert not errors, errors
