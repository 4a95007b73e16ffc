"""The lineage answer's edge rows come from an index-only scan of edge_dst_from (upstream) / edge_src_from
(downstream) once VACUUM has set the visibility map (migration 0007 widened both indexes to every edge column
the answer shows): if the answer ever reads an edge column those indexes lack, the plan falls back to heap
fetches and this fails. Also checks the per-table autovacuum settings the migration sets."""
import json
import time

import pytest
from django.db import connection
from django.utils import timezone

from lineage import graph, graph_answer
from lineage.models import Edge, Node

pytestmark = pytest.mark.postgres_only


def _chain(n: int, others: int = 3000) -> list[Node]:
    """A chain of n nodes, in a table with `others` unrelated edges: on a table of a few rows the planner
    rightly reads the whole edge index once instead of probing it per node, and there is no lookup to check."""
    now = timezone.now()
    extra = Node.objects.bulk_create(Node(kind="dataset", source="t", source_id=f"x{i}", name=f"x{i}", first_seen=now,
                                          last_seen=now) for i in range(others + 1))
    Edge.objects.bulk_create(Edge(kind="consumed", src=a, dst=b, source="t", valid_from=now, last_seen=now)
                             for a, b in zip(extra, extra[1:]))
    nodes = [Node.objects.create(kind="dataset" if i % 2 == 0 else "run", source="t", source_id=f"n{i}",
                                 name=f"n{i}", first_seen=now, last_seen=now) for i in range(n)]
    for a, b in zip(nodes, nodes[1:]):
        Edge.objects.create(kind="consumed" if a.kind == "dataset" else "produced", src=a, dst=b, source="t",
                            valid_from=now, last_seen=now)
    return nodes


def _plan_of_answer(monkeypatch, start: int, direction: str, timestamps: str) -> dict:
    seen = {}
    original = graph_answer._execute_prepared

    def capture(cur, sql, params):
        seen.update(sql=sql, params=params)
        original(cur, sql, params)

    monkeypatch.setattr(graph_answer, "_execute_prepared", capture)
    if timestamps == "text":
        graph_answer.body(start, direction=direction, depth=10, max_nodes=100)
    else:
        graph.lineage([start], direction=direction, depth=10, max_nodes=100)
    with connection.cursor() as cur:
        cur.execute("SET enable_seqscan = off")  # tables this small would otherwise be scanned whole
        cur.execute("SET enable_bitmapscan = off")
        try:
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + seen["sql"], seen["params"])
            plan = cur.fetchone()[0]
        finally:
            cur.execute("RESET enable_seqscan")
            cur.execute("RESET enable_bitmapscan")
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def _edge_lookups(node: dict):
    """The scans of lineage_edge that fetch the answer's edges (the `reached` CTE), anywhere in the plan."""
    if node.get("Subplan Name") == "CTE reached":
        yield from (n for n in _walk(node) if n.get("Relation Name") == "lineage_edge")
    for child in node.get("Plans", []):
        yield from _edge_lookups(child)


def _walk(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _walk(child)


def _vacuum_until_all_visible(tries: int = 20) -> None:
    """VACUUM until the visibility map covers the whole table. VACUUM cannot mark rows all-visible while any
    session whose snapshot predates them is open (another test's connection, a concurrent client of this
    server): then the planner rightly prefers the plain index scan, and there is nothing to check."""
    for _ in range(tries):
        with connection.cursor() as cur:
            cur.execute("VACUUM (ANALYZE) lineage_edge")
            cur.execute("SELECT relpages, relallvisible FROM pg_class WHERE relname = 'lineage_edge'")
            pages, visible = cur.fetchone()
        if pages and visible == pages:
            return
        time.sleep(0.25)
    pytest.skip(f"VACUUM left {pages - visible} of {pages} lineage_edge pages not all-visible (an older snapshot "
                "is open elsewhere on this server)")


@pytest.mark.django_db(transaction=True)  # VACUUM cannot run inside the test's transaction
@pytest.mark.parametrize("timestamps", ["text", "native"])
def test_answer_edges_come_from_index_only_scans(monkeypatch, timestamps):
    nodes = _chain(12)
    _vacuum_until_all_visible()
    for direction, start, index in (("upstream", nodes[-1], "edge_dst_from"), ("downstream", nodes[0], "edge_src_from")):
        scans = list(_edge_lookups(_plan_of_answer(monkeypatch, start.pk, direction, timestamps)))
        assert scans, f"no edge lookup found in the {direction} plan"
        for scan in scans:
            assert scan["Node Type"] == "Index Only Scan" and scan["Index Name"] == index, {k: scan.get(k) for k in ("Node Type", "Index Name", "Actual Loops", "Actual Rows", "Filter", "Index Cond")}
            assert scan["Heap Fetches"] == 0, scan
    answer = graph.lineage([nodes[0].pk], direction="downstream", depth=20)
    assert len(answer.nodes) == 12 and len(answer.edges) == 11


@pytest.mark.django_db
def test_edge_table_vacuums_early_for_the_visibility_map():
    with connection.cursor() as cur:
        cur.execute("SELECT reloptions FROM pg_class WHERE relname = 'lineage_edge'")
        options = set(cur.fetchone()[0] or [])
    assert {"autovacuum_vacuum_insert_scale_factor=0.02", "autovacuum_vacuum_scale_factor=0.05"} <= options
