"""The level-by-level walk of lineage.graph against the plain recursive-SQL answer, on random graphs.

lineage() and reachable() stop walking as soon as the nearest `max_nodes` (or `limit`) nodes are known.
That early stop is only right if it never changes the answer, so the reference here is the statement they
replaced, written out in full: one WITH RECURSIVE walk per direction over (node, depth) pairs, the smallest
depth per node, node kinds filtered, ORDER BY depth, id and LIMIT max_nodes + 1. Graphs are larger and
denser than test_graph_random.py's (hubs, cycles, several start nodes, closed and later edges), so the walk
often stops partway through a level, and runs on both databases like every other test.
"""
import json

from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings, strategies as st

from lineage import graph
from lineage.models import Edge
from tests.support.graphs import hour, load  # the same graph loader (store.apply, then the closes)

NODE_KINDS = ["dataset", "run", "job", "model_version"]
EDGE_KINDS = ["consumed", "produced", "parent_of"]


@st.composite
def graphs(draw):
    n = draw(st.integers(3, 30))
    nodes = [(draw(st.sampled_from(NODE_KINDS)), draw(st.integers(0, 3))) for _ in range(n)]
    hubs = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3))
    end = st.one_of(st.sampled_from(hubs), st.integers(0, n - 1))  # some nodes with many edges
    triples = draw(st.lists(st.tuples(end, end, st.sampled_from(EDGE_KINDS)), max_size=90, unique=True))
    edges = []
    for src, dst, kind in triples:
        start = draw(st.integers(0, 5))
        closed = draw(st.one_of(st.none(), st.none(), st.integers(start + 1, 8)))
        edges.append((src, dst, kind, start, closed))
    return nodes, edges


def _marks(values):
    return ",".join(["%s"] * len(values))


def recursive_sql(start_ids, directions, depth, as_of, node_kinds, edge_kinds, limit):
    """[(node id, smallest depth)] nearest first then by id, at most `limit`: one recursive statement."""
    as_of = None if as_of is None else connection.ops.adapt_datetimefield_value(as_of)
    ctes, params, names = [], [], []
    for one in directions:
        near, far = ("dst_id", "src_id") if one == "upstream" else ("src_id", "dst_id")
        seed = f"SELECT id, 0 FROM lineage_node WHERE id IN ({_marks(start_ids)})"
        params += start_ids
        if as_of is not None:
            seed += " AND first_seen <= %s"
            params.append(as_of)
        step = f"SELECT e.{far}, w.depth + 1 FROM walk_{one} w JOIN lineage_edge e ON e.{near} = w.node_id"
        if as_of is not None:
            step += f" JOIN lineage_node n ON n.id = e.{far} AND n.first_seen <= %s"
            params.append(as_of)
        step += " WHERE w.depth < %s"
        params.append(depth)
        if as_of is None:
            step += " AND e.valid_to IS NULL"
        else:
            step += " AND e.valid_from <= %s AND (e.valid_to IS NULL OR e.valid_to > %s)"
            params += [as_of, as_of]
        if edge_kinds:
            step += f" AND e.kind IN ({_marks(edge_kinds)})"
            params += edge_kinds
        ctes.append(f"walk_{one}(node_id, depth) AS ({seed} UNION {step})")
        names.append(f"walk_{one}")
    union = " UNION ALL ".join(f"SELECT node_id, depth FROM {name}" for name in names)
    sql = (f"WITH RECURSIVE {', '.join(ctes)}, reached(node_id, d) AS "
           f"(SELECT node_id, MIN(depth) FROM ({union}) AS walked GROUP BY node_id) "
           "SELECT r.node_id, r.d FROM reached r JOIN lineage_node n ON n.id = r.node_id")
    if node_kinds:
        sql += f" WHERE n.kind IN ({_marks(node_kinds)}) OR n.id IN ({_marks(start_ids)})"
        params += node_kinds + start_ids
    sql += " ORDER BY r.d, n.id"
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return [tuple(row) for row in cur.fetchall()]


def plain_edges(node_ids, as_of, edge_kinds):
    edges = Edge.objects.filter(src_id__in=node_ids, dst_id__in=node_ids)
    if as_of is None:
        edges = edges.filter(valid_to__isnull=True)
    else:
        edges = edges.filter(valid_from__lte=as_of).exclude(valid_to__lte=as_of)
    if edge_kinds:
        edges = edges.filter(kind__in=edge_kinds)
    return sorted(edges.values_list("pk", flat=True))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(graphs(), st.data())
def test_lineage_walk_equals_recursive_sql(db, g, data):
    nodes, edges = g
    ids = load(nodes, edges)
    starts = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3, unique=True))
    direction = data.draw(st.sampled_from(graph.DIRECTIONS))
    depth = data.draw(st.integers(0, 8))
    as_of = data.draw(st.one_of(st.none(), st.integers(0, 9).map(hour)))
    node_kinds = data.draw(st.one_of(st.none(), st.lists(st.sampled_from(NODE_KINDS), min_size=1, unique=True)))
    edge_kinds = data.draw(st.one_of(st.none(), st.lists(st.sampled_from(EDGE_KINDS), min_size=1, unique=True)))
    max_nodes = data.draw(st.integers(1, 25))

    result = graph.lineage(starts, direction=direction, depth=depth, as_of=as_of, node_kinds=node_kinds,
                           edge_kinds=edge_kinds, max_nodes=max_nodes)
    directions = ["upstream", "downstream"] if direction == "both" else [direction]
    want = recursive_sql(sorted(starts), directions, depth, as_of, node_kinds, edge_kinds, max_nodes + 1)
    assert [(n.pk, result.depth_of[n.pk]) for n in result.nodes] == want[:max_nodes]
    assert result.truncated is (len(want) > max_nodes)
    assert [e.pk for e in result.edges] == plain_edges([n for n, _d in want[:max_nodes]], as_of, edge_kinds)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(graphs(), st.data())
def test_reachable_walk_equals_recursive_sql(db, g, data):
    nodes, edges = g
    ids = load(nodes, edges)
    starts = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3, unique=True))
    direction = data.draw(st.sampled_from(["upstream", "downstream"]))
    depth = data.draw(st.integers(0, graph.MAX_DEPTH))
    as_of = data.draw(st.one_of(st.none(), st.integers(0, 9).map(hour)))
    edge_kinds = data.draw(st.one_of(st.none(), st.lists(st.sampled_from(EDGE_KINDS), min_size=1, unique=True)))
    limit = data.draw(st.one_of(st.none(), st.integers(1, 25)))

    found = graph.reachable(starts, direction=direction, depth=depth, as_of=as_of, edge_kinds=edge_kinds, limit=limit)
    want = recursive_sql(sorted(starts), [direction], depth, as_of, None, edge_kinds, limit)
    assert list(found.items()) == want


def _levels_walked(start_id, depth, max_nodes) -> int:
    """How many levels lineage() walks: level statements counted on SQLite; on PostgreSQL, where the walk
    is one recursive statement, the iterations of its recursive term as EXPLAIN ANALYZE reports them."""
    if connection.vendor != "postgresql":
        with CaptureQueriesContext(connection) as ctx:
            graph.lineage([start_id], direction="downstream", depth=depth, max_nodes=max_nodes)
        return sum("lineage_edge e" in q["sql"] and "ORDER BY" not in q["sql"] for q in ctx.captured_queries)
    sql, params = graph._walk_statement([start_id], ("downstream",), depth, None, None, None, max_nodes + 1, True)
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = cur.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def scans(node):
        if node.get("Node Type") == "WorkTable Scan":
            yield node
        for child in node.get("Plans", []):
            yield from scans(child)

    (worktable,) = list(scans(plan[0]["Plan"]))
    # Each iteration reads the previous level's single row and makes the next level's; the last one reads
    # the row that says stop (depth, empty frontiers or enough nodes) and makes none.
    return worktable["Actual Loops"] - 1


def test_walk_stops_before_the_closure_is_explored(db):
    """A long chain with a fan-out at the start: with max_nodes reached at the first level, no farther level
    is walked, and the answer is still the nearest nodes by id."""
    nodes = [("run", 0)] + [("dataset", 0)] * 6 + [("run", 0)] * 20
    edges = [(0, i, "produced", 0, None) for i in range(1, 7)]
    edges += [(i, i + 1, "consumed", 0, None) for i in range(6, 26)]
    ids = load(nodes, edges)
    result = graph.lineage([ids[0]], direction="downstream", depth=30, max_nodes=4)
    assert [n.pk for n in result.nodes] == ids[:4] and result.truncated is True
    whole = graph.lineage([ids[0]], direction="downstream", depth=30, max_nodes=100)
    assert [n.pk for n in whole.nodes] == ids and whole.truncated is False
    assert _levels_walked(ids[0], 30, 4) == 1     # level 1 already holds 7 > 4 + 1 nodes
    assert _levels_walked(ids[0], 30, 100) == 22  # the last node is 21 hops away, then one level finds nothing
    assert _levels_walked(ids[0], 5, 100) == 5    # the depth limit stops it too
