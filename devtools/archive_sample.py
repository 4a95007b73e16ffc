"""A generator of model-version lineage of a chosen size, for the archive tests and benchmark.

It writes through lineage.store.apply like any harvester: a model version produced by a training run,
each run consuming `fan_in` datasets, each dataset produced by an earlier run, until `upstream` nodes
exist; every run is an instance of a job, every fact carries an OpenLineage-shaped raw payload, and the
model version has a model and a deployment downstream.
"""
from __future__ import annotations

import datetime as dt
from collections import deque

from lineage import store
from lineage.kinds import EdgeKind, NodeKind, Source
from lineage.models import Node


def _event(run_id: str, job: str, inputs: list[str], outputs: list[str], when: dt.datetime) -> dict:
    return {
        "eventType": "COMPLETE",
        "eventTime": when.isoformat(),
        "producer": "https://example.invalid/lineage-ledger/archive-sample",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id, "facets": {}},
        "job": {"namespace": "sample", "name": job, "facets": {}},
        "inputs": [{"namespace": "sample", "name": name, "facets": {}} for name in inputs],
        "outputs": [{"namespace": "sample", "name": name, "facets": {}} for name in outputs],
    }


def make_model_lineage(prefix: str = "s", upstream: int = 50, fan_in: int = 3, *, when: dt.datetime | None = None,
                       deployment: bool = True) -> Node:
    """Create the lineage and return the model version node. `upstream` counts runs, jobs and datasets."""
    when = when or dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    src = Source.OPENLINEAGE
    mv = store.NodeKey(src, NodeKind.MODEL_VERSION, f"{prefix}-model/1")
    facts: list = []
    made = 0
    counter = 0
    jobs: set = set()
    # Each entry: (key of the thing a run must produce, its name).
    pending: deque = deque([(mv, f"{prefix}-model/1")])
    while pending and made < upstream:
        out_key, out_name = pending.popleft()
        counter += 1
        run_id = f"{prefix}-run-{counter}"
        job = f"{prefix}-job-{counter % 7}"
        inputs = []
        for i in range(fan_in):
            if made + 2 + len(inputs) >= upstream:
                break
            inputs.append(f"{prefix}-ds-{counter}-{i}")
        when_run = when + dt.timedelta(minutes=counter)
        raw = store.RawPayload(src, "openlineage.RunEvent", run_id, _event(run_id, job, inputs, [out_name], when_run))
        run_key = store.NodeKey(src, NodeKind.RUN, run_id)
        job_key = store.NodeKey(src, NodeKind.JOB, f"sample/{job}")
        facts.append(store.NodeFact(run_key, name=run_id, namespace="sample", seen_at=when_run, raw=raw,
                                    properties={"state": "COMPLETE", "job": job}))
        made += 1
        if job_key not in jobs:
            jobs.add(job_key)
            made += 1
            facts.append(store.NodeFact(job_key, name=job, namespace="sample", seen_at=when_run, raw=raw))
        facts.append(store.EdgeFact(EdgeKind.INSTANCE_OF, job_key, run_key, src, valid_from=when_run, raw=raw))
        facts.append(store.EdgeFact(EdgeKind.PRODUCED, run_key, out_key, src, valid_from=when_run, raw=raw))
        for name in inputs:
            ds_key = store.NodeKey(src, NodeKind.DATASET, f"sample/{name}")
            facts.append(store.NodeFact(ds_key, name=name, namespace="sample", seen_at=when_run, raw=raw,
                                        properties={"rows": counter * 10}))
            facts.append(store.EdgeFact(EdgeKind.CONSUMED, ds_key, run_key, src, valid_from=when_run, raw=raw))
            made += 1
            pending.append((ds_key, name))
    facts.insert(0, store.NodeFact(mv, name=f"{prefix}-model/1", seen_at=when, properties={"stage": "candidate"},
                                   raw=store.RawPayload(src, "sample.model_version", mv.source_id, {"id": mv.source_id})))
    model = store.NodeKey(src, NodeKind.MODEL, f"{prefix}-model")
    facts.append(store.NodeFact(model, name=f"{prefix}-model", seen_at=when))
    facts.append(store.EdgeFact(EdgeKind.VERSION_OF, mv, model, src, valid_from=when))
    if deployment:
        dep = store.NodeKey(src, NodeKind.DEPLOYMENT, f"{prefix}-endpoint")
        facts.append(store.NodeFact(dep, name=f"{prefix}-endpoint", seen_at=when + dt.timedelta(days=1)))
        facts.append(store.EdgeFact(EdgeKind.DEPLOYED_AS, mv, dep, src, valid_from=when + dt.timedelta(days=1)))
    result = store.apply(facts)
    return result.nodes[mv]
