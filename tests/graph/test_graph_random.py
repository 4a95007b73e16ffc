"""lineage.graph against a plain breadth-first search in Python, on many small random graphs (hypothesis).

The reference below is the definition the SQL must meet: edges hold at t when valid_from <= t < valid_to,
nodes exist from first_seen, depth is the fewest hops, answers are nearest first then by id, node kinds
filter the answer but not the walk. Runs on both databases like every other test, so it also checks that
SQLite and PostgreSQL agree.
"""
from collections import deque

from hypothesis import HealthCheck, given, settings, strategies as st

from lineage import graph
from tests.support.graphs import hour, load

NODE_KINDS = ["dataset", "run", "job"]
EDGE_KINDS = ["consumed", "produced", "parent_of"]


@st.composite
def graphs(draw):
    n = draw(st.integers(2, 8))
    nodes = [(draw(st.sampled_from(NODE_KINDS)), draw(st.integers(0, 3))) for _ in range(n)]
    triples = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.sampled_from(EDGE_KINDS)),
                            max_size=16, unique=True))
    edges = []
    for src, dst, kind in triples:
        start = draw(st.integers(0, 5))
        closed = draw(st.one_of(st.none(), st.integers(start + 1, 8)))
        edges.append((src, dst, kind, start, closed))
    return nodes, edges


def holds(edge, as_of):
    _s, _d, _k, start, closed = edge
    if as_of is None:
        return closed is None
    return start <= as_of and (closed is None or as_of < closed)


def reference(nodes, edges, ids, start, direction, depth, as_of, node_kinds, edge_kinds, max_nodes):
    exists = lambda i: as_of is None or nodes[i][1] <= as_of
    usable = [e for e in edges if holds(e, as_of) and (not edge_kinds or e[2] in edge_kinds)]
    dist: dict[int, int] = {}
    for one in (["upstream", "downstream"] if direction == "both" else [direction]):
        if not exists(start):
            continue
        seen = {start: 0}
        queue = deque([start])
        while queue:
            here = queue.popleft()
            if seen[here] >= depth:
                continue
            for s, d, *_ in usable:
                near, far = (d, s) if one == "upstream" else (s, d)
                if near == here and far not in seen and exists(far):
                    seen[far] = seen[here] + 1
                    queue.append(far)
        for i, d in seen.items():
            dist[i] = min(d, dist.get(i, d))
    kept = [i for i in dist if not node_kinds or nodes[i][0] in node_kinds or i == start]
    kept.sort(key=lambda i: (dist[i], ids[i]))
    truncated = len(kept) > max_nodes
    kept = kept[:max_nodes]
    kept_set = set(kept)
    answer_edges = sorted((ids[s], ids[d], k) for s, d, k, *_ in usable if s in kept_set and d in kept_set)
    return [(ids[i], dist[i]) for i in kept], answer_edges, truncated


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(graphs(), st.data())
def test_lineage_matches_breadth_first_search(db, g, data):
    nodes, edges = g
    ids = load(nodes, edges)
    start = data.draw(st.integers(0, len(nodes) - 1))
    direction = data.draw(st.sampled_from(graph.DIRECTIONS))
    depth = data.draw(st.integers(0, 4))
    as_of = data.draw(st.one_of(st.none(), st.integers(0, 9)))
    node_kinds = data.draw(st.one_of(st.none(), st.lists(st.sampled_from(NODE_KINDS), min_size=1, unique=True)))
    edge_kinds = data.draw(st.one_of(st.none(), st.lists(st.sampled_from(EDGE_KINDS), min_size=1, unique=True)))
    max_nodes = data.draw(st.integers(1, 9))
    result = graph.lineage([ids[start]], direction=direction, depth=depth, as_of=None if as_of is None else hour(as_of),
                           node_kinds=node_kinds, edge_kinds=edge_kinds, max_nodes=max_nodes)
    want_nodes, want_edges, want_truncated = reference(nodes, edges, ids, start, direction, depth, as_of, node_kinds,
                                                       edge_kinds, max_nodes)
    assert [(n.pk, result.depth_of[n.pk]) for n in result.nodes] == want_nodes
    assert sorted((e.src_id, e.dst_id, e.kind) for e in result.edges) == want_edges
    assert result.truncated is want_truncated


def shortest(nodes, edges, a, b, as_of, max_depth):
    exists = lambda i: as_of is None or nodes[i][1] <= as_of
    if not (exists(a) and exists(b)):
        return None
    seen, queue = {a: 0}, deque([a])
    while queue:
        here = queue.popleft()
        if here == b:
            return seen[here]
        if seen[here] >= max_depth:
            continue
        for s, d, *_ in (e for e in edges if holds(e, as_of)):
            if s == here and d not in seen and exists(d):
                seen[d] = seen[here] + 1
                queue.append(d)
    return None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(graphs(), st.data())
def test_path_between_is_a_shortest_valid_path(db, g, data):
    nodes, edges = g
    ids = load(nodes, edges)
    a = data.draw(st.integers(0, len(nodes) - 1))
    b = data.draw(st.integers(0, len(nodes) - 1))
    as_of = data.draw(st.one_of(st.none(), st.integers(0, 9)))
    max_depth = data.draw(st.integers(0, 5))
    found = graph.path_between(ids[a], ids[b], max_depth=max_depth, as_of=None if as_of is None else hour(as_of))
    down, up = shortest(nodes, edges, a, b, as_of, max_depth), shortest(nodes, edges, b, a, as_of, max_depth)
    if down is None and up is None:
        assert found is None
        return
    assert found is not None
    assert found.direction == ("downstream" if down is not None else "upstream")
    assert found.length == (down if down is not None else up)
    path = [n.pk for n in found.nodes]
    assert path[0] == ids[a] and path[-1] == ids[b] and len(path) == found.length + 1
    for i, edge in enumerate(found.edges):
        pair = (path[i], path[i + 1]) if found.direction == "downstream" else (path[i + 1], path[i])
        assert (edge.src_id, edge.dst_id) == pair
        if as_of is None:
            assert edge.valid_to is None
        else:
            assert edge.valid_from <= hour(as_of) and (edge.valid_to is None or hour(as_of) < edge.valid_to)
