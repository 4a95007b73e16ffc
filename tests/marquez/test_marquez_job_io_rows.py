"""The kept rows of each job's current io (lineage.job_io) answer what the derivation from the facts answers.

The Marquez now-reads walk lineage_job_io / lineage_job_latest_run, which lineage.store.apply keeps; `as_of`
reads and `derive=True` still derive from runs and edges (lineage.marquez.graph.Dataflow). Here random
OpenLineage histories go in through the ingest (single events and batches): several runs per job, runs whose
inputs change between events, later runs with older state times arriving late, runs that never finish,
JobEvents declaring design-time io (and closing what a newer JobEvent no longer lists). After every write
the rows must equal the derivation for every job, and the lineage bodies must be identical for every start
node at several depths and bounds. Runs on SQLite and on PostgreSQL (DATABASE_URL).
"""
from __future__ import annotations

import json
import random
import uuid

import pytest

from lineage import job_io, store
from lineage.kinds import NodeKind, Source
from lineage.marquez.graph import marquez_lineage, node_id_of
from lineage.marquez.graph_json import marquez_lineage_json
from lineage.models import JobIO, JobLatestRun, Node
from tests.conftest import client_for, make_user
from tests.support.job_io import BASE, when, assert_rows_true
from tests.support.marquez import DB, PRODUCER, RUN_SCHEMA, _dataset

JOB_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent"


def _history(seed: int, jobs: int = 6, datasets: int = 9, runs: int = 24) -> list[dict]:
    """A random OpenLineage history, in a shuffled-enough arrival order."""
    rng = random.Random(seed)
    names = [f"public.t{i}" for i in range(datasets)]
    events = []
    for _ in range(runs):
        job = f"job{rng.randrange(jobs)}"
        run_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        start = rng.randrange(0, 600)
        inputs = rng.sample(names, rng.randrange(0, 3))
        outputs = [_dataset(n, {"x": "INTEGER"}) for n in rng.sample(names, rng.randrange(0, 3))]
        kinds = rng.choice([["START"], ["START", "COMPLETE"], ["START", "FAIL"], ["COMPLETE"], ["START", "RUNNING", "COMPLETE"]])
        for k, kind in enumerate(kinds):
            if rng.random() < 0.3:  # a later event of the run reads something else as well
                inputs = sorted(set(inputs) | {rng.choice(names)})
            events.append({"eventType": kind, "eventTime": when(start + 5 * k), "producer": PRODUCER,
                           "schemaURL": RUN_SCHEMA, "run": {"runId": run_id},
                           "job": {"namespace": "etl", "name": job, "facets": {}},
                           "inputs": [{"namespace": DB, "name": n} for n in inputs], "outputs": outputs})
    for _ in range(rng.randrange(2, 6)):  # design-time io; a newer JobEvent closes what it no longer lists
        events.append({"eventTime": when(rng.randrange(0, 600)), "producer": PRODUCER, "schemaURL": JOB_SCHEMA,
                       "job": {"namespace": "etl", "name": f"job{rng.randrange(jobs)}", "facets": {}},
                       "inputs": [{"namespace": DB, "name": n} for n in rng.sample(names, rng.randrange(0, 3))],
                       "outputs": [{"namespace": DB, "name": n} for n in rng.sample(names, rng.randrange(0, 2))]})
    # Arrival order: mostly by time, with a quarter of the events arriving late (older state times later).
    events.sort(key=lambda e: e["eventTime"])
    late = [e for e in events if rng.random() < 0.25]
    return [e for e in events if e not in late] + late


def assert_same_bodies(depths=(0, 1, 2, 20), bounds=(10_000, 4)) -> int:
    starts = Node.objects.filter(source=Source.OPENLINEAGE, kind__in=[NodeKind.JOB, NodeKind.DATASET])
    compared = 0
    for node in starts:
        for depth in depths:
            for bound in bounds:
                kept = marquez_lineage(node_id_of(node), depth, max_nodes=bound)
                assert kept == marquez_lineage(node_id_of(node), depth, max_nodes=bound, derive=True), (
                    node_id_of(node), depth, bound)
                # The HTTP endpoint's body (written close to the rows) is the same JSON value.
                assert json.loads(marquez_lineage_json(node_id_of(node), depth, max_nodes=bound)) == kept, (
                    node_id_of(node), depth, bound)
                compared += 1
    return compared


def _ingest(events, rng, after_each=None) -> None:
    engineer = client_for(make_user("producer", "engineer"))
    i = 0
    while i < len(events):
        size = rng.choice([1, 1, 1, 4, 9])
        chunk = events[i:i + size]
        if size == 1:
            response = engineer.post("/api/v1/lineage", chunk[0], format="json")
            assert response.status_code == 201, response.content
        else:
            response = engineer.post("/api/v1/lineage/batch", chunk, format="json")
            assert response.status_code == 200, response.content
        i += size
        if after_each is not None:
            after_each()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_histories_answer_the_same_bodies(db, seed):
    events = _history(seed)
    _ingest(events, random.Random(seed), after_each=assert_rows_true)
    assert JobIO.objects.exists() and JobLatestRun.objects.exists()
    assert assert_same_bodies() > 100


def test_rows_follow_a_late_run_and_a_run_moving_ahead(db):
    """A run arriving late with an older state time does not become the latest; a later event of an older
    run that moves its state time past the others makes it the latest, and the rows follow each time."""
    r1, r2 = (str(uuid.UUID(int=i, version=4)) for i in (1, 2))

    def ev(kind, run_id, minutes, inputs):
        return {"eventType": kind, "eventTime": when(minutes), "producer": PRODUCER, "schemaURL": RUN_SCHEMA,
                "run": {"runId": run_id}, "job": {"namespace": "etl", "name": "load", "facets": {}},
                "inputs": [{"namespace": DB, "name": n} for n in inputs], "outputs": []}

    engineer = client_for(make_user("producer", "engineer"))
    load = None
    for body, latest, reads in ((ev("START", r2, 60, ["b"]), r2, {"b"}),
                                (ev("START", r1, 10, ["a"]), r2, {"b"}),        # late, older: not latest
                                (ev("COMPLETE", r1, 120, ["a", "c"]), r1, {"a", "c"}),  # moves ahead
                                (ev("COMPLETE", r2, 90, ["b"]), r1, {"a", "c"})):
        assert engineer.post("/api/v1/lineage", body, format="json").status_code == 201
        load = load or Node.objects.get(source=Source.OPENLINEAGE, kind=NodeKind.JOB, name="load")
        assert_rows_true()
        run = JobLatestRun.objects.get(job=load).run
        assert run.source_id == latest
        names = set(Node.objects.filter(pk__in=JobIO.objects.filter(job=load, role="in").values("dataset_id"))
                    .values_list("name", flat=True))
        assert names == reads


def test_rows_follow_facts_applied_directly_and_edges_closed(db):
    """Writers other than the ingest (restore, harvests, tests) go through store.apply too: facts applied
    directly, a run's state time raised and lowered, a design-time edge closed, a version's version_of edge
    closed and the latest run's instance_of edge closed keep the rows true."""
    ol = Source.OPENLINEAGE.value
    job, run = store.NodeKey(ol, "job", "etl:j"), store.NodeKey(ol, "run", "r1")
    ds, other = store.NodeKey(ol, "dataset", f"{DB}:d"), store.NodeKey(ol, "dataset", f"{DB}:e")
    ver = store.NodeKey(ol, "dataset_version", f"{DB}:d@r1")
    t = BASE
    store.apply([store.NodeFact(key=job, namespace="etl", name="j", seen_at=t),
                 store.NodeFact(key=run, namespace="etl", name="r1", seen_at=t, properties={"state_time": when(0)}),
                 store.NodeFact(key=ver, namespace=DB, name="d", seen_at=t),
                 store.EdgeFact("instance_of", job, run, ol, valid_from=t),
                 store.EdgeFact("produced", run, ver, ol, valid_from=t),
                 store.EdgeFact("version_of", ver, ds, ol, valid_from=t),
                 store.EdgeFact("consumed", other, job, ol, valid_from=t)], now=t)
    assert_rows_true()
    assert JobIO.objects.count() == 2
    # A second run, later: the latest; then a node fact alone moves r1's state time past it.
    r2 = store.NodeKey(ol, "run", "r2")
    store.apply([store.NodeFact(key=r2, namespace="etl", name="r2", seen_at=t, properties={"state_time": when(5)}),
                 store.EdgeFact("instance_of", job, r2, ol, valid_from=t)], now=t)
    assert_rows_true()
    assert JobLatestRun.objects.get().run.source_id == "r2" and JobIO.objects.count() == 1
    store.apply([store.NodeFact(key=run, namespace="etl", name="r1", seen_at=t, properties={"state_time": when(9)})],
                now=t)
    assert_rows_true()
    assert JobLatestRun.objects.get().run.source_id == "r1" and JobIO.objects.count() == 2
    # The kept latest run's rank lowered (a writer replacing its properties): every run is ranked again.
    store.apply([store.NodeFact(key=run, namespace="etl", name="r1", seen_at=t, replace_properties=True,
                                properties={"state_time": when(1)})], now=t)
    assert_rows_true()
    assert JobLatestRun.objects.get().run.source_id == "r2"
    store.apply([store.NodeFact(key=run, namespace="etl", name="r1", seen_at=t, properties={"state_time": when(9)})],
                now=t)
    assert JobLatestRun.objects.get().run.source_id == "r1"
    store.apply([store.EdgeClose("consumed", other, job, at=t)], now=t)
    assert_rows_true()
    store.apply([store.EdgeClose("version_of", ver, ds, at=t)], now=t)  # the version no longer names d
    assert_rows_true()
    assert not JobIO.objects.exists() and JobLatestRun.objects.get().run.source_id == "r1"
    store.apply([store.EdgeClose("instance_of", job, run, at=t)], now=t)
    assert_rows_true()
    assert JobLatestRun.objects.get().run.source_id == "r2"  # r1 is no longer a run of j


def test_backfill_derives_the_same_rows(db):
    """Migration 0006's backfill (job_io.refresh_all) on a populated store: the same rows as kept, and on
    an empty one none."""
    job_io.refresh_all()
    assert not JobIO.objects.exists()
    _ingest(_history(5), random.Random(5))
    kept = set(JobIO.objects.values_list("job_id", "dataset_id", "role"))
    latest = set(JobLatestRun.objects.values_list("job_id", "run_id"))
    JobIO.objects.all().delete()
    JobLatestRun.objects.all().delete()
    job_io.refresh_all()
    assert set(JobIO.objects.values_list("job_id", "dataset_id", "role")) == kept
    assert set(JobLatestRun.objects.values_list("job_id", "run_id")) == latest
    assert_rows_true()
