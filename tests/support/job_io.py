"""Shared by the job io row tests (tests/marquez/): event times, and the check that the kept rows
(lineage.job_io) equal the derivation from the facts."""
from __future__ import annotations

import datetime as dt

from lineage.kinds import NodeKind, Source
from lineage.marquez.graph import Dataflow
from lineage.models import Edge, JobIO, JobLatestRun, Node

BASE = dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)


def when(minutes: int) -> str:
    return (BASE + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def ol_jobs() -> list[int]:
    return list(Node.objects.filter(source=Source.OPENLINEAGE, kind=NodeKind.JOB).values_list("pk", flat=True))


def assert_rows_true() -> None:
    """The kept rows equal the derivation from the facts, for every OpenLineage job, and each kept latest
    run's rank (state_time, last_seen) is the run's own now: later writes compare runs with the kept rank
    instead of ranking every run again, so a stale rank would turn into a wrong latest run later on."""
    jobs = ol_jobs()
    derived = Dataflow(derive=True)
    want_io = derived.job_io(jobs)
    want_latest = {j: r for j, r in derived.latest_of(jobs).items() if r is not None}
    assert set(JobIO.objects.values_list("job_id", "dataset_id", "role")) == want_io
    assert dict(JobLatestRun.objects.values_list("job_id", "run_id")) == want_latest
    runs = Node.objects.in_bulk(sorted(want_latest.values()))
    kept = {job: (state_time, last_seen)
            for job, state_time, last_seen in JobLatestRun.objects.values_list("job_id", "state_time", "last_seen")}
    assert kept == {job: (runs[run].properties.get("state_time") or "", runs[run].last_seen)
                    for job, run in want_latest.items()}


def open_edges() -> set[int]:
    """Ids of the open edges: equal before and after a write that opened and closed none (the writes
    lineage.job_io keeps with its rerank path rather than the full refresh)."""
    return set(Edge.objects.filter(valid_to__isnull=True).values_list("pk", flat=True))
