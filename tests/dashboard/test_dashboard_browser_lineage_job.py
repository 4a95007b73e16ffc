"""An engineer's job in real Chromium at 1024x768: find a dataset and show its downstream lineage at depth
10, with labels a person can read (names, not UUIDs, at 10 px or more once fitted), in at most four
actions after signing in."""
from __future__ import annotations

import re

import pytest

from tests.conftest import make_user
from tests.support.browser import (CY, PASSWORD, browser_marks, shot, sign_in,
                                   wait_for_graph)
from tests.support.lineage_graphs import branching_pipeline

pytestmark = browser_marks
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")


@pytest.mark.django_db(transaction=True)
def test_engineer_shows_a_datasets_downstream_lineage_at_depth_10_readably(live_server, page_1024):
    page = page_1024
    make_user("eve", "engineer", password=PASSWORD)
    made = branching_pipeline(branches=6, steps=3)
    sign_in(page, live_server.url, "eve")
    actions = 0

    page.click("#nav-lineage")
    actions += 1
    page.wait_for_selector("#lin-search")
    page.fill("#lin-search", "raw.clickstream")
    page.press("#lin-search", "Enter")
    actions += 1
    page.wait_for_selector("#lin-hits")
    page.click(f"#lin-hits a[href*='node={made['source']}'][href*='direction=downstream']")
    actions += 1
    page.wait_for_function("() => document.querySelector('#lin-start-label').innerText.includes('raw.clickstream_events')")
    page.fill("#lin-depth", "10")
    page.press("#lin-depth", "Enter")
    actions += 1
    page.wait_for_function("() => location.search.includes('depth=10') && location.search.includes('direction=downstream')")
    wait_for_graph(page, 55)
    page.wait_for_timeout(300)  # let the preset layout's fit settle
    assert actions <= 4

    drawn = page.evaluate(f"""() => {{ const cy = {CY};
        return {{zoom: cy.zoom(), nodes: cy.nodes().map(n => ({{label: n.data('label'), kind: n.data('kind'),
                 font: parseFloat(n.style('font-size'))}})), edges: cy.edges().length,
                 extent: cy.extent(), width: cy.width(), height: cy.height()}}; }}""")
    labels = [n["label"] for n in drawn["nodes"]]
    assert len(labels) == 55 and drawn["edges"] >= 54
    # Names, not identifiers: a run is its job and start time, a version its dataset and version.
    assert not [label for label in labels if UUID.search(label)], labels
    runs = [n["label"] for n in drawn["nodes"] if n["kind"] == "run"]
    assert all(re.search(r"team_\d.*\n2026-01-10 \d\d:\d0$", label) for label in runs), runs
    # Names cut to fit stay distinct: each step's dataset and each job keeps what tells it apart.
    datasets = [n["label"] for n in drawn["nodes"] if n["kind"] == "dataset"]
    assert len(set(datasets)) == len(datasets) == 19 and "raw.click…eam_events" in datasets
    assert len(set(runs)) == len(runs) == 18
    # Readable at the fitted size: every label is drawn at 10 px or more, and the whole graph is in view.
    smallest = min(n["font"] for n in drawn["nodes"]) * drawn["zoom"]
    assert smallest >= 10, smallest
    box = page.evaluate(f"() => {{ const bb = {CY}.elements().renderedBoundingBox(); return [bb.x1, bb.y1, bb.x2, bb.y2]; }}")
    assert box[0] >= -1 and box[1] >= -1 and box[2] <= drawn["width"] + 1 and box[3] <= drawn["height"] + 1
    # The graph is above the fold at 1024x768, and the page does not scroll sideways.
    assert page.evaluate("() => document.querySelector('#lin-graph').getBoundingClientRect().bottom") <= 768
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    shot(page, "job-lineage-downstream-depth-10")
