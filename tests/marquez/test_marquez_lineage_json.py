"""lineage.marquez.graph_json: the HTTP endpoint's lineage body (written close to the rows) is the JSON value
graph.marquez_lineage builds, for properties of every odd shape the shapes guard against.

graph_json reads on PostgreSQL a reduced object of what the shapes read and embeds the stored facets text;
each case here is a way that reduction could drift from reading the whole properties: facets that are not an
object, facets whose value is not an object, keys of the wrong type, junk in tags and fields, numbers jsonb
rewrites (1.50, 1e3, an integer beyond 64 bits), a run with odd state and times. Runs on SQLite and on
PostgreSQL (DATABASE_URL).
"""
from __future__ import annotations

import datetime as dt
import json

import pytest

from lineage import store
from lineage.marquez.graph import marquez_lineage
from lineage.marquez.graph_json import marquez_lineage_json
from tests.conftest import client_for, make_user

OL = "openlineage"
T = dt.datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=dt.timezone.utc)

DATASET_PROPS = [
    {},
    {"facets": None},
    {"facets": []},
    {"facets": "text"},
    {"facets": {"schema": [], "tags": "x", "dataSource": ["a"], "documentation": 5}},
    {"facets": {"schema": {"fields": "no"}, "tags": {"tags": {"key": "k"}}, "dataSource": {"name": 7},
                "lifecycleStateChange": {"lifecycleStateChange": ["DROP"]}, "documentation": {"description": None}}},
    {"facets": {"schema": {"fields": [{"name": "a", "type": "INT", "tags": ["pii", 3, None], "description": "d"},
                                      {"name": "b"}, {"type": "TEXT"}, "junk", {"name": "c", "type": "X", "tags": "no",
                                                                                 "description": 4}]},
                "tags": {"tags": [{"key": "z"}, {"key": "a", "value": "v"}, {"value": "no key"}, "junk", {"key": ""}]},
                "dataSource": {"name": "warehouse", "uri": "postgres://h:5432"},
                "lifecycleStateChange": {"lifecycleStateChange": "OVERWRITE"},
                "documentation": {"description": "Orders, one row each — ünïcode \u2603 \"quoted\"\n"},
                "numbers": {"half": 1.50, "big": 12345678901234567890123, "exp": 1e3, "neg": -0.0, "tiny": 5e-324,
                            "nested": [{"deep": [1, 2.25, None, True, False, {}]}]}}},
]


def _facts():
    facts = []
    job_keys = []
    for i, (job_props, run_props) in enumerate([
        ({"facets": {"jobType": {"processingType": "STREAMING"}, "sourceCodeLocation": {"url": "https://git/x"},
                     "documentation": {"description": "job doc"}, "ownership": {"owners": [{"name": "me"}]}}},
         {"run_id": "6f1c7c1e-5f3b-4f0e-9c7e-000000000001", "state": "complete", "started_at": "2024-05-01T10:00:00+00:00",
          "ended_at": "2024-05-01T10:00:01.5+00:00", "nominal_start_time": "2024-05-01T09:00:00Z",
          "facets": {"parent": {"run": {"runId": "x"}}, "n": 1.10}}),
        ({"facets": {"jobType": {"processingType": 5}, "sourceCodeLocation": {"url": ["no"]}}},
         {"run_id": "", "state": 3, "started_at": "not a time", "ended_at": None, "facets": "not an object"}),
        ({}, {"state": "FAIL", "started_at": "2024-05-01T10:00:00", "ended_at": "bad"}),
        ({"facets": []}, {}),
        # Unhashable where a string is expected: both builders answer the defaults (the dict lookup of the
        # old one failed the whole answer before).
        ({"facets": {"jobType": {"processingType": ["STREAMING"]}, "sourceCodeLocation": {"url": {"u": 1}}}}, {}),
    ]):
        job = store.NodeKey(OL, "job", f"etl:job{i}")
        run = store.NodeKey(OL, "run", f"run-{i}")
        job_keys.append(job)
        facts.append(store.NodeFact(key=job, namespace="etl", name=f"job{i}", properties=job_props, seen_at=T))
        facts.append(store.NodeFact(key=run, namespace="etl", name=f"run-{i}", properties=run_props, seen_at=T))
        facts.append(store.EdgeFact(kind="instance_of", src=job, dst=run, source=OL, valid_from=T))
    for j, props in enumerate(DATASET_PROPS):
        ds = store.NodeKey(OL, "dataset", f"ns:d{j}")
        facts.append(store.NodeFact(key=ds, namespace="ns", name=f"d{j}", properties=props, seen_at=T))
        # Every dataset read by one job's run and written by another's: one connected answer.
        facts.append(store.EdgeFact(kind="consumed", src=ds, dst=store.NodeKey(OL, "run", f"run-{j % 4}"),
                                    source=OL, valid_from=T))
        facts.append(store.EdgeFact(kind="produced", src=store.NodeKey(OL, "run", f"run-{(j + 1) % 4}"), dst=ds,
                                    source=OL, valid_from=T))
    # A job with no run: its latestRun is absent (seen at a whole second: no microseconds in its times).
    facts.append(store.NodeFact(key=store.NodeKey(OL, "job", "etl:idle"), namespace="etl", name="idle",
                                seen_at=T.replace(microsecond=0)))
    facts.append(store.EdgeFact(kind="consumed", src=store.NodeKey(OL, "dataset", "ns:d0"),
                                dst=store.NodeKey(OL, "job", "etl:idle"), source=OL, valid_from=T))
    return facts


@pytest.fixture
def odd(db):
    store.apply(_facts(), now=T)


@pytest.mark.parametrize("start", ["job:etl:job0", "job:etl:idle", "dataset:ns:d6", "dataset:ns:d2"])
@pytest.mark.parametrize("depth,bound", [(0, 10_000), (1, 10_000), (20, 10_000), (20, 3)])
def test_the_same_json_value_as_the_dict_path(odd, start, depth, bound):
    old = marquez_lineage(start, depth, max_nodes=bound)
    assert len(old["graph"]) > 1 or bound < 10_000 or depth == 0
    assert json.loads(marquez_lineage_json(start, depth, max_nodes=bound)) == old


def test_the_answer_shows_what_the_odd_facets_hold(odd):
    """Not only equal to the old path: the odd values reach the body (the embedded facets, the run shape)."""
    graph = {n["id"]: n for n in json.loads(marquez_lineage_json("dataset:ns:d6", 20))["graph"]}
    d6 = graph["dataset:ns:d6"]["data"]
    assert d6["facets"]["numbers"]["big"] == 12345678901234567890123
    assert d6["facets"]["numbers"]["half"] == 1.5
    assert d6["sourceName"] == "warehouse" and d6["tags"] == ["a", "z"]
    assert [f["name"] for f in d6["fields"]] == ["a", "c"] and d6["fields"][0]["tags"] == ["pii"]
    assert d6["createdAt"] == "2024-05-01T12:30:15.123456Z"
    job0 = graph["job:etl:job0"]["data"]
    assert job0["type"] == "STREAM" and job0["latestRun"]["state"] == "COMPLETED"
    assert job0["latestRun"]["durationMs"] == 1500 and job0["latestRun"]["facets"]["n"] == 1.1
    assert graph["job:etl:job1"]["data"]["latestRun"]["facets"] == {}
    assert "latestRun" not in graph["job:etl:idle"]["data"]
    assert graph["job:etl:idle"]["data"]["createdAt"] == "2024-05-01T12:30:15Z"


def test_the_endpoint_answers_the_same_value(odd):
    """Over HTTP (the view writes the body close to the rows), with an integer beyond 64 bits in the facets."""
    client = client_for(make_user("reader", "engineer"))
    r = client.get("/api/v1/lineage", {"nodeId": "dataset:ns:d6", "depth": 20})
    assert r.status_code == 200, r.content
    assert json.loads(r.content) == marquez_lineage("dataset:ns:d6", 20)


def test_the_collector_is_on_again_after_an_answer_and_after_an_error(odd):
    import gc

    assert gc.isenabled()
    marquez_lineage_json("job:etl:job0", 20)
    assert gc.isenabled()
    with pytest.raises(LookupError):
        marquez_lineage_json("job:etl:nope", 1)
    assert gc.isenabled()
    gc.disable()  # a caller that turned it off keeps it off
    try:
        marquez_lineage_json("job:etl:job0", 20)
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("path", ["/api/v1/namespaces/etl/jobs", "/api/v1/namespaces/etl/jobs/job4",
                                  "/api/v1/lineage?nodeId=job:etl:job4&depth=1"])
def test_unhashable_facet_values_answer_the_defaults(odd, path):
    """A job whose jobType.processingType is a list and whose sourceCodeLocation.url an object (a non-strict
    producer's facets) is listed and shown with the defaults, never a 5xx."""
    client = client_for(make_user("reader", "engineer"))
    r = client.get(path)
    assert r.status_code == 200, r.content
    body = json.loads(r.content)
    jobs = body.get("jobs") or ([body] if "type" in body else [n["data"] for n in body["graph"] if n["type"] == "JOB"])
    job4 = next(j for j in jobs if j["name"] == "job4")
    assert job4["type"] == "BATCH" and "location" not in job4
