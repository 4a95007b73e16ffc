"""The lineage answer in one statement (lineage.graph_answer: walk-side edge lookup, tuples, orjson) gives
the same response bodies as before, on random graphs with awkward contents, on both databases:
- the body equals the previous path's (the walk, then edges by `src = ANY AND dst = ANY`, model instances,
  the view's dicts, DRF's JSONRenderer), key order included;
- on PostgreSQL it also equals what the API served there before (lineage.graph_json's statement);
- graph.lineage() returns the same nodes (the columns its rows carry, properties when asked), depths, edges
  and truncation as before;
- GET /api/nodes/{id}/lineage/ serves that body, and an unknown node is still a JSON 404.
Parsed JSON is compared, so every string (datetimes included) must match character for character.
"""
import json

from django.db import connection
from hypothesis import HealthCheck, given, settings, strategies as st
from rest_framework.renderers import JSONRenderer

from lineage import graph, graph_answer, graph_json
from lineage.api import serializers as s
from lineage.api import views
from tests.conftest import client_for, make_user
from tests.support import graphs as simple
from tests.support.lineage_bodies import EDGE_KINDS, MICROS, NODE_KINDS, OFFSETS, at, graphs, load, previous_lineage


def validated(query: dict) -> dict:
    checked = s.LineageQuerySerializer(data=query)
    checked.is_valid(raise_exception=True)
    return checked.validated_data


def previous_body(start_id: int, q: dict):
    options = views._lineage_options(q)
    as_of_text = options.pop("as_of_text")
    result = previous_lineage([start_id], **options)
    return json.loads(JSONRenderer().render({
        "start": start_id, "direction": q["direction"], "depth": q["depth"], "as_of": as_of_text,
        "truncated": result.truncated, "nodes": views._graph_nodes(result.nodes, result.depth_of),
        "edges": views._graph_edges(result.edges)}))


# What lineage() answers for each node and edge (light rows, lineage.graph_answer): these columns of the model.
NODE_COLUMNS = ("id", "kind", "source", "source_id", "namespace", "name", "display_name", "first_seen", "last_seen",
                "raw_id", "properties")
EDGE_COLUMNS = ("id", "kind", "src_id", "dst_id", "source", "valid_from", "valid_to", "raw_id")


def node_columns(obj) -> dict:
    return {name: getattr(obj, name) for name in NODE_COLUMNS if name != "properties" or hasattr(obj, name)}


def edge_columns(obj) -> dict:
    return {name: getattr(obj, name) for name in EDGE_COLUMNS}


def random_query(data) -> dict:
    query = {"direction": data.draw(st.sampled_from(graph.DIRECTIONS)), "depth": data.draw(st.integers(0, 4)),
             "max_nodes": data.draw(st.integers(1, 10))}
    if data.draw(st.booleans()):
        as_of = at(data.draw(st.integers(0, 9)), data.draw(MICROS)).astimezone(data.draw(st.sampled_from(OFFSETS)))
        query["as_of"] = as_of.isoformat()
    if data.draw(st.booleans()):
        query["node_kinds"] = ",".join(data.draw(st.lists(st.sampled_from(NODE_KINDS), min_size=1, unique=True)))
    if data.draw(st.booleans()):
        query["edge_kinds"] = ",".join(data.draw(st.lists(st.sampled_from(EDGE_KINDS), min_size=1, unique=True)))
    return query


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(graphs(), st.data())
def test_new_body_and_lineage_equal_the_previous_ones_on_random_graphs(db, g, data):
    nodes, edges = g
    ids = load(nodes, edges)
    q = validated(random_query(data))
    start = ids[data.draw(st.integers(0, len(ids) - 1))]
    new = graph_answer.body(start, **views._lineage_options(q))
    got, want = json.loads(new), previous_body(start, q)
    assert got == want
    assert list(got) == ["start", "direction", "depth", "as_of", "truncated", "nodes", "edges"]
    assert [list(n) for n in got["nodes"]] == [list(n) for n in want["nodes"]]
    assert [list(e) for e in got["edges"]] == [list(e) for e in want["edges"]]
    if connection.vendor == "postgresql":
        assert got == json.loads(graph_json.lineage_json(start, **views._lineage_options(q)))
    options = views._lineage_options(q)
    options.pop("as_of_text")
    now, before = graph.lineage([start], **options, properties=True), previous_lineage([start], **options)
    assert [node_columns(n) for n in now.nodes] == [node_columns(n) for n in before.nodes]
    assert [edge_columns(e) for e in now.edges] == [edge_columns(e) for e in before.edges]
    assert now.depth_of == before.depth_of and now.truncated is before.truncated


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(graphs(), st.data())
def test_lineage_from_several_start_nodes_equals_the_previous_one(db, g, data):
    nodes, edges = g
    ids = load(nodes, edges)
    starts = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3)) + [10**12]  # unknown ids drop out
    options = {"direction": data.draw(st.sampled_from(graph.DIRECTIONS)), "depth": data.draw(st.integers(0, 4)),
               "as_of": None, "node_kinds": None, "edge_kinds": None, "max_nodes": data.draw(st.integers(1, 10))}
    now, before = graph.lineage(starts, **options, properties=True), previous_lineage(starts, **options)
    assert [node_columns(n) for n in now.nodes] == [node_columns(n) for n in before.nodes]
    assert [edge_columns(e) for e in now.edges] == [edge_columns(e) for e in before.edges]
    lean = graph.lineage(starts, **options)  # without properties: the same rows less that column
    assert [node_columns(n) for n in now.nodes] == [{**node_columns(m), "properties": n.properties}
                                                   for n, m in zip(now.nodes, lean.nodes)]
    assert now.depth_of == before.depth_of and now.truncated is before.truncated


def test_the_endpoint_serves_the_new_body_and_404s_unknown_nodes(db):
    ids = simple.load([("dataset", 0), ("run", 1), ("dataset", 2)],
               [(0, 1, "consumed", 1, None), (1, 2, "produced", 2, None)])
    api = client_for(make_user("reader", "auditor"))
    response = api.get(f"/api/nodes/{ids[2]}/lineage/", {"direction": "upstream", "depth": 5})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    q = validated({"direction": "upstream", "depth": 5})
    assert response.content == graph_answer.body(ids[2], **views._lineage_options(q))
    assert response.json() == previous_body(ids[2], q)
    assert [n["depth"] for n in response.json()["nodes"]] == [0, 1, 2]
    missing = api.get(f"/api/nodes/{max(ids) + 1000}/lineage/")
    assert missing.status_code == 404 and missing["Content-Type"].startswith("application/json")
    assert graph_answer.body(max(ids) + 1000) is None
