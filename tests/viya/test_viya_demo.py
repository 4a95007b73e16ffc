"""The demo Viya repository: harvested through the fake with digests, it shows champion, challenger,
history, workflows and publishes, and its champion's upstream lineage reaches the Kubeflow training data."""
from __future__ import annotations

import importlib.util

import pytest

from devtools.viya.demo import DEMO_INSTANCE, DEMO_KFP_RUN_ID, DEMO_MODEL_DIGEST, DEMO_MODEL_URI, load_demo
from lineage import graph, store
from lineage.models import Edge, Node

pytestmark = pytest.mark.django_db


def _champion():
    project = Node.objects.get(source="viya", kind="project", name="Customer Churn")
    return project, Edge.objects.get(src=project, kind="contains", properties__role="champion", valid_to__isnull=True).dst


def test_demo_harvest_shows_governance_state():
    result = load_demo()
    assert result["status"] == "succeeded"
    project, champion = _champion()
    assert champion.source_id == f"{DEMO_INSTANCE}/model/{champion.properties['model_id']}/version/2.0"
    assert project.properties["challengers"] and project.properties["history"][-1]["modelVersionName"] == "2.0"
    [workflow] = project.properties["workflows"]
    assert workflow["process_name"] == "Churn model approval" and len(workflow["tasks"]) == 2
    pickle = next(c for c in champion.properties["contents"] if c["name"] == "model.pkl")
    assert pickle["digest"].startswith("sha256:") and pickle["size"] > 0
    states = sorted(Node.objects.filter(source="viya", kind="deployment").values_list("properties__state", flat=True))
    assert states == ["completed", "failed"]
    assert Node.objects.filter(source="viya", kind="model_version", properties__model_id=champion.properties["model_id"]).count() == 2
    again = load_demo()
    assert again["counts"]["nodes_created"] == 0 and again["counts"]["edges_created"] == 0


def test_demo_champion_is_stitched_to_kubeflow_facts():
    kf = lambda kind, sid: store.NodeKey("kubeflow", kind, f"demo/{sid}")
    data, run, task, model = (kf("dataset", "artifact/1"), kf("run", f"run/{DEMO_KFP_RUN_ID}"),
                              kf("run", "execution/2"), kf("model_version", "artifact/3"))
    store.apply([
        store.NodeFact(data, name="s3://datalake/raw/customers.csv"),
        store.NodeFact(run, name=DEMO_KFP_RUN_ID, properties={"kfp_kind": "run", "run_id": DEMO_KFP_RUN_ID}),
        store.NodeFact(model, name=DEMO_MODEL_URI, properties={"uri": DEMO_MODEL_URI, "digest": DEMO_MODEL_DIGEST}),
        store.EdgeFact("parent_of", run, task, "kubeflow"), store.EdgeFact("consumed", data, task, "kubeflow"),
        store.EdgeFact("produced", task, model, "kubeflow"),
    ])
    load_demo()
    _, champion = _champion()
    links = Edge.objects.filter(kind="same_as", dst=champion)
    assert {e.src.source_id for e in links} == {model.source_id}
    upstream = {n.source_id for n in graph.lineage([champion.pk], direction="upstream").nodes}
    assert {model.source_id, task.source_id, data.source_id} <= upstream


@pytest.mark.skipif(importlib.util.find_spec("devtools.kubeflow.fake_api") is None,
                    reason="end to end needs the Kubeflow connector's fake API (devtools/kubeflow/fake_api.py)")
def test_end_to_end_with_the_kubeflow_demo():
    from devtools.kubeflow.demo import load_demo as load_kubeflow_demo

    load_kubeflow_demo()
    load_demo()
    _, champion = _champion()
    upstream = graph.lineage([champion.pk], direction="upstream", depth=20).nodes
    assert any(n.source == "kubeflow" and n.kind == "dataset" for n in upstream)
