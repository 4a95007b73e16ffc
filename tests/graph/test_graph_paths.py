"""lineage.graph.path_between: the shortest directed path either way round, on hand-drawn graphs."""
import pytest

from lineage import graph, store
from tests.support.graphs import at, build, key


@pytest.fixture
def diamond(db):
    # a -> b -> c -> d  and a shortcut a -> x -> d ; y is unrelated; z -> a
    return build({"a": "dataset", "b": "run", "c": "dataset", "d": "run", "x": "run", "y": "job", "z": "run"},
                 [("a", "b", "consumed"), ("b", "c", "produced"), ("c", "d", "consumed"),
                  ("a", "x", "consumed"), ("x", "d", "parent_of"), ("z", "a", "produced")])


def path_names(result):
    return [n.name for n in result.nodes]


def test_shortest_downstream_path_is_found(diamond):
    result = graph.path_between(diamond["a"], diamond["d"])
    assert result.direction == "downstream"
    assert path_names(result) == ["a", "x", "d"]
    assert [(e.src_id, e.dst_id) for e in result.edges] == [(diamond["a"], diamond["x"]), (diamond["x"], diamond["d"])]
    assert result.length == 2


def test_path_against_the_edges_is_listed_from_the_first_node(diamond):
    result = graph.path_between(diamond["d"], diamond["z"])
    assert result.direction == "upstream"
    assert path_names(result) == ["d", "x", "a", "z"]
    assert [(e.src.name, e.dst.name) for e in result.edges] == [("x", "d"), ("a", "x"), ("z", "a")]


def test_no_path_between_unrelated_or_sibling_nodes(diamond):
    assert graph.path_between(diamond["a"], diamond["y"]) is None
    assert graph.path_between(diamond["b"], diamond["x"]) is None  # siblings: no directed path either way


def test_max_depth_and_edge_kinds_bound_the_search(diamond):
    assert graph.path_between(diamond["z"], diamond["d"], max_depth=2) is None
    assert path_names(graph.path_between(diamond["z"], diamond["d"], max_depth=3)) == ["z", "a", "x", "d"]
    no_parent = graph.path_between(diamond["a"], diamond["d"], edge_kinds=["consumed", "produced"])
    assert path_names(no_parent) == ["a", "b", "c", "d"]


def test_same_node_is_a_path_of_length_zero(diamond):
    result = graph.path_between(diamond["c"], diamond["c"])
    assert path_names(result) == ["c"] and result.edges == []


def test_as_of_ignores_a_closed_edge(diamond):
    store.apply([store.EdgeClose(kind="parent_of", src=key("x", "run"), dst=key("d", "run"), at=at(3))])
    assert path_names(graph.path_between(diamond["a"], diamond["d"], as_of=at(2))) == ["a", "x", "d"]
    assert path_names(graph.path_between(diamond["a"], diamond["d"], as_of=at(3))) == ["a", "b", "c", "d"]
    assert path_names(graph.path_between(diamond["a"], diamond["d"])) == ["a", "b", "c", "d"]
    assert graph.path_between(diamond["a"], diamond["d"], as_of=at(0)) is None  # no edge held yet
