"""Data for the provenance card and registry tests: the demo's real harvests (Kubeflow then Viya, through
their connectors and the fakes), and small graphs written through lineage.store.apply at chosen times."""
from __future__ import annotations

import datetime as dt

from lineage import store
from lineage.kinds import EdgeKind, NodeKind, Source
from lineage.models import Node
from lineage.store import EdgeFact, NodeFact, NodeKey


def harvest_demo_platforms(tmp_path) -> Node:
    """Harvest the Kubeflow demo (ML Metadata + KFP API fake) and the Viya demo; returns the Viya version
    "churn-classifier 1.0", which the harvest stitched (same_as) to the Kubeflow model that trained it."""
    from devtools.kubeflow.demo import load_demo as kubeflow_demo
    from devtools.viya.demo import load_demo as viya_demo

    assert kubeflow_demo(mlmd_path=tmp_path / "kfp.sqlite")["status"] == "succeeded"
    assert viya_demo()["status"] == "succeeded"
    return Node.objects.get(source="viya", kind="model_version", name="churn-classifier 1.0")


T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone.utc)


def key(source, kind, source_id) -> NodeKey:
    return NodeKey(source, kind, source_id)


def timed_story(prefix: str = "story") -> dict:
    """A Kubeflow run that trained an artefact on day 0 (parameters, metrics), a Viya version registered on
    day 2 and linked same_as on day 3, and the run's status corrected on day 5. Returns node ids."""
    data = key(Source.KUBEFLOW, NodeKind.DATASET, f"{prefix}/artifact/1")
    run = key(Source.KUBEFLOW, NodeKind.RUN, f"{prefix}/run/r1")
    art = key(Source.KUBEFLOW, NodeKind.MODEL_VERSION, f"{prefix}/artifact/2")
    metrics = key(Source.KUBEFLOW, NodeKind.METRICS, f"{prefix}/artifact/3")
    viya = key(Source.VIYA, NodeKind.MODEL_VERSION, f"{prefix}-viya/model/m1/version/1.0")
    day = lambda n: T0 + dt.timedelta(days=n)
    result = store.apply([
        NodeFact(data, name="s3://lake/train.csv", properties={"uri": "s3://lake/train.csv", "digest": "sha256:aa"},
                 seen_at=day(0)),
        NodeFact(run, name="r1", properties={"kfp_kind": "run", "run_id": "r1", "state": "RUNNING",
                                             "parameters": {"learning_rate": 0.1}, "created_at": "2026-03-01T09:00:00Z"},
                 seen_at=day(0)),
        NodeFact(art, name="s3://lake/model", properties={"uri": "s3://lake/model", "mlmd_artifact_id": 2}, seen_at=day(0)),
        NodeFact(metrics, name="s3://lake/metrics", properties={"metrics": {"auc": 0.93}}, seen_at=day(0)),
        EdgeFact(EdgeKind.CONSUMED, data, run, Source.KUBEFLOW, valid_from=day(0)),
        EdgeFact(EdgeKind.PRODUCED, run, art, Source.KUBEFLOW, valid_from=day(0)),
        EdgeFact(EdgeKind.PRODUCED, run, metrics, Source.KUBEFLOW, valid_from=day(0)),
        NodeFact(viya, name="scorer 1.0", properties={"viya_kind": "model_version", "version_name": "1.0",
                                                      "algorithm": "Gradient boosting", "modeler": "alice"},
                 seen_at=day(2)),
        EdgeFact(EdgeKind.SAME_AS, art, viya, Source.VIYA, valid_from=day(3)),
    ])
    store.apply([NodeFact(run, name="r1", properties={"state": "SUCCEEDED", "finished_at": "2026-03-06T09:00:00Z"},
                          seen_at=day(5))])
    return {name: result.nodes[k].pk for name, k in
            (("data", data), ("run", run), ("artifact", art), ("metrics", metrics), ("viya", viya))}
