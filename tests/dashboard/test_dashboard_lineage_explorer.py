"""The lineage explorer's callbacks: search, redraw with direction/depth/as-of, bad input refused
clearly, truncation announced, expand in place, path between two nodes."""
import datetime as dt
import json
from urllib.parse import urlencode

import pytest
from django.test import Client

from devtools.dashboard import DashCaller, demo_model, find_component, layered_lineage
from lineage import store
from lineage.kinds import EdgeKind, NodeKind, Source
from lineage.store import EdgeClose, NodeKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def caller(users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["engineer"])
    return DashCaller(client)


def node_ids(elements):
    return {e["data"]["id"] for e in elements if "target" not in e["data"]}


CONTROL_PARAMS = {"direction": "direction", "depth": "depth", "asof": "as_of", "kinds": "kinds", "max": "max"}


def redraw(caller, start, **controls):
    """The explorer drawn from its URL (the controls write the URL; the page is drawn from it)."""
    params = {"node": start}
    for name, value in controls.items():
        params[CONTROL_PARAMS[name]] = ",".join(value) if isinstance(value, list) else value
    page = caller.call_json("page.children", {"url.pathname": "/dashboard/lineage", "url.search": "?" + urlencode(params)})
    return find_component(page, "lin-graph")["props"]["elements"], json.dumps(find_component(page, "lin-notice"))


def test_search_finds_nodes_by_name_uri_and_id(caller):
    ids = demo_model()
    for text in ("churn-model v3", "s3://demo-bucket/churn-model/train.csv", str(ids["run"]), "TRAIN.CSV"):
        hits = json.dumps(caller.call_json("lin-search-results.children",
                                           {"lin-search-go.n_clicks": 1, "lin-search.value": text}))
        assert "lin-hits" in hits, text
    by_uri = json.dumps(caller.call_json("lin-search-results.children", {
        "lin-search-go.n_clicks": 1, "lin-search.value": "s3://demo-bucket/churn-model/train.csv"}))
    assert f"?node={ids['dataset']}" in by_uri
    none = json.dumps(caller.call_json("lin-search-results.children",
                                       {"lin-search-go.n_clicks": 1, "lin-search.value": "no-such-thing"}))
    assert "No node matches" in none


def test_direction_and_depth_select_the_drawn_nodes(caller):
    ids = demo_model()
    up, _ = redraw(caller, ids["model_version"], direction="upstream", depth=1)
    assert node_ids(up) == {str(ids["model_version"]), str(ids["run"])}
    up2, _ = redraw(caller, ids["model_version"], direction="upstream", depth=2)
    assert str(ids["dataset"]) in node_ids(up2) and str(ids["deployment"]) not in node_ids(up2)
    down, _ = redraw(caller, ids["model_version"], direction="downstream", depth=2)
    assert node_ids(down) == {str(ids["model_version"]), str(ids["model"]), str(ids["deployment"])}
    # Upstream is drawn to the left of downstream, whatever the direction asked.
    both, _ = redraw(caller, ids["model_version"])
    x = {e["data"]["id"]: e["position"]["x"] for e in both if "position" in e}
    assert x[str(ids["dataset"])] < x[str(ids["run"])] < x[str(ids["model_version"])] < x[str(ids["deployment"])]
    # Kinds and sources travel as classes so the stylesheet can tell them apart.
    dataset = next(e for e in both if e["data"]["id"] == str(ids["dataset"]))
    assert "kind-dataset" in dataset["classes"] and "source-openlineage" in dataset["classes"]


def test_as_of_shows_the_graph_as_it_was(caller):
    ids = demo_model()
    run = NodeKey(Source.KUBEFLOW, NodeKind.RUN, "run:churn-model-3")
    dataset = NodeKey(Source.OPENLINEAGE, NodeKind.DATASET, "s3://demo-bucket/churn-model/train.csv")
    store.apply([EdgeClose(EdgeKind.CONSUMED, dataset, run, at=dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc))])
    now, _ = redraw(caller, ids["model_version"], direction="upstream")
    then, _ = redraw(caller, ids["model_version"], direction="upstream", asof="2026-01-20")
    assert str(ids["dataset"]) not in node_ids(now)
    assert str(ids["dataset"]) in node_ids(then)
    before, _ = redraw(caller, ids["model_version"], direction="upstream", asof="2025-12-31T00:00")
    assert node_ids(before) == set()  # nothing existed yet


@pytest.mark.parametrize("controls, message", [
    ({"asof": "last tuesday"}, "must be a date or date-time"),
    ({"depth": 99}, "Depth must be between 0 and 50"),
    ({"depth": "deep"}, "Depth must be a whole number"),
    ({"max": 0}, "Max nodes must be between 1"),
    ({"direction": "sideways"}, "Direction must be one of"),
    ({"kinds": ["spaceship"]}, "Unknown node kind"),
])
def test_bad_controls_are_refused_with_a_clear_message(caller, controls, message):
    ids = demo_model()
    values = {"lin-apply.n_clicks": 1, "lin-direction.value": "both", "lin-depth.value": 3, "lin-kinds.value": [],
              "lin-fold.value": [], "lin-max.value": 300, "lin-asof.value": "", "url.search": f"?node={ids['model_version']}"}
    values.update({f"lin-{k}.value": v for k, v in controls.items()})
    response = caller.call_json("url.search", values, changed="lin-apply.n_clicks")
    assert "url" not in response  # the URL, and so the drawn graph, is left as it was
    assert message in json.dumps(response["lin-notice"])


def test_large_graphs_are_truncated_with_a_notice(caller):
    mv = layered_lineage(120, width=10)
    elements, notice = redraw(caller, mv, direction="upstream", depth=50, max=40)
    assert len(node_ids(elements)) == 40
    assert "lin-truncated" in notice and "Too large to draw" in notice
    whole, notice = redraw(caller, mv, direction="upstream", depth=50, max=500)
    assert len(node_ids(whole)) == 120 and "lin-summary" in notice


def test_expand_adds_neighbours_in_place(caller):
    ids = demo_model()
    elements, _ = redraw(caller, ids["model_version"], direction="downstream", depth=1)
    assert str(ids["run"]) not in node_ids(elements)
    response = caller.call_json("lin-graph.elements", {
        "lin-expand.n_clicks": 1, "lin-graph.tapNodeData": {"id": str(ids["model_version"]), "label": "churn-model v3"},
        "lin-graph.elements": elements, "lin-asof.value": ""})
    grown = response["lin-graph"]["elements"]
    assert node_ids(grown) == node_ids(elements) | {str(ids["run"])}
    run = next(e for e in grown if e["data"]["id"] == str(ids["run"]))
    anchor = next(e for e in grown if e["data"]["id"] == str(ids["model_version"]))
    assert run["position"]["x"] < anchor["position"]["x"]  # the upstream neighbour lands on the left
    # Expanding the run adds its job and metrics without covering a node already drawn.
    again = caller.call_json("lin-graph.elements", {
        "lin-expand.n_clicks": 2, "lin-graph.tapNodeData": {"id": str(ids["run"]), "label": "train churn-model v3"},
        "lin-graph.elements": grown, "lin-asof.value": ""})["lin-graph"]["elements"]
    assert {str(ids["job"]), str(ids["dataset"]), str(ids["metrics"])} <= node_ids(again)
    spots = [(e["position"]["x"], e["position"]["y"]) for e in again if "position" in e]
    assert len(spots) == len(set(spots))
    assert "lin-expanded" in json.dumps(response)


def test_path_between_two_nodes_in_either_order(caller):
    ids = demo_model()
    for a, b in ((ids["dataset"], ids["deployment"]), (ids["deployment"], ids["dataset"])):
        response = caller.call_json("lin-graph.elements", {
            "lin-path-go.n_clicks": 1, "lin-path-from.value": str(a), "lin-path-to.value": str(b),
            "lin-asof.value": ""})
        drawn = node_ids(response["lin-graph"]["elements"])
        assert drawn == {str(ids[k]) for k in ("dataset", "run", "model_version", "deployment")}
        assert "lin-path-found" in json.dumps(response)
        assert f"Path from node {ids['dataset']} (upstream) to node {ids['deployment']}" in json.dumps(response)
    unrelated = caller.call_json("lin-graph.elements", {
        "lin-path-go.n_clicks": 1, "lin-path-from.value": str(ids["metrics"]), "lin-path-to.value": str(ids["model"]),
        "lin-asof.value": ""})
    assert "lin-no-path" in json.dumps(unrelated) and "lin-graph" not in unrelated
    bad = caller.call_json("lin-graph.elements", {
        "lin-path-go.n_clicks": 1, "lin-path-from.value": "abc", "lin-path-to.value": "999999", "lin-asof.value": ""})
    assert "must be a node id" in json.dumps(bad)


def test_node_details_show_source_link_and_raw_payload(caller):
    ids = demo_model()
    response = caller.call_json("lin-details.children", {"lin-graph.tapNodeData": {"id": str(ids["run"])}})
    details = response["lin-details"]["children"]
    link = find_component(details, "lin-source-link")
    assert link["props"]["href"] == "https://kfp.example/#/runs/details/churn-model-3"
    raw = find_component(details, "lin-raw")
    assert '"state": "SUCCEEDED"' in raw["props"]["children"]
    mv = caller.call_json("lin-details.children", {"lin-graph.tapNodeData": {"id": str(ids["model_version"])}})
    assert find_component(mv, "lin-model-link")["props"]["href"] == f"/dashboard/model/{ids['model_version']}"


def test_page_draws_the_node_named_in_the_url(caller):
    ids = demo_model()
    page = caller.call_json("page.children", {"url.pathname": "/dashboard/lineage",
                                               "url.search": f"?node={ids['model_version']}&direction=upstream"})
    graph = find_component(page, "lin-graph")
    assert str(ids["dataset"]) in node_ids(graph["props"]["elements"])
    missing = caller.call_json("page.children", {"url.pathname": "/dashboard/lineage", "url.search": "?node=987654"})
    assert "no node with id 987654" in json.dumps(missing)
