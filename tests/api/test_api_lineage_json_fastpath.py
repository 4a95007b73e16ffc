"""The JSON PostgreSQL builds in one statement (lineage.graph_json, what GET /api/nodes/{id}/lineage/ served on
PostgreSQL before lineage.graph_answer; still the reference tests/api/test_api_lineage_body_old_vs_new.py
compares with, and a bench.lineage row) must mean exactly what the DRF path (lineage.api.views.lineage_answer, rendered by DRF's JSONRenderer)
and DRF's own LineageSerializer say, on random graphs: unicode and control characters in every text
column, datetimes with and without microseconds, closed edges, `as_of` in any offset, node/edge kind
filters, truncation, all three directions. Parsed JSON is compared, so every string (datetimes included)
must match character for character; only the spacing between tokens may differ.
"""
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from lineage import graph, graph_json, store
from lineage.api import serializers as s
from lineage.api import views
from lineage.models import Node
from tests.conftest import client_for, make_user
from tests.support.lineage_bodies import EDGE_KINDS, MICROS, NODE_KINDS, OFFSETS, T0, at, graphs, load

# The JSON fast path is PostgreSQL's (SQLite keeps the DRF path).
pytestmark = pytest.mark.postgres_only


def validated(query: dict) -> dict:
    checked = s.LineageQuerySerializer(data=query)
    checked.is_valid(raise_exception=True)
    return checked.validated_data


def fast(start_id: int, q: dict):
    return json.loads(graph_json.lineage_json(start_id, **views._lineage_options(q)))


def drf_path(start_id: int, q: dict):
    """What SQLite and the browsable API serve, rendered by DRF's JSON renderer."""
    return json.loads(JSONRenderer().render(views.lineage_answer(start_id, q)))


def drf_serializer(start_id: int, q: dict):
    """The answer through DRF's own LineageSerializer (the schema's description of the response)."""
    result = graph.lineage([start_id], direction=q["direction"], depth=q["depth"], as_of=q.get("as_of"),
                           node_kinds=q.get("node_kinds") or None, edge_kinds=q.get("edge_kinds") or None,
                           max_nodes=q["max_nodes"])
    data = s.LineageSerializer({"start": start_id, "direction": q["direction"], "depth": q["depth"],
                                "as_of": q.get("as_of"), "truncated": result.truncated, "nodes": result.nodes,
                                "edges": result.edges}, context={"depth_of": result.depth_of}).data
    return json.loads(JSONRenderer().render(data))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(graphs(), st.data())
def test_fast_path_json_equals_the_drf_paths_on_random_graphs(db, g, data):
    nodes, edges = g
    ids = load(nodes, edges)
    query = {"direction": data.draw(st.sampled_from(graph.DIRECTIONS)), "depth": data.draw(st.integers(0, 4)),
             "max_nodes": data.draw(st.integers(1, 10))}
    if data.draw(st.booleans()):
        as_of = at(data.draw(st.integers(0, 9)), data.draw(MICROS)).astimezone(data.draw(st.sampled_from(OFFSETS)))
        query["as_of"] = as_of.isoformat()
    if data.draw(st.booleans()):
        query["node_kinds"] = ",".join(data.draw(st.lists(st.sampled_from(NODE_KINDS), min_size=1, unique=True)))
    if data.draw(st.booleans()):
        query["edge_kinds"] = ",".join(data.draw(st.lists(st.sampled_from(EDGE_KINDS), min_size=1, unique=True)))
    q = validated(query)
    start = ids[data.draw(st.integers(0, len(ids) - 1))]
    got, want = fast(start, q), drf_path(start, q)
    assert got == want
    assert got == drf_serializer(start, q)
    # Same key order too, for readers that look at the text.
    assert list(got) == ["start", "direction", "depth", "as_of", "truncated", "nodes", "edges"]
    assert [list(n) for n in got["nodes"]] == [list(n) for n in want["nodes"]]
    assert [list(e) for e in got["edges"]] == [list(e) for e in want["edges"]]


@pytest.fixture
def api(db):
    return client_for(make_user("reader", "auditor"))


@pytest.fixture
def small(db):
    """a -> b -> c (c reached at 2 hops), d -> b closed, timestamps with and without microseconds."""
    a, b, c, d = (store.NodeKey("manual", kind, name) for kind, name in
                  (("dataset", "a"), ("run", "b"), ("dataset", "c"), ("dataset", "d")))
    store.apply([
        store.NodeFact(key=a, name="á \"quoted\" \\ \u2028 😀", namespace="ns\n1", seen_at=at(0, 5),
                       properties={"nested": {"x": [1, None, "ü"]}, "none": None},
                       raw=store.RawPayload("manual", "manual.node", "a", {"k": "v"})),
        store.NodeFact(key=b, name="b", seen_at=at(1)),
        store.NodeFact(key=c, name="c", display_name="C \x01", seen_at=at(2, 250_000)),
        store.NodeFact(key=d, name="d", seen_at=at(0)),
        store.EdgeFact(kind="consumed", src=a, dst=b, source="manual", valid_from=at(1, 999_999)),
        store.EdgeFact(kind="produced", src=b, dst=c, source="manual", valid_from=at(2)),
        store.EdgeFact(kind="consumed", src=d, dst=b, source="manual", valid_from=at(1)),
    ], now=T0)
    store.apply([store.EdgeClose(kind="consumed", src=d, dst=b, at=at(3, 1))])
    return dict(Node.objects.filter(source="manual").values_list("source_id", "pk"))


def test_json_requests_are_answered_by_the_statement_and_equal_the_drf_path(api, small):
    url = f"/api/nodes/{small['c']}/lineage/"
    for params in ({"direction": "upstream", "depth": 5}, {"direction": "both", "as_of": "2024-03-01T03:30:00+02:00"},
                   {"direction": "upstream", "as_of": "2024-03-01T02:00:00.000001Z", "max_nodes": 2},
                   {"direction": "upstream", "node_kinds": "dataset", "edge_kinds": "consumed,produced"}):
        response = api.get(url, params)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        # A plain HttpResponse: no DRF Response (whose .data a serializer would have rendered) on this path.
        assert not isinstance(response, Response)
        assert response.json() == drf_path(small["c"], validated(params))
    body = api.get(url, {"direction": "upstream", "depth": 5}).json()
    a = next(n for n in body["nodes"] if n["id"] == small["a"])
    assert a["name"] == "á \"quoted\" \\ \u2028 😀" and a["first_seen"] == "2024-03-01T00:00:00.000005Z"
    assert a["raw"] is not None and [n["depth"] for n in body["nodes"]] == [0, 1, 2]
    explicit = api.get(url, {"direction": "upstream", "depth": 5, "format": "json"})
    assert not isinstance(explicit, Response) and explicit.json() == body


def test_browsable_api_keeps_the_drf_path(api, small):
    url = f"/api/nodes/{small['c']}/lineage/"
    html = api.get(url, {"direction": "upstream", "format": "api"})
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    assert isinstance(html, Response)
    assert html.data == views.lineage_answer(small["c"], validated({"direction": "upstream"}))
    assert api.get(url, {"direction": "upstream"}, HTTP_ACCEPT="text/html")["Content-Type"].startswith("text/html")


def test_bad_parameters_unknown_nodes_and_anonymous_requests_are_answered_as_before(api, small):
    url = f"/api/nodes/{small['c']}/lineage/"
    bad = api.get(url, {"max_nodes": "0"})
    assert bad.status_code == 400 and "max_nodes" in bad.json()["detail"]
    assert api.get("/api/nodes/999999999/lineage/").status_code == 404
    assert api.get("/api/nodes/999999999/lineage/", {"max_nodes": "0"}).status_code == 404  # 404 before 400
    assert api.get("/api/nodes/99999999999999999999/lineage/").status_code == 404  # beyond bigint: no 500
    from rest_framework.test import APIClient

    assert APIClient().get(url).status_code == 401


def test_a_start_node_that_did_not_exist_yet_gives_an_empty_answer(api, small):
    body = api.get(f"/api/nodes/{small['c']}/lineage/", {"as_of": "2024-03-01T01:00:00Z"}).json()
    assert body == {"start": small["c"], "direction": "both", "depth": 3, "as_of": "2024-03-01T01:00:00Z",
                    "truncated": False, "nodes": [], "edges": []}
