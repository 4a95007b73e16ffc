"""GET /api/nodes/{id}/lineage/ and /path/: the graph walks over HTTP, and 400 JSON for bad parameters."""
import pytest

from lineage import store
from lineage.models import Edge, Node
from tests.conftest import client_for, make_user
from tests.support.graphs import CHAIN, CHAIN_EDGES, at, build, key


@pytest.fixture
def api(db):
    return client_for(make_user("reader", "auditor"))


@pytest.fixture
def chain(db):
    ids = build(CHAIN, CHAIN_EDGES)
    store.apply([store.EdgeClose(kind="consumed", src=key("a", "dataset"), dst=key("b", "run"), at=at(5))])
    return ids


def names(body):
    return {n["name"]: n["depth"] for n in body["nodes"]}


def test_lineage_upstream_with_depths_edges_and_flags(api, chain):
    body = api.get(f"/api/nodes/{chain['e']}/lineage/?direction=upstream&depth=10").json()
    assert names(body) == {"e": 0, "d": 1, "c": 2, "x": 2, "b": 3}  # a -> b is closed now
    assert body["truncated"] is False and body["start"] == chain["e"] and body["direction"] == "upstream"
    ids = {v: k for k, v in chain.items()}
    assert sorted((ids[e["src"]], ids[e["dst"]], e["kind"]) for e in body["edges"]) == [
        ("b", "c", "produced"), ("c", "d", "consumed"), ("d", "e", "produced"), ("x", "d", "instance_of")]


def test_lineage_as_of_node_kinds_edge_kinds_and_max_nodes(api, chain):
    url = f"/api/nodes/{chain['e']}/lineage/"
    assert names(api.get(url, {"direction": "upstream", "depth": 10, "as_of": "2024-01-01T04:00:00Z"}).json())["a"] == 4
    assert "a" not in names(api.get(url, {"direction": "upstream", "depth": 10, "as_of": "2024-01-01T05:00:00Z"}).json())
    kinds = api.get(url, {"direction": "upstream", "node_kinds": "dataset,job"}).json()
    assert names(kinds) == {"e": 0, "c": 2, "x": 2}
    repeated = api.get(f"{url}?direction=upstream&node_kinds=dataset&node_kinds=job").json()
    assert names(repeated) == names(kinds)
    assert names(api.get(url, {"direction": "upstream", "edge_kinds": "produced"}).json()) == {"e": 0, "d": 1}
    capped = api.get(url, {"direction": "upstream", "max_nodes": 2}).json()
    assert names(capped) == {"e": 0, "d": 1} and capped["truncated"] is True
    both = api.get(f"/api/nodes/{chain['c']}/lineage/", {"direction": "both", "depth": 1}).json()
    assert names(both) == {"c": 0, "b": 1, "d": 1}


@pytest.mark.parametrize("query, field", [
    ({"direction": "sideways"}, "direction"),
    ({"depth": "-1"}, "depth"),
    ({"depth": "51"}, "depth"),
    ({"depth": "ten"}, "depth"),
    ({"as_of": "yesterday"}, "as_of"),
    ({"node_kinds": "dataset,spaceship"}, "node_kinds"),
    ({"edge_kinds": "loves"}, "edge_kinds"),
    ({"max_nodes": "0"}, "max_nodes"),
    ({"max_nodes": "100001"}, "max_nodes"),
])
def test_bad_parameters_are_400_json_naming_the_field(api, chain, query, field):
    response = api.get(f"/api/nodes/{chain['e']}/lineage/", query)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid" and field in body["detail"]


def test_unknown_node_is_404_json(api, chain):
    response = api.get("/api/nodes/999999999/lineage/")
    assert response.status_code == 404 and "detail" in response.json()
    assert api.get("/api/nodes/999999999/path/", {"to": chain["a"]}).status_code == 404


def test_path_endpoint(api, chain):
    body = api.get(f"/api/nodes/{chain['b']}/path/", {"to": chain["e"]}).json()
    assert body["found"] is True and body["direction"] == "downstream" and body["length"] == 3
    assert [n["name"] for n in body["nodes"]] == ["b", "c", "d", "e"]
    back = api.get(f"/api/nodes/{chain['e']}/path/", {"to": chain["x"]}).json()
    assert back["direction"] == "upstream" and [n["name"] for n in back["nodes"]] == ["e", "d", "x"]
    assert api.get(f"/api/nodes/{chain['a']}/path/", {"to": chain["e"]}).json()["found"] is False  # a -> b closed
    then = api.get(f"/api/nodes/{chain['a']}/path/", {"to": chain["e"], "as_of": "2024-01-01T02:00:00Z"}).json()
    assert then["found"] is True and then["length"] == 4
    assert api.get(f"/api/nodes/{chain['a']}/path/", {"to": chain["e"], "max_depth": 3,
                                                      "as_of": "2024-01-01T02:00:00Z"}).json()["found"] is False


def test_path_bad_parameters(api, chain):
    url = f"/api/nodes/{chain['a']}/path/"
    for query, field in (({}, "to"), ({"to": "x"}, "to"), ({"to": 999999999}, "to"),
                         ({"to": chain["b"], "max_depth": 99}, "max_depth"), ({"to": chain["b"], "as_of": "no"}, "as_of")):
        response = api.get(url, query)
        assert response.status_code == 400 and field in response.json()["detail"], query


def test_reads_change_nothing(api, chain):
    before = (Node.objects.count(), Edge.objects.count())
    api.get(f"/api/nodes/{chain['e']}/lineage/")
    api.get(f"/api/nodes/{chain['e']}/lineage/", {"direction": "nowhere"})
    assert (Node.objects.count(), Edge.objects.count()) == before


def test_graph_answer_matches_the_documented_serializers(api, chain):
    """The view builds graph rows directly for speed; they must be exactly what the schema's serializers say."""
    from lineage import graph as lineage_graph
    from lineage.api.serializers import GraphEdgeSerializer, GraphNodeSerializer

    body = api.get(f"/api/nodes/{chain['c']}/lineage/", {"direction": "both", "depth": 10}).json()
    result = lineage_graph.lineage([chain["c"]], direction="both", depth=10, max_nodes=1000)
    assert body["nodes"] == GraphNodeSerializer(result.nodes, many=True, context={"depth_of": result.depth_of}).data
    assert body["edges"] == GraphEdgeSerializer(result.edges, many=True).data
    assert len(body["nodes"]) == 4 and len(body["edges"]) == 3  # c, b, d, e: x is upstream of d, not of c
    closed = Edge.objects.get(kind="consumed", valid_to__isnull=False)
    then = api.get(f"/api/nodes/{chain['c']}/lineage/", {"direction": "both", "depth": 10,
                                                          "as_of": "2024-01-01T03:00:00Z"}).json()
    assert {e["id"]: e["valid_to"] for e in then["edges"]}[closed.pk] == "2024-01-01T05:00:00Z"
