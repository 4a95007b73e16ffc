"""Group commit for single-event POSTs: requests that arrive while one process is writing share the next
transaction.

Why: an event posted alone pays for a whole transaction — its statements' round trips, the audit chain's
lock, the commit and the wait for the WAL flush — and those fixed costs were about nine tenths of what a
single POST cost, against a tenth of it per event in a batch. Producers post one event per request
(openlineage-python's HttpTransport does), so the server batches for them: while one thread of a process
writes, the requests that arrive queue up, and the next writer takes all of them in one transaction.
Nobody waits on a timer: a lone request is a group of one, written at once, as before.

What each event keeps: its raw record, graph facts and IngestedEvent row are written in the same
transaction (the group's), it gets its own `ingest.event` audit entry with its own actor and request id,
a repeat of an event (also within one group) is a duplicate, and its producer is answered only once the
group is durable. A group the database refuses whole is written again one event per transaction, so one
bad event is refused alone (lineage.ingest.service._write_singles).

The writer role is handed on before the group's last round trip (`hand_on`): the ingest calls it once
all that is left of its transaction is the round trip that carries its last INSERT, the COMMIT and, after
it, the wait for the WAL flush (synchronous_commit off for the transaction, then an explicit wait, so the
row locks are not held through the fsync). The next writer's transaction then waits at the database for
the row locks it shares with this one, and for nothing else; concurrent flushes share one fsync, and this
group's producers are answered only once its `write` has returned. Holding the role through the flush had
8 concurrent clients using about half of 2 cores.

Only the threads of one process can share a group (gunicorn's gthread worker, Django's threaded live
server); a sync worker serves one request at a time, and each of its groups is a group of one.
"""
from __future__ import annotations

import threading
from typing import Callable


class GroupCommitter:
    """Hands each submitted item to exactly one call of `write(items)`, one call at a time per process,
    with every item that was waiting when that call began.

    A submitter whose item was not written yet when the previous call ended becomes the next writer, in
    its own thread (with its own database connection), so there is no background thread to start, to
    stop around a fork, or to die unnoticed. `write` records the outcome on each item; an exception out
    of it is recorded on every item of its group that has none. `write` may hand the role on (`hand_on`)
    before it returns; the group's items are done only once it has."""

    def __init__(self, write: Callable[[list], None]):
        self._write = write
        self._cond = threading.Condition()
        self._queue: list = []
        self._writing = False
        self._local = threading.local()  # whether this thread holds the writer role

    def hand_on(self) -> None:
        """Called by a writer inside `write` once the rest of its write can go on beside the next writer's
        (lineage.ingest.service: when only the round trip that carries the COMMIT is left): the role passes
        on now instead of when `write` returns. Does nothing in a thread that does not hold the role (a
        write outside the group commit, or a role already handed on)."""
        if getattr(self._local, "holding", False):
            self._local.holding = False
            with self._cond:
                self._writing = False
                self._cond.notify_all()

    def submit(self, item) -> None:
        """Return once `item` is written or has failed (`item.error`). Items need `done` (False) and `error`
        (None) attributes."""
        with self._cond:
            self._queue.append(item)
            item._group_taken = False
            # Wait while another writer holds the role, or while this item's group (taken by another
            # writer) finishes after handing the role on.
            while not item.done and (self._writing or item._group_taken):
                self._cond.wait()
            if item.done:
                return
            self._writing = True
            group, self._queue = self._queue, []
            for member in group:
                member._group_taken = True
        self._local.holding = True
        try:
            self._write(group)
        except BaseException as exc:
            self._fail(group, item, exc)
            if not isinstance(exc, Exception):
                self.hand_on()
                self._end(group)
                raise
        self.hand_on()  # if `write` did not
        self._end(group)

    @staticmethod
    def _fail(group: list, item, exc: BaseException) -> None:
        for member in group:
            if member.error is None:
                # A worker being stopped (SystemExit) stops this thread only; the others report a failure.
                member.error = exc if member is item or isinstance(exc, Exception) else RuntimeError(
                    "the server stopped while writing this event's group")

    def _end(self, group: list) -> None:
        with self._cond:
            for member in group:
                member.done = True
            self._cond.notify_all()
