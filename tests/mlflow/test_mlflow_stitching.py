"""Cross-platform stitching of MLflow model versions harvested from a real server: a version registered
from a Kubeflow artefact's URI, or whose run carries a KFP run id, is linked `same_as` from the Kubeflow
original; a Viya model version naming the MLflow version (models:/name/version) or its run is linked as
its copy. The links come from the after-harvest hook, whichever platform was harvested last."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from connectors.mlflow.harvest import instance_of
from lineage import graph, store
from lineage.models import Edge, Node
from tests.support.mlflow_scenario import client, log_run, unique

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
KFP_RUN = "7c1d1f0e-2c3a-4d7e-9f00-0123456789ab"


def _kubeflow(uri):
    K = lambda kind, sid: store.NodeKey("kubeflow", kind, f"kfp.local/{sid}")
    data, run, model = K("dataset", "artifact/1"), K("run", f"run/{KFP_RUN}"), K("artifact", "artifact/2")
    store.apply([
        store.NodeFact(data, name="s3://lake/churn.csv", properties={"uri": "s3://lake/churn.csv"}),
        store.NodeFact(run, name=KFP_RUN, properties={"kfp_kind": "run", "run_id": KFP_RUN}),
        store.NodeFact(model, name=uri, properties={"uri": uri, "mlmd_type": "system.Model"}),
        store.EdgeFact("consumed", data, run, "kubeflow"),
        store.EdgeFact("produced", run, model, "kubeflow"),
    ])
    return {k: Node.objects.get(source="kubeflow", source_id=v.source_id) for k, v in
            {"data": data, "run": run, "model": model}.items()}


def _harvest(url):
    call_command("harvest", "mlflow", "--tracking-uri", url, "--no-progress", stdout=io.StringIO())


def _version(url, name, version="1"):
    return Node.objects.get(source="mlflow", kind="model_version",
                            source_id=f"{instance_of(url)}/model/{name}/version/{version}")


def test_kubeflow_original_by_uri_and_by_run_tag_and_viya_copy(mlflow_server):
    url = mlflow_server.url
    c = client(url)
    exp = c.create_experiment(unique("stitch"))
    uri = f"minio://mlpipeline/v2/artifacts/churn/{unique('run')}/train/model"
    kf = _kubeflow(uri)

    # 1. Registered straight from the Kubeflow artefact's location.
    rid, _ = log_run(c, exp, name="import", model=False)
    by_uri = unique("by-uri")
    c.create_registered_model(by_uri)
    c.create_model_version(by_uri, uri, run_id=rid)
    # 2. Trained in a run that names the KFP run it belongs to.
    rid2, model_id = log_run(c, exp, name="kfp-step", tags={"kfp_run_id": KFP_RUN})
    by_run = unique("by-run")
    c.create_registered_model(by_run)
    c.create_model_version(by_run, f"models:/{model_id}", run_id=rid2, model_id=model_id)
    # 3. Unrelated: no link.
    rid3, model3 = log_run(c, exp, name="solo")
    solo = unique("solo")
    c.create_registered_model(solo)
    c.create_model_version(solo, f"models:/{model3}", run_id=rid3, model_id=model3)

    _harvest(url)
    uri_version, run_version, solo_version = _version(url, by_uri), _version(url, by_run), _version(url, solo)
    links = {(e.src_id, e.dst_id): e.properties["method"] for e in Edge.objects.filter(kind="same_as")}
    assert links[(kf["model"].pk, uri_version.pk)] == "uri"
    assert links[(kf["model"].pk, run_version.pk)] == "kfp_run_id"
    assert not any(dst == solo_version.pk for _, dst in links)
    upstream = {n.pk for n in graph.lineage([run_version.pk], direction="upstream", depth=10).nodes}
    assert {kf["model"].pk, kf["run"].pk, kf["data"].pk} <= upstream  # into Kubeflow's training data

    # A Viya model imported from MLflow, harvested later (facts here), is linked as the MLflow version's copy
    # by the next harvest of any platform.
    viya = store.NodeKey("viya", "model_version", "viya.local/model/m1/version/1.0")
    store.apply([store.NodeFact(viya, name="churn 1.0", properties={
        "viya_kind": "model_version", "description": f"Imported from MLflow models:/{by_run}/1"})])
    _harvest(url)
    copy = Node.objects.get(source="viya", source_id=viya.source_id)
    edge = Edge.objects.get(kind="same_as", dst=copy)
    assert edge.src == run_version and edge.properties == {"method": "uri", "evidence": f"models:/{by_run}/1"}
    assert Edge.objects.filter(kind="same_as").count() == 3
    _harvest(url)
    assert Edge.objects.filter(kind="same_as").count() == 3  # idempotent
