"""Harvest-style writes leave the same rows through each of lineage.store's PostgreSQL write paths.

tests/ingest/test_ingest_write_paths.py compares the paths on the OpenLineage ingest; connectors write
otherwise: properties revised, replaced and observed late, archived nodes, edges restated earlier and
later, closed, reopened, calls of hundreds of facts (COPY), raw payloads found stored rather than known
new, ids with quotes, backslashes, newlines, '%s' and non-ASCII text. The same sequences
(tests/support/store_tables.py) go, into empty tables, through
- the fast path: prepared statements whose array arguments lineage.store quotes itself (_array_literal),
- the fast path with psycopg2 quoting every argument (mogrify, as before _array_literal),
- the portable path SQLite takes (literal VALUES, Django's JSON encoding, ids by RETURNING),
and every column of every row is compared by natural keys, clocks frozen; so are the counts each call
returned."""
from __future__ import annotations

import pytest

from lineage import store
from tests.support.store_tables import digests, first_difference, freeze_clock, run_harvest, snapshot, wipe

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def _run() -> tuple[list, dict]:
    counts = [run_harvest(seed, 30) for seed in (1, 2)]
    snap = snapshot()
    wipe()
    return counts, snap


def test_harvest_writes_leave_the_same_rows_on_every_write_path(monkeypatch):
    freeze_clock(monkeypatch)
    quoted = {"literal": 0, "mogrify": 0}
    real_literal = store._array_literal

    def literal(values, kind):
        text = real_literal(values, kind)
        quoted["literal" if text is not None else "mogrify"] += 1
        return text

    monkeypatch.setattr(store, "_array_literal", literal)
    fast_counts, fast = _run()
    assert quoted["literal"] > 100, quoted

    monkeypatch.setattr(store, "_array_literal", lambda values, kind: None)  # psycopg2 quotes all
    spied = []
    real_mogrify = store._ConnectionStatements.__init__

    def init(self, raw):
        real_mogrify(self, raw)
        mogrify = self.mogrify
        self.mogrify = lambda sql, params: (spied.append(sql), mogrify(sql, params))[1]

    monkeypatch.setattr(store._ConnectionStatements, "__init__", init)
    from django.db import connection

    connection._lineage_statements = None
    mogrify_counts, mogrified = _run()
    assert any("EXECUTE" in sql for sql in spied)

    monkeypatch.setattr(store, "FAST_PATH", False)
    portable_counts, portable = _run()

    assert fast_counts == mogrify_counts == portable_counts
    assert digests(fast) == digests(mogrified), first_difference(fast, mogrified)
    assert digests(fast) == digests(portable), first_difference(fast, portable)
    assert all(fast[t] for t in ("lineage_rawrecord", "lineage_node", "lineage_noderevision", "lineage_edge"))
