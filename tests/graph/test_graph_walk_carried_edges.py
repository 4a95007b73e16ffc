"""The edges of a one-direction lineage answer come partly from the walk itself (the edges it followed, for
every level but the last) and partly from a lookup of the last level's nodes (lineage.graph_answer._edge_rows).
Each case below puts an edge where only one of the two sources can find it, and checks the answer's edges
against the definition: every edge holding (of the kinds asked) whose both ends are returned nodes, as
graph.edges_between finds it by `src = ANY AND dst = ANY`. Hand-drawn graphs; both databases.
"""
import pytest

from lineage import graph, store
from tests.support.graphs import at, build, key

# a -> b -> c -> d, plus skip edges a -> c and b -> d; a cycle d -> b; and e -> d (e only reachable
# upstream of d).
NODES = {"a": "dataset", "b": "dataset", "c": "dataset", "d": "dataset", "e": "dataset"}
EDGES = [("a", "b", "consumed"), ("b", "c", "consumed"), ("c", "d", "consumed"), ("a", "c", "consumed"),
         ("b", "d", "consumed"), ("d", "b", "consumed"), ("e", "d", "consumed")]


@pytest.fixture
def ids(db):
    return build(NODES, EDGES)


def pairs(ids, edges) -> set[tuple[str, str]]:
    back = {v: k for k, v in ids.items()}
    return {(back[e.src_id], back[e.dst_id]) for e in edges}


def expected(result, **kwargs) -> set[int]:
    return {e.pk for e in graph.edges_between([n.pk for n in result.nodes], **kwargs)}


@pytest.mark.parametrize("direction", ["upstream", "downstream"])
@pytest.mark.parametrize("depth", [0, 1, 2, 3])
@pytest.mark.parametrize("max_nodes", [1, 2, 3, 10])
def test_edges_are_those_between_returned_nodes(ids, direction, depth, max_nodes):
    start = ids["a"] if direction == "downstream" else ids["d"]
    result = graph.lineage([start], direction=direction, depth=depth, max_nodes=max_nodes)
    assert {e.pk for e in result.edges} == expected(result)
    assert [e.pk for e in result.edges] == sorted(e.pk for e in result.edges)


def test_last_level_edge_back_to_a_kept_node(ids):
    # Downstream from a at depth 2: a (0), b and c (1), d (2). d -> b leaves the last level (d is never
    # expanded by the walk) and ends at a kept node: only the last level's lookup finds it.
    result = graph.lineage([ids["a"]], direction="downstream", depth=2)
    assert pairs(ids, result.edges) == {("a", "b"), ("a", "c"), ("b", "c"), ("c", "d"), ("b", "d"), ("d", "b")}


def test_edge_between_two_nodes_of_one_level(ids):
    # Downstream from a at depth 1: b and c are both at depth 1; b -> c was followed by the walk from b only
    # if b were expanded, which it is not (last level): the lookup must find it.
    result = graph.lineage([ids["a"]], direction="downstream", depth=1)
    assert pairs(ids, result.edges) == {("a", "b"), ("a", "c"), ("b", "c")}
    # One level more: b and c are expanded, so b -> c comes from the walk's own edges.
    result = graph.lineage([ids["a"]], direction="downstream", depth=3)
    assert ("b", "c") in pairs(ids, result.edges) and ("d", "b") in pairs(ids, result.edges)


def test_walk_edges_to_nodes_cut_by_max_nodes_are_left_out(ids):
    # Upstream from d: d (0); b, c, e (1). With max_nodes 3 the walk stops after that level (4 found) and keeps
    # d, b, c (by id: b < c < e); it followed e -> d, and the lookup of its last level finds a -> b and a -> c:
    # neither e nor a is returned.
    result = graph.lineage([ids["d"]], direction="upstream", depth=3, max_nodes=3)
    assert {n.name for n in result.nodes} == {"d", "b", "c"} and result.truncated
    assert pairs(ids, result.edges) == {("b", "c"), ("c", "d"), ("b", "d"), ("d", "b")}


def test_node_kind_filter_drops_walk_edges_from_hidden_nodes(db):
    found = build({"v": "dataset_version", "s": "run", "w": "dataset_version", "u": "dataset_version"},
                  [("v", "s", "consumed"), ("s", "w", "produced"), ("v", "u", "consumed"), ("u", "w", "consumed")])
    # Downstream from v, dataset versions only: v (start, always kept), s hidden and u (1), w (2). The walk
    # expands s and follows s -> w, which ends at a returned node but starts at a hidden one.
    result = graph.lineage([found["v"]], direction="downstream", depth=3, node_kinds=["dataset_version"])
    assert {n.name for n in result.nodes} == {"v", "u", "w"}
    assert pairs(found, result.edges) == {("v", "u"), ("u", "w")}


def test_closed_edges_and_as_of(ids):
    store.apply([store.EdgeClose(kind="consumed", src=key("b", "dataset"), dst=key("c", "dataset"), at=at(5))])
    current = graph.lineage([ids["a"]], direction="downstream", depth=3)
    assert ("b", "c") not in pairs(ids, current.edges)
    assert {e.pk for e in current.edges} == expected(current)
    before = graph.lineage([ids["a"]], direction="downstream", depth=3, as_of=at(3))
    assert ("b", "c") in pairs(ids, before.edges)
    assert {e.pk for e in before.edges} == expected(before, as_of=at(3))


def test_edge_kinds_filter(ids):
    result = graph.lineage([ids["a"]], direction="downstream", depth=3, edge_kinds=["produced"])
    assert [n.name for n in result.nodes] == ["a"] and result.edges == []
