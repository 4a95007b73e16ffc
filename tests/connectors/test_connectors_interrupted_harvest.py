"""A harvest interrupted right after a page committed (SIGTERM or Ctrl-C landing between the commit and the
next line) records the cursor the store committed, which is where the next harvest goes on from: the record
must not claim a page less than was kept (seen under load in tests/test_kubeflow_killed_process.py)."""
from __future__ import annotations

import pytest

from connectors.base import Page, load_cursor, run_harvest
from connectors.models import Harvest, HarvestStatus
from lineage import store

pytestmark = pytest.mark.django_db


class _InterruptedAfterCommit(Page):
    """A page whose cursor can be read once (by the page's own transaction); the next read stands for the
    signal arriving just after that transaction committed."""

    def __init__(self, facts, cursor):
        super().__init__(facts=facts, cursor=None)
        self._cursor, self._reads = cursor, 0

    @property
    def cursor(self):
        self._reads += 1
        if self._reads > 1:
            raise KeyboardInterrupt("signal after the page committed")
        return self._cursor

    @cursor.setter
    def cursor(self, value):
        pass


class _Source:
    kind = "test"

    def source_key(self):
        return "test:interrupted"

    def changes_since(self, cursor):
        yield Page(facts=[store.NodeFact(key=store.NodeKey("test", "dataset", "a"), name="a")], cursor={"page": 1})
        yield _InterruptedAfterCommit([store.NodeFact(key=store.NodeKey("test", "dataset", "b"), name="b")], {"page": 2})
        yield Page(facts=[], cursor={"page": 3})  # pragma: no cover - never reached


def test_the_failed_record_names_the_cursor_the_store_committed():
    with pytest.raises(KeyboardInterrupt):
        run_harvest(_Source())
    record = Harvest.objects.get()
    assert record.status == HarvestStatus.FAILED and "signal after the page committed" in record.error
    assert load_cursor("test:interrupted") == {"page": 2}  # the second page's transaction committed
    assert record.cursor_after == {"page": 2}
