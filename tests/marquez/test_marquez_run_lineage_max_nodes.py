"""`/runlineage/upstream` takes `maxNodes` like the other Marquez graph reads: the answer stops at that many
runs, nearest first (the run asked about, then the runs that produced what it read), and says `truncated`."""
from __future__ import annotations

import pytest

from tests.conftest import client_for, make_user
from tests.support.marquez import pipeline

RUNS = {"etl.extract": "11111111-1111-4111-8111-111111111111", "etl.clean": "22222222-2222-4222-8222-222222222222",
        "etl.report": "33333333-3333-4333-8333-333333333333"}


@pytest.fixture
def reader(db):
    engineer = client_for(make_user("producer", "engineer"))
    for e in pipeline(RUNS):
        assert engineer.post("/api/v1/lineage", e, format="json").status_code == 201
    return client_for(make_user("reader", "auditor"))


def _runs(answer):
    return [r["run"]["id"] for r in answer["runs"]]


def test_run_lineage_stops_at_max_nodes_keeping_the_nearest(reader):
    url, run = "/api/v1/runlineage/upstream", RUNS["etl.report"]
    whole = reader.get(url, {"runId": run, "depth": 5}).json()
    assert _runs(whole) == [RUNS["etl.report"], RUNS["etl.clean"], RUNS["etl.extract"]] and "truncated" not in whole
    cut = reader.get(url, {"runId": run, "depth": 5, "maxNodes": 2}).json()
    assert _runs(cut) == [RUNS["etl.report"], RUNS["etl.clean"]] and cut["truncated"] is True


@pytest.mark.parametrize("bad", ["0", "10001", "many"])
def test_max_nodes_out_of_range_is_refused(reader, bad):
    response = reader.get("/api/v1/runlineage/upstream", {"runId": RUNS["etl.report"], "maxNodes": bad})
    assert response.status_code == 400 and response.json()["code"] == 400
