"""The group commit hands its writer role on before a group waits for its WAL flush: the next group is
written while the previous one waits, and each group's producers are answered only once their own wait
is over (a failed wait fails that group's items, and no other)."""
from __future__ import annotations

import threading
import time

from lineage.ingest.group_commit import GroupCommitter


class _Item:
    def __init__(self, name):
        self.name, self.done, self.error = name, False, None


def _wait_for(condition, what: str, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _committer(flush_fails=()):
    """A committer whose writes return a wait that blocks until the test lets that group's flush end."""
    written: list[list[str]] = []
    flushes: dict[str, threading.Event] = {}

    def write(group):
        names = [item.name for item in group]
        written.append(names)
        gate = flushes.setdefault(names[0], threading.Event())

        def finish():
            assert gate.wait(10)
            if names[0] in flush_fails:
                raise RuntimeError("the WAL flush failed")
        return finish

    return GroupCommitter(write), written, flushes


def _submit(committer, item) -> threading.Thread:
    thread = threading.Thread(target=committer.submit, args=(item,))
    thread.start()
    return thread


def test_the_next_group_is_written_while_the_previous_one_waits_for_its_flush():
    committer, written, flushes = _committer()
    first, second = _Item("first"), _Item("second")
    t1 = _submit(committer, first)
    _wait_for(lambda: written == [["first"]], "the first group's write")
    t2 = _submit(committer, second)
    # the first group still waits for its flush, yet the second is written
    _wait_for(lambda: written == [["first"], ["second"]], "the second group's write during the first's flush")
    assert not first.done and not second.done
    flushes["second"].set()
    t2.join(10)
    assert second.done and second.error is None and not first.done  # answered only after its own flush
    flushes["first"].set()
    t1.join(10)
    assert first.done and first.error is None


def test_items_queued_during_a_flush_form_one_group():
    committer, written, flushes = _committer()
    items = [_Item(f"e{i}") for i in range(4)]
    threads = [_submit(committer, items[0])]
    _wait_for(lambda: len(written) == 1, "the first write")
    flushes.setdefault("e1", threading.Event())
    # hold the role: the second writer's write blocks until the others queued
    hold = threading.Event()
    original = committer._write

    def held_write(group):
        hold.wait(10)
        return original(group)

    committer._write = held_write
    threads.append(_submit(committer, items[1]))
    _wait_for(lambda: committer._writing and not committer._queue, "the second writer to take the role")
    threads += [_submit(committer, item) for item in items[2:]]
    _wait_for(lambda: len(committer._queue) == 2, "the others to queue")
    hold.set()
    _wait_for(lambda: len(written) == 3, "the third group")
    assert written[1] == ["e1"] and sorted(written[2]) == ["e2", "e3"]
    for name in ("e0", "e1", "e2"):
        flushes[name].set()
    for t in threads:
        t.join(10)
    assert all(item.done and item.error is None for item in items)


def test_a_failed_flush_fails_its_group_only_and_the_committer_goes_on():
    committer, written, flushes = _committer(flush_fails={"bad"})
    bad, good = _Item("bad"), _Item("good")
    t1 = _submit(committer, bad)
    _wait_for(lambda: written == [["bad"]], "the first write")
    t2 = _submit(committer, good)
    _wait_for(lambda: len(written) == 2, "the second write")
    flushes["bad"].set()
    flushes["good"].set()
    t1.join(10)
    t2.join(10)
    assert bad.done and isinstance(bad.error, RuntimeError)
    assert good.done and good.error is None
    after = _Item("after")
    flushes["after"] = threading.Event()
    flushes["after"].set()
    committer.submit(after)
    assert after.done and after.error is None
