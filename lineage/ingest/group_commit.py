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
    of it is recorded on every item of its group that has none."""

    def __init__(self, write: Callable[[list], None]):
        self._write = write
        self._cond = threading.Condition()
        self._queue: list = []
        self._writing = False

    def submit(self, item) -> None:
        """Return once `item` is written or has failed (`item.error`). Items need `done` (False) and `error`
        (None) attributes."""
        with self._cond:
            self._queue.append(item)
            while self._writing and not item.done:
                self._cond.wait()
            if item.done:
                return
            self._writing = True
            group, self._queue = self._queue, []
        try:
            self._write(group)
        except BaseException as exc:  # noqa: BLE001 - handed to every submitter of the group, raised there
            for member in group:
                if member.error is None:
                    # A worker being stopped (SystemExit) stops this thread only; the others report a failure.
                    member.error = exc if member is item or isinstance(exc, Exception) else RuntimeError(
                        "the server stopped while writing this event's group")
            if not isinstance(exc, Exception):
                raise
        finally:
            with self._cond:
                for member in group:
                    member.done = True
                self._writing = False
                self._cond.notify_all()
