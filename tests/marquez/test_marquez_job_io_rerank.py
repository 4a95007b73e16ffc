"""lineage.job_io's cheap path: a write that opens and closes no edge the derivation reads only re-ranks the
runs it names against each job's kept latest run (lineage_job_latest_run), and recomputes a job only when
its latest run may have changed. Each case here is one the cheap path could get wrong by skipping: a run
that overtakes the kept latest one (by state time, by last_seen alone), a run that stays behind (the kept
rank must stay the latest run's), the kept latest run's state time lowered, a parent run's rank raised by
its child's event; and writes that do open or close io edges (a new output or input of the latest run, a
JobEvent closing design-time io) must take the full path. After every write the rows, and the kept rank,
equal the derivation (tests.support.job_io.assert_rows_true). Runs on SQLite and on PostgreSQL."""
from __future__ import annotations

import uuid

import pytest

from lineage import store
from lineage.kinds import NodeKind, Source
from lineage.models import JobIO, JobLatestRun, Node
from tests.conftest import client_for, make_user
from tests.support.job_io import BASE, assert_rows_true, open_edges, when
from tests.support.marquez import DB, PRODUCER, RUN_SCHEMA, _dataset

pytestmark = pytest.mark.django_db

JOB_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent"
R1, R2, R3 = (str(uuid.UUID(int=i, version=4)) for i in (1, 2, 3))


def _run(kind, run_id, minutes, inputs=(), outputs=(), job="load", parent=None):
    run = {"runId": run_id}
    if parent is not None:
        run["facets"] = {"parent": {"_producer": PRODUCER, "_schemaURL": RUN_SCHEMA,
                                    "run": {"runId": parent[0]}, "job": {"namespace": "etl", "name": parent[1]}}}
    return {"eventType": kind, "eventTime": when(minutes), "producer": PRODUCER, "schemaURL": RUN_SCHEMA,
            "run": run, "job": {"namespace": "etl", "name": job, "facets": {}},
            "inputs": [{"namespace": DB, "name": n} for n in inputs],
            "outputs": [_dataset(n, {"x": "INTEGER"}) for n in outputs]}


def _job_event(minutes, inputs=(), outputs=(), job="load"):
    return {"eventTime": when(minutes), "producer": PRODUCER, "schemaURL": JOB_SCHEMA,
            "job": {"namespace": "etl", "name": job, "facets": {}},
            "inputs": [{"namespace": DB, "name": n} for n in inputs],
            "outputs": [{"namespace": DB, "name": n} for n in outputs]}


@pytest.fixture
def post():
    engineer = client_for(make_user("producer", "engineer"))

    def post(body, *, restates: bool):
        """Ingest one event; `restates`: whether it opens and closes no edge (the cheap path's writes)."""
        before = open_edges()
        response = engineer.post("/api/v1/lineage", body, format="json")
        assert response.status_code == 201, response.content
        assert (open_edges() == before) is restates
        assert_rows_true()
    return post


def _job(name="load") -> Node:
    return Node.objects.get(source=Source.OPENLINEAGE, kind=NodeKind.JOB, name=name)


def _latest(name="load") -> str:
    return JobLatestRun.objects.get(job=_job(name)).run.source_id


def _io(role, name="load") -> set[str]:
    return set(Node.objects.filter(pk__in=JobIO.objects.filter(job=_job(name), role=role).values("dataset_id"))
               .values_list("name", flat=True))


def test_an_older_run_moving_ahead_on_a_restated_event_becomes_the_latest(post):
    post(_run("START", R1, 60, ["public.a"]), restates=False)
    post(_run("START", R2, 10, ["public.b"]), restates=False)  # late, older: not the latest
    assert _latest() == R1 and _io("in") == {"public.a"}
    post(_run("COMPLETE", R2, 120, ["public.b"]), restates=True)  # same io, state time past R1's
    assert _latest() == R2 and _io("in") == {"public.b"}


def test_an_event_of_a_run_behind_the_latest_leaves_the_latest_and_its_rank(post):
    post(_run("START", R1, 60, ["public.a"]), restates=False)
    post(_run("START", R2, 10, ["public.b"]), restates=False)
    post(_run("RUNNING", R2, 30, ["public.b"]), restates=True)  # moves, but stays behind R1
    assert _latest() == R1 and _io("in") == {"public.a"}
    post(_run("RUNNING", R1, 61, ["public.a"]), restates=True)  # the latest run's own rank moves
    assert _latest() == R1


def test_a_run_tied_on_state_time_overtakes_by_last_seen(post):
    post(_run("START", R1, 60, ["public.a"]), restates=False)
    post(_run("START", R2, 60, ["public.b"]), restates=False)  # tied on state time and last_seen: by id
    first = _latest()
    behind, reads = (R1, {"public.a"}) if first == R2 else (R2, {"public.b"})
    # OTHER is no state: the state time stays, only last_seen moves past the latest run's.
    post(_run("OTHER", behind, 70, sorted(reads)), restates=True)
    assert _latest() == behind and _io("in") == reads


def test_a_new_output_or_input_of_the_latest_run_is_kept(post):
    post(_run("START", R1, 10, ["public.a"], ["public.out1"]), restates=False)
    post(_run("RUNNING", R1, 15, ["public.a"], ["public.out1"]), restates=True)
    post(_run("COMPLETE", R1, 20, ["public.a"], ["public.out1", "public.out2"]), restates=False)
    assert _io("out") == {"public.out1", "public.out2"}
    post(_run("COMPLETE", R1, 21, ["public.a", "public.c"], ["public.out1", "public.out2"]), restates=False)
    assert _io("in") == {"public.a", "public.c"}


def test_a_job_event_closing_design_time_io_drops_it(post):
    post(_job_event(10, ["public.a", "public.b"], ["public.x"]), restates=False)
    assert _io("in") == {"public.a", "public.b"} and _io("out") == {"public.x"}
    post(_job_event(20, ["public.a"]), restates=False)  # restates a, closes b and x: nothing opened
    assert _io("in") == {"public.a"} and _io("out") == set()
    post(_job_event(5, ["public.c"]), restates=True)  # late and older: c held only until 20, opened and closed
    assert _io("in") == {"public.a"}
    post(_job_event(30, ["public.a"]), restates=True)  # restated, nothing to close
    assert _io("in") == {"public.a"}


def test_a_parent_runs_rank_follows_its_childrens_events(post):
    p1, p2, child = R1, R2, R3
    post(_run("START", p1, 0, job="dag"), restates=False)
    post(_run("START", child, 5, ["public.a"], parent=(p1, "dag")), restates=False)
    post(_run("COMPLETE", child, 9, ["public.a"], parent=(p1, "dag")), restates=True)  # p1's last_seen: 9
    assert _latest("dag") == p1
    post(_run("START", p2, 3, job="dag"), restates=False)  # a later state time than p1's
    post(_run("COMPLETE", child, 12, ["public.a"], parent=(p1, "dag")), restates=True)  # p1 stays behind
    assert _latest("dag") == p2


def test_the_latest_runs_state_time_lowered_ranks_every_run_again(db):
    """Writers other than the ingest may lower a run's state time (a restore replacing properties): the
    kept latest run then no longer stands for the others."""
    ol = Source.OPENLINEAGE.value
    job = store.NodeKey(ol, "job", "etl:load")
    runs = {name: store.NodeKey(ol, "run", name) for name in ("r1", "r2", "r3")}
    facts = [store.NodeFact(key=job, namespace="etl", name="load", seen_at=BASE)]
    for minutes, (name, key) in zip((9, 5, 2), runs.items()):
        ds = store.NodeKey(ol, "dataset", f"{name}_in")  # a placeholder, named after its id
        facts += [store.NodeFact(key=key, namespace="etl", name=name, seen_at=BASE,
                                 properties={"state_time": when(minutes)}),
                  store.EdgeFact("instance_of", job, key, ol, valid_from=BASE),
                  store.EdgeFact("consumed", ds, key, ol, valid_from=BASE)]
    store.apply(facts, now=BASE)
    assert_rows_true()
    assert _latest() == "r1" and _io("in") == {"r1_in"}

    def restate(name, minutes):
        before = open_edges()
        store.apply([store.NodeFact(key=runs[name], namespace="etl", name=name, seen_at=BASE, replace_properties=True,
                                    properties={"state_time": when(minutes)})], now=BASE)
        assert open_edges() == before
        assert_rows_true()

    restate("r1", 7)  # lowered, still ahead of r2
    assert _latest() == "r1"
    restate("r1", 1)  # lowered behind both others
    assert _latest() == "r2" and _io("in") == {"r2_in"}
    restate("r3", 6)  # a run behind moves ahead
    assert _latest() == "r3" and _io("in") == {"r3_in"}
    restate("r2", 4)  # a run behind lowered: nothing moves
    assert _latest() == "r3"
