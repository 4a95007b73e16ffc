"""The Marquez graph reads are bounded like our own graph reads: `depth` at most 100 and at most `maxNodes`
(default and most 10,000) nodes, nearest first, with `truncated` set when more were reachable."""
from __future__ import annotations

import uuid

import pytest

from tests.conftest import client_for, make_user
from tests.support.marquez import DB, pipeline


@pytest.fixture
def reader(db):
    engineer = client_for(make_user("producer", "engineer"))
    for e in pipeline({job: str(uuid.uuid4()) for job in ("etl.extract", "etl.clean", "etl.report")}):
        assert engineer.post("/api/v1/lineage", e, format="json").status_code == 201
    return client_for(make_user("reader", "auditor"))


def test_lineage_stops_at_max_nodes_keeping_the_nearest(reader):
    whole = reader.get("/api/v1/lineage", {"nodeId": "job:etl:etl.clean", "depth": 5}).json()
    assert len(whole["graph"]) == 6 and "truncated" not in whole
    cut = reader.get("/api/v1/lineage", {"nodeId": "job:etl:etl.clean", "depth": 5, "maxNodes": 3}).json()
    ids = {n["id"] for n in cut["graph"]}
    assert cut["truncated"] is True and len(ids) == 3
    # The start and its own datasets are the nearest: level 0.
    assert ids == {"job:etl:etl.clean", f"dataset:{DB}:public.raw", f"dataset:{DB}:public.clean"}
    for node in cut["graph"]:
        assert all(e["origin"] in ids and e["destination"] in ids for e in node["inEdges"] + node["outEdges"])


def test_column_lineage_stops_at_max_nodes(reader):
    node = f"dataset:{DB}:public.report"
    whole = reader.get("/api/v1/column-lineage", {"nodeId": node, "depth": 5}).json()
    assert len(whole["graph"]) == 3 and "truncated" not in whole
    cut = reader.get("/api/v1/column-lineage", {"nodeId": node, "depth": 5, "maxNodes": 2}).json()
    assert cut["truncated"] is True
    assert {n["id"] for n in cut["graph"]} == {f"datasetField:{DB}:public.report:total",
                                               f"datasetField:{DB}:public.clean:amount_usd"}


@pytest.mark.parametrize("url,params", [
    ("/api/v1/lineage", {"nodeId": "job:etl:etl.clean", "depth": 101}),
    ("/api/v1/lineage", {"nodeId": "job:etl:etl.clean", "maxNodes": 10_001}),
    ("/api/v1/column-lineage", {"nodeId": f"dataset:{DB}:public.report", "depth": 101}),
    ("/api/v1/column-lineage", {"nodeId": f"dataset:{DB}:public.report", "maxNodes": 0}),
    ("/api/v1/runlineage/upstream", {"runId": "x", "depth": 101}),
])
def test_bounds_beyond_the_limits_are_refused(reader, url, params):
    response = reader.get(url, params)
    assert response.status_code == 400 and response.json()["code"] == 400
