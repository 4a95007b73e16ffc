"""Automatic same-as links from Kubeflow originals to Viya model versions — by digest, by URI, by KFP run
id — written from store facts made directly, so an upstream query from the Viya version reaches the
Kubeflow training data. No evidence, no link."""
from __future__ import annotations

import pytest

from connectors import stitching
from lineage import graph, store
from lineage.models import Edge, Node

pytestmark = pytest.mark.django_db

KF = "kubeflow"
K = lambda kind, sid: store.NodeKey(KF, kind, f"kfp.local/{sid}")
V = lambda kind, sid: store.NodeKey("viya", kind, f"viya.local/{sid}")
RUN_ID = "5b1d1f0e-2c3a-4d7e-9f00-0123456789ab"
URI = f"minio://mlpipeline/v2/artifacts/churn/{RUN_ID}/train/model"
DIGEST = "sha256:" + "ab" * 32


def _kubeflow_training():
    data, run, task, model = K("dataset", "artifact/1"), K("run", f"run/{RUN_ID}"), K("run", "execution/7"), K("model_version", "artifact/2")
    logs = K("artifact", "artifact/3")  # executor logs: produced by the same task, never the model
    store.apply([
        store.NodeFact(data, name="s3://lake/customers.csv", properties={"uri": "s3://lake/customers.csv"}),
        store.NodeFact(run, name=RUN_ID, properties={"kfp_kind": "run", "run_id": RUN_ID}),
        store.NodeFact(task, name=f"{RUN_ID}/train", properties={"kfp_kind": "task", "run_id": RUN_ID}),
        store.NodeFact(model, name=URI, properties={"uri": URI, "digest": DIGEST, "mlmd_type": "system.Model"}),
        store.EdgeFact("parent_of", run, task, KF),
        store.EdgeFact("consumed", data, task, KF),
        store.NodeFact(logs, name=f"minio://mlpipeline/logs/{RUN_ID}/train/executor-logs",
                       properties={"mlmd_type": "system.Artifact", "display_name": "executor-logs"}),
        store.EdgeFact("produced", task, model, KF),
        store.EdgeFact("produced", task, logs, KF),
    ])
    return {k: Node.objects.get(source=KF, source_id=v.source_id) for k, v in
            {"data": data, "run": run, "task": task, "model": model}.items()}


def _viya_version(name, **props):
    key = V("model_version", f"model/{name}/version/1.0")
    store.apply([store.NodeFact(key, name=name, properties={"viya_kind": "model_version", **props})])
    return Node.objects.get(source="viya", source_id=key.source_id)


@pytest.mark.parametrize("props, method", [
    ({"contents": [{"name": "model.pkl", "role": "python pickle", "digest": DIGEST}]}, "digest"),
    ({"user_properties": {"trainedBy": "kubeflow", "artifactUri": URI}}, "uri"),
    ({"description": f"Trained by Kubeflow run {RUN_ID} on the churn pipeline"}, "kfp_run_id"),
    ({"user_properties": {"kfp_run_id": RUN_ID}}, "kfp_run_id"),
])
def test_each_kind_of_evidence_links_and_upstream_reaches_training_data(props, method):
    kf = _kubeflow_training()
    copy = _viya_version("churn", **props)
    result = stitching.stitch()
    assert result.edges_created == 1
    edge = Edge.objects.get(kind="same_as")
    assert (edge.src, edge.dst, edge.properties["method"]) == (kf["model"], copy, method)
    upstream = {n.pk for n in graph.lineage([copy.pk], direction="upstream", depth=10).nodes}
    assert {kf["model"].pk, kf["task"].pk, kf["data"].pk} <= upstream
    assert stitching.stitch().edges_created == 0  # idempotent


def test_no_evidence_no_link():
    _kubeflow_training()
    _viya_version("other", description="hand-written SAS model", user_properties={"owner": "risk-team"},
                  contents=[{"name": "score.sas", "digest": "sha256:" + "cd" * 32}])
    assert stitching.stitch().edges_created == 0
    assert not Edge.objects.filter(kind="same_as").exists()


def test_datasets_and_logs_of_the_run_are_not_taken_for_the_model():
    kf = _kubeflow_training()
    copy = _viya_version("churn", description=f"run {RUN_ID}")
    stitching.stitch()
    assert list(Edge.objects.filter(kind="same_as").values_list("src", "dst")) == [(kf["model"].pk, copy.pk)]


def test_nothing_to_do_without_kubeflow_nodes():
    _viya_version("churn", description=f"run {RUN_ID}")
    assert stitching.same_as_facts() == []
