"""Small OpenLineage-shaped graphs for the explorer's tests, written through lineage.store.apply."""
from __future__ import annotations

import datetime as dt

from lineage import store
from lineage.kinds import EdgeKind, NodeKind, Source
from lineage.store import EdgeFact, NodeFact, NodeKey

T0 = dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.timezone.utc)


def key(kind, source_id, source=Source.OPENLINEAGE):
    return NodeKey(source=source, kind=kind, source_id=source_id)


def two_step_pipeline() -> dict:
    """raw.orders -> [ingest run x2] -> staging.orders versions -> [features run] -> features.orders version.

    Datasets connect only through runs and versions, the way OpenLineage writes them. Returns ids by name."""
    ns = "postgres://warehouse:5432"
    nodes = {
        "raw": NodeFact(key(NodeKind.DATASET, f"{ns}:raw.orders"), name="raw.orders", namespace=ns, seen_at=T0),
        "staging": NodeFact(key(NodeKind.DATASET, f"{ns}:staging.orders"), name="staging.orders", namespace=ns, seen_at=T0),
        "features": NodeFact(key(NodeKind.DATASET, f"{ns}:features.orders"), name="features.orders", namespace=ns,
                             seen_at=T0),
        "ingest": NodeFact(key(NodeKind.JOB, "etl:ingest_orders_into_the_staging_schema_daily"),
                           name="ingest_orders_into_the_staging_schema_daily", namespace="etl", seen_at=T0),
        "build": NodeFact(key(NodeKind.JOB, "etl:build_features"), name="build_features", namespace="etl", seen_at=T0),
    }
    runs = {
        "run1": ("ingest", "3f1c2d9e-0000-4000-8000-000000000001", T0),
        "run2": ("ingest", "3f1c2d9e-0000-4000-8000-000000000002", T0 + dt.timedelta(days=1)),
        "run3": ("build", "3f1c2d9e-0000-4000-8000-000000000003", T0 + dt.timedelta(days=1, hours=2)),
    }
    for name, (job, run_id, when) in runs.items():
        job_name = nodes[job].name
        nodes[name] = NodeFact(key(NodeKind.RUN, run_id), name=run_id, namespace="etl",
                               display_name=f"{job_name} {run_id}", seen_at=when,
                               properties={"job": {"namespace": "etl", "name": job_name}, "run_id": run_id,
                                           "started_at": when.isoformat(), "state": "COMPLETE"})
    versions = {"v1": ("staging", "run1"), "v2": ("staging", "run2"), "v3": ("features", "run3")}
    for name, (dataset, run) in versions.items():
        d = nodes[dataset]
        run_id = nodes[run].name
        nodes[name] = NodeFact(key(NodeKind.DATASET_VERSION, f"{d.key.source_id}@{run_id}"), name=d.name,
                               namespace=ns, display_name=f"{d.name}@{run_id}", seen_at=nodes[run].seen_at,
                               properties={"dataset": {"namespace": ns, "name": d.name}, "run_id": run_id})
    edges = []
    for run, (job, _rid, when) in runs.items():
        edges.append(EdgeFact(EdgeKind.INSTANCE_OF, nodes[job].key, nodes[run].key, Source.OPENLINEAGE, valid_from=T0))
    edges += [
        EdgeFact(EdgeKind.CONSUMED, nodes["raw"].key, nodes["run1"].key, Source.OPENLINEAGE, valid_from=T0),
        EdgeFact(EdgeKind.CONSUMED, nodes["raw"].key, nodes["run2"].key, Source.OPENLINEAGE, valid_from=T0),
        EdgeFact(EdgeKind.PRODUCED, nodes["run1"].key, nodes["v1"].key, Source.OPENLINEAGE, valid_from=T0),
        EdgeFact(EdgeKind.PRODUCED, nodes["run2"].key, nodes["v2"].key, Source.OPENLINEAGE, valid_from=T0),
        EdgeFact(EdgeKind.CONSUMED, nodes["v2"].key, nodes["run3"].key, Source.OPENLINEAGE, valid_from=T0),
        EdgeFact(EdgeKind.PRODUCED, nodes["run3"].key, nodes["v3"].key, Source.OPENLINEAGE, valid_from=T0),
    ]
    for v, (dataset, _run) in versions.items():
        edges.append(EdgeFact(EdgeKind.VERSION_OF, nodes[v].key, nodes[dataset].key, Source.OPENLINEAGE, valid_from=T0))
    result = store.apply(list(nodes.values()) + edges)
    return {name: result.nodes[fact.key].pk for name, fact in nodes.items()}


def chain(n_nodes: int, prefix: str = "chain") -> int:
    """A straight dataset -> run -> dataset ... chain of `n_nodes` nodes; returns the first dataset's id."""
    facts, keys = [], []
    for i in range(n_nodes):
        kind = NodeKind.DATASET if i % 2 == 0 else NodeKind.RUN
        k = key(kind, f"{prefix}:{i}")
        keys.append(k)
        facts.append(NodeFact(k, name=f"{prefix}_{kind}_{i:03d}", seen_at=T0,
                              properties={"started_at": T0.isoformat()} if kind == NodeKind.RUN else {}))
    for a, b in zip(keys, keys[1:]):
        facts.append(EdgeFact(EdgeKind.CONSUMED if a.kind == NodeKind.DATASET else EdgeKind.PRODUCED, a, b,
                              Source.OPENLINEAGE, valid_from=T0))
    return store.apply(facts).nodes[keys[0]].pk


def branching_pipeline(branches: int = 6, steps: int = 3) -> dict:
    """One source dataset feeding `branches` chains of `steps` OpenLineage steps (run -> dataset version
    -> dataset), runs named by UUID as OpenLineage names them. 1 + branches * steps * 3 nodes downstream
    of the source within depth 3 * steps (plus a job per step, upstream of its runs). Returns the source
    dataset's id and the run ids."""
    import uuid

    ns = "postgres://warehouse:5432"
    source = NodeFact(key(NodeKind.DATASET, f"{ns}:raw.clickstream_events"), name="raw.clickstream_events",
                      namespace=ns, seen_at=T0)
    facts: list = [source]
    run_ids = []
    for b in range(branches):
        previous = source
        for step in range(steps):
            when = T0 + dt.timedelta(hours=b, minutes=10 * step)
            job_name = f"team_{b}.step_{step}_aggregate_sessions_by_region"
            job = NodeFact(key(NodeKind.JOB, f"etl:{job_name}"), name=job_name, namespace="etl", seen_at=when)
            run_id = str(uuid.UUID(int=b * 1000 + step + 1))
            run_ids.append(run_id)
            run = NodeFact(key(NodeKind.RUN, run_id), name=run_id, namespace="etl", display_name=f"{job_name} {run_id}",
                           seen_at=when, properties={"job": {"namespace": "etl", "name": job_name}, "run_id": run_id,
                                                     "started_at": when.isoformat(), "state": "COMPLETE"})
            out_name = f"analytics.branch_{b}_step_{step}_sessions"
            dataset = NodeFact(key(NodeKind.DATASET, f"{ns}:{out_name}"), name=out_name, namespace=ns, seen_at=when)
            version = NodeFact(key(NodeKind.DATASET_VERSION, f"{ns}:{out_name}@{run_id}"), name=out_name, namespace=ns,
                               display_name=f"{out_name}@{run_id}", seen_at=when,
                               properties={"dataset": {"namespace": ns, "name": out_name}, "run_id": run_id})
            facts += [job, run, dataset, version,
                      EdgeFact(EdgeKind.INSTANCE_OF, job.key, run.key, Source.OPENLINEAGE, valid_from=when),
                      EdgeFact(EdgeKind.CONSUMED, previous.key, run.key, Source.OPENLINEAGE, valid_from=when),
                      EdgeFact(EdgeKind.PRODUCED, run.key, version.key, Source.OPENLINEAGE, valid_from=when),
                      EdgeFact(EdgeKind.VERSION_OF, version.key, dataset.key, Source.OPENLINEAGE, valid_from=when)]
            previous = version
    result = store.apply(facts)
    return {"source": result.nodes[source.key].pk, "run_ids": run_ids}
