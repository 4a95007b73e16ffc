"""lineage.store.apply writes a call's facts set-at-a-time (one read per table, merges in memory, bulk
writes) with the meaning of applying them one by one: raw payloads, node facts, then edges and closes in
the order given. Here harvest-style sequences (tests/support/store_tables.py: properties merged, replaced
and changed, late observations, renamed nodes, archived nodes, edges restated earlier and later, closed,
closed twice, reopened, placeholders, repeated payloads, calls of hundreds of facts) are written both ways
into empty tables, and every column of every row is compared, by natural keys, clocks frozen."""
from __future__ import annotations

import pytest

from tests.support.store_tables import digests, first_difference, freeze_clock, run_harvest, snapshot, wipe


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2])
def test_a_call_of_many_facts_writes_what_one_call_per_fact_writes(monkeypatch, seed):
    freeze_clock(monkeypatch)
    counts = run_harvest(seed, 30)
    together = snapshot()
    wipe()
    run_harvest(seed, 30, fact_at_a_time=True)
    apart = snapshot()

    assert digests(together) == digests(apart), first_difference(together, apart)
    totals = {name: sum(c[name] for c in counts) for name in counts[0]}
    # the sequence did what it is meant to exercise
    assert all(totals[name] > 0 for name in ("raw_created", "nodes_created", "nodes_updated", "edges_created", "edges_closed")), totals
    nodes = together["lineage_node"]
    assert any(dict(row)["archived_at"] for row in nodes) and any(not dict(row)["archived_at"] for row in nodes)
    assert len(together["lineage_noderevision"]) > len(nodes)
