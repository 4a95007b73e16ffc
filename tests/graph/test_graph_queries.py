"""lineage.graph on small hand-checked graphs: direction, depth, cycles, kind filters, truncation, as_of.

Facts go in through lineage.store.apply (the only write path), so the graph is what the mappers would
produce. Every expected answer below was worked out by hand from the drawing in each test.
"""
import datetime as dt

import pytest

from lineage import graph, store
from lineage.models import Edge, Node
from tests.support.graphs import CHAIN, CHAIN_EDGES, at, build, key

def names(ids, result_depths) -> dict[str, int]:
    back = {v: k for k, v in ids.items()}
    return {back[i]: d for i, d in result_depths.items()}


@pytest.fixture
def chain(db):
    return build(CHAIN, CHAIN_EDGES)


def test_upstream_walks_edges_backwards_with_smallest_depths(chain):
    result = graph.lineage([chain["d"]], direction="upstream", depth=10)
    assert names(chain, result.depth_of) == {"d": 0, "c": 1, "x": 1, "b": 2, "a": 3}
    assert [n.name for n in result.nodes] == ["d", "c", "x", "b", "a"]  # nearest first, then by id
    name = {n.pk: n.name for n in result.nodes}  # light rows: ends by id, no related objects
    assert sorted((name[e.src_id], name[e.dst_id]) for e in result.edges) == [("a", "b"), ("b", "c"), ("c", "d"), ("x", "d")]
    assert result.truncated is False


def test_downstream_walks_edges_forwards(chain):
    result = graph.lineage([chain["b"]], direction="downstream", depth=10)
    assert names(chain, result.depth_of) == {"b": 0, "c": 1, "d": 2, "e": 3}


def test_both_directions_and_depth_limit(chain):
    result = graph.lineage([chain["c"]], direction="both", depth=1)
    assert names(chain, result.depth_of) == {"c": 0, "b": 1, "d": 1}
    assert names(chain, graph.lineage([chain["e"]], direction="upstream", depth=2).depth_of) == {"e": 0, "d": 1, "c": 2, "x": 2}
    assert names(chain, graph.lineage([chain["e"]], direction="upstream", depth=0).depth_of) == {"e": 0}


def test_reachable_keeps_its_signature_and_nearest_first_limit(chain):
    assert names(chain, graph.reachable([chain["e"]], direction="upstream", depth=10)) == {
        "e": 0, "d": 1, "c": 2, "x": 2, "b": 3, "a": 4}
    assert names(chain, graph.reachable([chain["e"]], direction="upstream", depth=10, limit=2)) == {"e": 0, "d": 1}
    assert graph.reachable([], direction="upstream") == {}
    with pytest.raises(ValueError):
        graph.reachable([chain["e"]], direction="both")


def test_cycles_terminate_and_each_node_appears_once(db):
    ids = build({"p": "run", "q": "dataset", "r": "run"},
                [("p", "q", "produced"), ("q", "r", "consumed"), ("r", "p", "parent_of")])
    result = graph.lineage([ids["p"]], direction="downstream", depth=graph.MAX_DEPTH)
    assert names(ids, result.depth_of) == {"p": 0, "q": 1, "r": 2}
    assert len(result.nodes) == 3 and len(result.edges) == 3
    both = graph.lineage([ids["q"]], direction="both", depth=graph.MAX_DEPTH)
    assert names(ids, both.depth_of) == {"q": 0, "r": 1, "p": 1}


def test_max_nodes_truncates_nearest_first_and_says_so(db):
    ids = build({"s": "run", **{f"t{i}": "dataset" for i in range(5)}, "u": "run"},
                [("s", f"t{i}", "produced") for i in range(5)] + [("t0", "u", "consumed")])
    result = graph.lineage([ids["s"]], direction="downstream", depth=5, max_nodes=3)
    assert result.truncated is True
    assert [n.name for n in result.nodes] == ["s", "t0", "t1"]
    name = {n.pk: n.name for n in result.nodes}
    assert {(name[e.src_id], name[e.dst_id]) for e in result.edges} == {("s", "t0"), ("s", "t1")}
    exact = graph.lineage([ids["s"]], direction="downstream", depth=5, max_nodes=7)
    assert exact.truncated is False and len(exact.nodes) == 7
    assert graph.lineage([ids["s"]], direction="downstream", depth=5, max_nodes=6).truncated is True


def test_node_kind_filter_returns_only_those_kinds_but_walks_through_others(chain):
    result = graph.lineage([chain["e"]], direction="upstream", depth=10, node_kinds=["dataset"])
    assert names(chain, result.depth_of) == {"e": 0, "c": 2, "a": 4}
    assert result.edges == []  # no edge joins two datasets directly
    runs = graph.lineage([chain["e"]], direction="upstream", depth=10, node_kinds=["run"])
    assert names(chain, runs.depth_of) == {"e": 0, "d": 1, "b": 3}  # the start node is always kept


def test_edge_kind_filter_only_walks_those_edges(chain):
    result = graph.lineage([chain["e"]], direction="upstream", depth=10, edge_kinds=["produced"])
    assert names(chain, result.depth_of) == {"e": 0, "d": 1}
    result = graph.lineage([chain["e"]], direction="upstream", depth=10, edge_kinds=["produced", "consumed"])
    assert names(chain, result.depth_of) == {"e": 0, "d": 1, "c": 2, "b": 3, "a": 4}
    assert all(e.kind in ("produced", "consumed") for e in result.edges)


def test_as_of_before_and_after_an_edge_closed(db):
    # a -> b from hour 2, closed at hour 5; b -> c from hour 3 (open); c first seen at hour 3.
    ids = build({"a": "dataset", "b": "run", "c": "dataset"},
                [("a", "b", "consumed", 2), ("b", "c", "produced", 3)], seen={"c": 3})
    store.apply([store.EdgeClose(kind="consumed", src=key("a", "dataset"), dst=key("b", "run"), at=at(5))])
    up = lambda t: names(ids, graph.lineage([ids["c"]], direction="upstream", as_of=t).depth_of)
    assert up(at(1)) == {}                   # c did not exist yet
    assert up(at(3)) == {"c": 0, "b": 1, "a": 2}  # b -> c holds from its valid_from; a -> b still holds
    assert names(ids, graph.lineage([ids["b"]], direction="upstream", as_of=at(2)).depth_of) == {"b": 0, "a": 1}
    assert up(at(4)) == {"c": 0, "b": 1, "a": 2}
    assert up(at(5)) == {"c": 0, "b": 1}     # valid_to is exclusive: closed at 5 means gone at 5
    assert up(None) == {"c": 0, "b": 1}      # the current graph has no closed edges
    # The edge list follows the same rule.
    then = graph.lineage([ids["c"]], direction="upstream", as_of=at(4))
    assert sorted(e.kind for e in then.edges) == ["consumed", "produced"]
    assert [e.kind for e in graph.lineage([ids["c"]], direction="upstream").edges] == ["produced"]
    # A node that appears later is not walked through before it existed.
    assert names(ids, graph.lineage([ids["a"]], direction="downstream", as_of=at(2)).depth_of) == {"a": 0, "b": 1}


def test_bad_arguments_raise(chain):
    with pytest.raises(ValueError):
        graph.lineage([chain["a"]], direction="sideways")
    assert graph.lineage([], direction="both").nodes == []
    assert graph.lineage([10**12]).nodes == []  # unknown ids drop out


def test_as_of_in_another_utc_offset_means_the_same_instant(db):
    ids = build({"a": "dataset", "b": "run"}, [("a", "b", "consumed", 2)])
    store.apply([store.EdgeClose(kind="consumed", src=key("a", "dataset"), dst=key("b", "run"), at=at(5))])
    plus_two = dt.timezone(dt.timedelta(hours=2))
    walk = lambda t: names(ids, graph.lineage([ids["b"]], direction="upstream", as_of=t).depth_of)
    assert walk(at(4).astimezone(plus_two)) == {"b": 0, "a": 1}   # 06:00+02:00 is 04:00 UTC: still open
    assert walk(at(5).astimezone(plus_two)) == {"b": 0}           # 07:00+02:00 is 05:00 UTC: closed
    assert walk(at(1).astimezone(plus_two)) == {"b": 0}           # 03:00+02:00 is 01:00 UTC: not yet
    assert len(graph.lineage([ids["b"]], direction="upstream", as_of=at(4).astimezone(plus_two)).edges) == 1


NODE_ROW_COLUMNS = ("id", "kind", "source", "source_id", "namespace", "name", "display_name", "first_seen",
                    "last_seen", "raw_id")
EDGE_ROW_COLUMNS = ("id", "kind", "src_id", "dst_id", "source", "valid_from", "valid_to", "raw_id")


def test_answer_rows_read_like_orm_instances(chain):
    """lineage() answers light rows, not model instances: each documented column (and pk) reads what the ORM
    reads, properties only when asked for, and rows hash by id as model instances do."""
    store.apply([store.NodeFact(key=key("c", "dataset"), name="c", properties={"rows": 3, "tags": ["pii"]})])
    result = graph.lineage([chain["d"]], direction="upstream", depth=10)
    with_props = graph.lineage([chain["d"]], direction="upstream", depth=10, properties=True)
    assert [n.pk for n in result.nodes] == [n.pk for n in with_props.nodes]
    for node, full in zip(result.nodes, with_props.nodes):
        fresh = Node.objects.get(pk=node.pk)
        for row in (node, full):
            assert row.pk == fresh.pk and row.depth == result.depth_of[fresh.pk]
            assert {c: getattr(row, c) for c in NODE_ROW_COLUMNS} == {c: getattr(fresh, c) for c in NODE_ROW_COLUMNS}
        assert full.properties == fresh.properties
        assert not hasattr(node, "properties")  # not fetched unless asked
        assert hash(node) == hash(full) == hash(fresh)  # usable in sets and as keys, like model instances
    assert {n.name: n.properties for n in with_props.nodes}["c"] == {"rows": 3, "tags": ["pii"]}
    some = graph.lineage([chain["d"]], direction="upstream", depth=10, properties=["dataset"], edges=False)
    assert some.edges == [] and [n.pk for n in some.nodes] == [n.pk for n in result.nodes]
    assert {n.pk: n.properties for n in some.nodes} == \
        {n.pk: n.properties if n.kind == "dataset" else None for n in with_props.nodes}  # only the kinds asked for
    for edge in result.edges:
        fresh = Edge.objects.get(pk=edge.pk)
        assert {c: getattr(edge, c) for c in EDGE_ROW_COLUMNS} == {c: getattr(fresh, c) for c in EDGE_ROW_COLUMNS}
