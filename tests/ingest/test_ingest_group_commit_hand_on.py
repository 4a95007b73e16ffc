"""A group writer may hand its role on before its write returns (GroupCommitter.hand_on; the ingest does
before the round trip that carries its COMMIT): the next writer starts at once, the first group is still
answered only when its own write is over, and a role handed on is never released a second time (which
would let two writers in at once)."""
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


def _submit(committer, item) -> threading.Thread:
    thread = threading.Thread(target=committer.submit, args=(item,))
    thread.start()
    return thread


def test_the_next_writer_starts_once_the_role_is_handed_on_and_no_two_writers_hold_it():
    gates = {name: threading.Event() for name in ("a", "b", "c")}
    entered = {name: threading.Event() for name in gates}
    started = []
    committer = None

    def write(group):
        name = group[0].name
        started.append(name)
        if name == "a":
            committer.hand_on()
            committer.hand_on()  # a second call is a no-op
        entered[name].set()
        assert gates[name].wait(10)  # b holds the role while it waits here: it did not hand it on

    committer = GroupCommitter(write)
    a, b, c = _Item("a"), _Item("b"), _Item("c")
    ta = _submit(committer, a)
    assert entered["a"].wait(10)
    tb = _submit(committer, b)
    assert entered["b"].wait(10)  # a's write has not returned, yet b is written: a handed the role on
    assert not a.done and not b.done
    tc = _submit(committer, c)
    _wait_for(lambda: committer._queue == [c], "c to queue behind b")
    gates["a"].set()  # a's write returns: that must not release the role b holds
    ta.join(10)
    assert a.done and a.error is None
    time.sleep(0.1)
    assert started == ["a", "b"] and not c.done, "a released the role b holds: two writers at once"
    gates["b"].set()
    _wait_for(lambda: started == ["a", "b", "c"], "c's write once b returned")
    gates["c"].set()
    for t in (tb, tc):
        t.join(10)
    assert b.done and c.done and not (b.error or c.error)


def test_a_writer_holding_the_role_keeps_it_until_it_hands_it_on():
    release = threading.Event()
    written = []
    committer = None

    def write(group):
        written.append(group[0].name)
        if group[0].name == "first":
            assert release.wait(10)  # holds the role: no hand_on
            committer.hand_on()

    committer = GroupCommitter(write)
    first, second = _Item("first"), _Item("second")
    t1 = _submit(committer, first)
    _wait_for(lambda: written == ["first"], "the first write")
    t2 = _submit(committer, second)
    _wait_for(lambda: committer._queue == [second], "the second item to queue")
    time.sleep(0.1)
    assert written == ["first"]  # still waiting for the role
    release.set()
    t1.join(10)
    t2.join(10)
    assert written == ["first", "second"] and first.done and second.done


def test_hand_on_outside_a_write_does_nothing():
    committer = GroupCommitter(lambda group: None)
    committer.hand_on()
    item = _Item("x")
    committer.submit(item)
    assert item.done and item.error is None and not committer._writing
