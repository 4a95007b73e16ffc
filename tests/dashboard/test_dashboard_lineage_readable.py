"""The explorer draws names people can read: runs as job + start time, versions as dataset + version,
folded runs and versions, kind filters that join through hidden kinds, state kept in the URL, and a
layout whose fitted size keeps 60-node graphs legible."""
import json
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client

from dashboard import graph_fold, graph_style
from dashboard import lineage_view as lv
from devtools.dashboard import DashCaller, demo_model, find_component
from tests.support.lineage_graphs import two_step_pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture
def caller(users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["engineer"])
    return DashCaller(client)


def drawn(caller, search):
    page = caller.call_json("page.children", {"url.pathname": "/dashboard/lineage", "url.search": search})
    graph = find_component(page, "lin-graph")
    elements = graph["props"]["elements"] if graph else []
    nodes = {e["data"]["id"]: e for e in elements if "target" not in e["data"]}
    edges = {(e["data"]["source"], e["data"]["target"]): e for e in elements if "target" in e["data"]}
    return page, nodes, edges


def test_middle_truncation_keeps_both_ends():
    text = "s3://a-very-long-bucket-name/with/a/deep/path/train.csv"
    cut = graph_style.middle_truncate(text, 26)
    assert len(cut) == 26 and cut.startswith("s3://a-very") and cut.endswith("train.csv") and "…" in cut
    assert graph_style.middle_truncate("short", 26) == "short"


def test_runs_are_labelled_by_job_and_start_and_versions_by_dataset_and_version(caller):
    ids = two_step_pipeline()
    _page, nodes, _edges = drawn(caller, f"?node={ids['raw']}&direction=downstream&depth=10")
    run1 = nodes[str(ids["run1"])]["data"]["label"]
    assert run1 == "ingest_or…hema_daily\n2026-01-10 12:00"  # middle-truncated job name, start time
    assert "3f1c2d9e" not in run1  # never the run's UUID
    assert nodes[str(ids["run3"])]["data"]["label"] == "build_features\n2026-01-11 14:00"
    assert nodes[str(ids["v1"])]["data"]["label"] == "staging.orders\n@ 2026-01-10 12:00"
    assert nodes[str(ids["raw"])]["data"]["label"] == "raw.orders"
    # The hover card carries the full name and what the label had to cut.
    card = nodes[str(ids["run1"])]["data"]["card"]
    assert "ingest_orders_into_the_staging_schema_daily 3f1c2d9e" in card and "started 2026-01-10 12:00 UTC" in card


def test_a_kubeflow_run_takes_its_jobs_name_from_the_instance_of_edge(caller):
    ids = demo_model()
    _page, nodes, _edges = drawn(caller, f"?node={ids['model_version']}&direction=upstream&depth=1")
    assert nodes[str(ids["run"])]["data"]["label"] == "churn-model-training\n2026-01-10 12:00"


def test_dataset_only_view_joins_through_runs_and_versions(caller):
    ids = two_step_pipeline()
    _page, nodes, edges = drawn(caller, f"?node={ids['raw']}&direction=downstream&depth=10&kinds=dataset")
    assert set(nodes) == {str(ids[k]) for k in ("raw", "staging", "features")}
    assert set(edges) == {(str(ids["raw"]), str(ids["staging"])), (str(ids["staging"]), str(ids["features"]))}
    label = edges[(str(ids["raw"]), str(ids["staging"]))]["data"]["label"]
    assert label.startswith("via ") and "run" in label


def test_folding_runs_into_jobs_and_versions_into_datasets(caller):
    ids = two_step_pipeline()
    _page, nodes, edges = drawn(caller, f"?node={ids['raw']}&direction=downstream&depth=10&fold=runs,versions")
    assert set(nodes) == {str(ids[k]) for k in ("raw", "ingest", "staging", "build", "features")}
    ingest = nodes[str(ids["ingest"])]
    # The job lies upstream of the walk: it is fetched to stand for its two runs.
    assert "folded" in ingest["classes"] and "stands for 2 nodes folded into it" in ingest["data"]["card"]
    assert set(edges) == {(str(ids["raw"]), str(ids["ingest"])), (str(ids["ingest"]), str(ids["staging"])),
                          (str(ids["staging"]), str(ids["build"])), (str(ids["build"]), str(ids["features"]))}
    # Folding only runs keeps the versions, each produced by the job.
    _page, nodes, edges = drawn(caller, f"?node={ids['raw']}&direction=downstream&depth=10&fold=runs")
    assert str(ids["v1"]) in nodes and (str(ids["ingest"]), str(ids["v1"])) in edges
    assert str(ids["run1"]) not in nodes


def test_starting_on_a_folded_run_centres_on_its_job(caller):
    ids = two_step_pipeline()
    _page, nodes, _edges = drawn(caller, f"?node={ids['run3']}&direction=both&depth=2&fold=runs")
    build = nodes[str(ids["build"])]
    assert "start" in build["classes"] and str(ids["run3"]) not in nodes


def test_shape_rules_without_a_database():
    kinds = {1: "dataset", 2: "run", 3: "dataset_version", 4: "dataset", 5: "job", 6: "run", 7: "dataset"}
    edges = [(1, 2, "consumed"), (2, 3, "produced"), (3, 4, "version_of"), (5, 2, "instance_of"),
             (3, 6, "consumed"), (6, 7, "produced")]
    shaped = graph_fold.shape(kinds, edges, visible={"dataset"})
    assert set(shaped.nodes) == {1, 4, 7}
    assert {(a, b) for a, b, _k in shaped.edges} == {(1, 4), (4, 7)}
    # The version 3 is drawn as its dataset 4, so 4 -> 7 holds although 3 (not 4) was consumed.
    assert 3 in shaped.members[4]
    folded = graph_fold.shape(kinds, edges, folds={"runs"})
    assert 2 not in folded.nodes and set(folded.members[5]) == {2, 5}
    assert (1, 5, ("consumed",)) in folded.edges
    # A run without a job stays itself when folding.
    assert 6 in folded.nodes


def test_state_round_trips_through_the_url():
    ids = two_step_pipeline()
    state = lv.ViewState.parse(node=ids["raw"], direction="downstream", depth=10, as_of="2026-02-01",
                               kinds=["dataset", "job"], fold=["versions"], max_nodes=120)
    url = state.url()
    query = {k: v[-1] for k, v in parse_qs(urlparse(url).query).items()}
    assert lv.ViewState.from_query(query) == state
    # Re-centring keeps every other setting.
    moved = lv.ViewState.from_query({k: v[-1] for k, v in parse_qs(urlparse(state.url(node=ids["staging"])).query).items()})
    assert moved.node == ids["staging"] and (moved.direction, moved.depth, moved.kinds, moved.fold) == (
        "downstream", 10, ("dataset", "job"), ("versions",))
    with pytest.raises(lv.BadInput, match="Fold must be"):
        lv.ViewState.from_query({"fold": "everything"})


def test_controls_write_the_url_and_the_page_is_drawn_from_it(caller):
    ids = two_step_pipeline()
    search = f"?node={ids['raw']}"
    response = caller.call_json("url.search", {
        "lin-apply.n_clicks": 1, "lin-direction.value": "downstream", "lin-depth.value": 10, "lin-kinds.value": ["dataset"],
        "lin-fold.value": [], "lin-max.value": 300, "lin-asof.value": "", "url.search": search},
        changed="lin-direction.value")
    written = response["url"]["search"]
    assert parse_qs(written.lstrip("?")) == {"node": [str(ids["raw"])], "direction": ["downstream"], "depth": ["10"],
                                             "kinds": ["dataset"]}
    page, nodes, _edges = drawn(caller, written)
    assert len(nodes) == 3
    controls = json.dumps(page)
    assert '"value": "downstream"' in controls and '"value": ["dataset"]' in controls
    # A bad control is refused where the notice is shown, and the URL is left as it was.
    bad = caller.call_json("url.search", {
        "lin-apply.n_clicks": 1, "lin-direction.value": "downstream", "lin-depth.value": 99, "lin-kinds.value": [],
        "lin-fold.value": [], "lin-max.value": 300, "lin-asof.value": "", "url.search": search},
        changed="lin-depth.value")
    assert "url" not in bad and "Depth must be between 0 and 50" in json.dumps(bad)


def test_historical_view_shows_an_as_of_banner(caller):
    ids = demo_model()
    page, _nodes, _edges = drawn(caller, f"?node={ids['model_version']}&as_of=2026-01-20")
    banner = json.dumps(find_component(page, "lin-asof-banner"))
    assert "Historical view" in banner and "2026-01-20 23:59:59 UTC" in banner
    now_link = find_component(page, "lin-now-link")
    assert "as_of" not in now_link["props"]["href"] and f"node={ids['model_version']}" in now_link["props"]["href"]
    current, _n, _e = drawn(caller, f"?node={ids['model_version']}")
    assert find_component(current, "lin-asof-banner") is None


def test_table_view_lists_the_same_graph_for_keyboard_use(caller):
    ids = two_step_pipeline()
    search = f"?node={ids['raw']}&direction=downstream&depth=10&kinds=dataset"
    _page, nodes, _edges = drawn(caller, search)
    shown = caller.call_json("lin-table-view.children", {"lin-table-show.n_clicks": 1, "url.search": search})
    table = find_component(shown, "lin-table")["props"]["children"]
    # Full names (not the cut labels), each a link that re-centres with the same settings.
    assert f"[staging.orders](/dashboard/lineage?node={ids['staging']}&direction=downstream&depth=10&kinds=dataset)" in table
    assert "| raw.orders (via dataset version, run) |" in table or "| raw.orders (via run) |" in table
    assert len([line for line in table.splitlines() if line.startswith("| [")]) == len(nodes) == 3
    picker = find_component(shown, "lin-table-pick")
    assert sorted(o["value"] for o in picker["props"]["options"]) == sorted(int(n) for n in nodes)
    # Picking a node there opens its details, as a click on the graph does.
    details = caller.call_json("lin-details.children", {"lin-table-pick.value": ids["staging"], "url.search": search})
    assert f'"data-node": "{ids["staging"]}"' in json.dumps(details)
    # Re-centring there keeps the view's other settings.
    centre = find_component(details, "lin-centre")["props"]["href"]
    assert centre == f"/dashboard/lineage?node={ids['staging']}&direction=downstream&depth=10&kinds=dataset"


def test_clicking_a_node_in_path_mode_fills_the_path_ends(caller):
    ids = demo_model()
    def click(mode):
        response = caller.call("lin-path-from.value", {"lin-graph.tapNodeData": {"id": str(ids["dataset"])},
                                                       "lin-click.value": mode}, changed="lin-graph.tapNodeData")
        return response.json().get("response", {}) if response.status_code == 200 else {}

    assert click("from") == {"lin-path-from": {"value": str(ids["dataset"])}}
    assert click("to") == {"lin-path-to": {"value": str(ids["dataset"])}}
    assert click("details") == {}  # clicking only shows the details


@pytest.mark.parametrize("n_nodes", [20, 60])
def test_fitted_layout_keeps_labels_legible_up_to_60_nodes(n_nodes):
    """A long chain is wrapped into bands so that fitting it on the 1024x768 canvas keeps the zoom (and so
    the labels' drawn size) near 1; without the bands a 60-node chain would be drawn at a quarter size."""
    ids = list(range(n_nodes))
    positions = graph_style.layered_positions(ids, list(zip(ids, ids[1:])))
    xs = [p["x"] for p in positions.values()]
    ys = [p["y"] for p in positions.values()]
    width = max(xs) - min(xs) + graph_style.X_STEP
    height = max(ys) - min(ys) + graph_style.Y_STEP
    zoom = min(graph_style.CANVAS[0] / width, graph_style.CANVAS[1] / height)
    assert graph_style.FONT_SIZE * zoom >= 9.5, zoom
    assert len({(p["x"], p["y"]) for p in positions.values()}) == n_nodes  # nothing drawn on top of another
    # Within a band the chain still reads left to right.
    assert positions[1]["x"] > positions[0]["x"]


def test_cut_labels_of_look_alikes_stay_distinct():
    from types import SimpleNamespace

    names = [f"analytics.branch_{b}_step_{s}_sessions" for b in range(3) for s in range(3)] + ["raw.clickstream_events"]
    nodes = [SimpleNamespace(pk=i, kind="dataset", display_name=name, name=name, properties={}, first_seen=None)
             for i, name in enumerate(names)]
    labels = graph_style.distinct_labels(nodes)
    assert len(set(labels.values())) == len(names)
    assert all(len(label) <= graph_style.LABEL_CHARS for label in labels.values())
    assert labels[5] == "…branch_1_step_2…"  # both numbers kept, the shared words dropped
    assert labels[9] == "raw.click…eam_events"  # no look-alike: plain middle truncation
