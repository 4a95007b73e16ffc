"""GET /api/model-versions/{id}/provenance/ tells a Viya version's story across the platform boundary: the
Kubeflow run that trained it (same_as), its parameters, metrics, images and pipeline code, its input data,
and what governance decided, in one answer."""
from __future__ import annotations

import pytest

from devtools.kubeflow.demo import DEMO_KFP_RUN_ID, IMAGES
from tests.conftest import client_for
from tests.support.provenance import harvest_demo_platforms

pytestmark = pytest.mark.django_db


@pytest.fixture
def viya_version(tmp_path):
    return harvest_demo_platforms(tmp_path)


def card_of(client, node_id, **params):
    response = client.get(f"/api/model-versions/{node_id}/provenance/", params)
    assert response.status_code == 200, response.content[:500]
    return response.json()


def test_viya_version_card_reaches_the_kubeflow_run_and_its_parameters(viya_version, users):
    card = card_of(client_for(users["auditor"]), viya_version.pk)
    sources = {i["source"] for i in card["identities"]}
    assert sources == {"viya", "kubeflow"}
    assert card["model_version"]["owner"] == "alice"  # the Viya modeler
    producer = next(r for r in card["runs"] if r["role"] == "producer")
    pipeline_run = next(r for r in card["runs"] if r["role"] == "parent")
    assert producer["source"] == "kubeflow" and producer["display_name"] == "train"
    assert producer["parent"] == pipeline_run["id"] and pipeline_run["run_id"] == DEMO_KFP_RUN_ID
    assert pipeline_run["status"] == "SUCCEEDED" and pipeline_run["started_by"] == "pipeline-runner"
    assert pipeline_run["started_at"] == "2026-11-01T08:00:00Z" and pipeline_run["ended_at"] == "2026-11-01T08:12:00Z"
    assert pipeline_run["job"]["name"] == "churn-training" and pipeline_run["job_version"]["display_name"] == "churn-training v1"
    # Parameters from both places KFP records them: the API's runtime parameters, ML Metadata's execution inputs.
    runtime = {p["name"]: p["value"] for p in pipeline_run["parameters"] if p["origin"] == "KFP runtime parameters"}
    assert runtime == {"learning_rate": 0.05, "max_depth": 6, "train_split": 0.8}
    task = {p["name"]: p["value"] for p in producer["parameters"] if p["origin"] == "ML Metadata execution inputs"}
    assert task["learning_rate"] == 0.05 and task["max_depth"] == 6
    assert {(p["name"], p["run"]) for p in card["parameters"]} >= {("learning_rate", producer["id"]),
                                                                     ("learning_rate", pipeline_run["id"])}


def test_card_carries_metrics_of_both_platforms_and_the_code_version(viya_version, users):
    card = card_of(client_for(users["engineer"]), viya_version.pk)
    metrics = {(m["name"], m["node_name"]): m["value"] for m in card["metrics"]}
    assert metrics[("auc", "metrics")] == 0.94 and metrics[("f1", "metrics")] == 0.87  # KFP Metrics artefact
    assert metrics[("accuracy", "churn-classifier 1.0")] == 0.92  # Viya model property typed numeric
    assert metrics[("KS", "churn-classifier 1.0")] == 0.61
    assert ("confusionMatrix", "report") in metrics  # KFP ClassificationMetrics of the same pipeline run
    code = {c["label"]: c["value"] for c in card["code_version"]}
    assert code["image of train"] == IMAGES["train"]
    assert code["image exec-evaluate"] == IMAGES["evaluate"]
    assert code["pipeline spec digest"].startswith("sha256:") and len(code["pipeline spec digest"]) == 71
    assert code["code source"] == "https://git.example.com/ml/churn-training/tree/v1"
    assert code["algorithm"] == "Gradient boosting" and code["tool"] == "Python 3" and code["tool version"] == "3.11"
    assert code["score code type"] == "python"
    assert code["training table"] == "s3://datalake/raw/customers/2026-11-01.csv"


def test_input_data_follows_depth(viya_version, users):
    client = client_for(users["approver"])
    deep = card_of(client, viya_version.pk)
    uris = {d["uri"]: d["depth"] for d in deep["input_data"]}
    assert "s3://datalake/raw/customers/2026-11-01.csv" in uris
    assert any(u.endswith("/ingest/clean_data") for u in uris)
    shallow = card_of(client, viya_version.pk, depth=2)
    assert "s3://datalake/raw/customers/2026-11-01.csv" not in {d["uri"] for d in shallow["input_data"]}
    assert all(d["depth"] <= 2 for d in shallow["input_data"])
    # `depth` limits the input data, not the story of the run: the pipeline run and its job still show.
    parent = next(r for r in shallow["runs"] if r["role"] == "parent")
    assert parent["job"]["name"] == "churn-training" and parent["parameters"]
    assert deep["chain"]["runs"] == [r["id"] for r in deep["runs"]]


def test_governance_sections_show_every_decision(viya_version, users):
    from governance.approvals import services
    from governance.approvals.models import Stage
    from tests.support.approvals import open_policy
    from common.audit import context

    open_policy("staging", approvals=1)
    with context.acting_as(context.for_user(users["engineer"])):
        req = services.create_request(users["engineer"], node=viya_version, target_stage=Stage.objects.get(name="staging"),
                                      justification="holdout ok", submit=True)
    with context.acting_as(context.for_user(users["approver"])):
        services.decide(users["approver"], req.pk, "approve", "checked the KFP run")
    card = card_of(client_for(users["auditor"]), viya_version.pk)
    assert card["stage"] == "staging"
    [approval] = card["approvals"]
    assert approval["state"] == "executed" and approval["requester"] == "engineer"
    assert [(d["actor"], d["decision"], d["comment"]) for d in approval["decisions"]] == [
        ("approver", "approve", "checked the KFP run")]
    assert card["stage_history"][-1]["approved_by"] == ["approver"]
    assert card["gates"]["request"] == req.pk and card["chain"]["approvals"] == [req.pk]


def test_not_a_model_version_is_a_json_404(viya_version, users):
    client = client_for(users["engineer"])
    from lineage.models import Node

    dataset = Node.objects.filter(kind="dataset").first()
    for node_id in (dataset.pk, 999999):
        response = client.get(f"/api/model-versions/{node_id}/provenance/")
        assert response.status_code == 404 and response["Content-Type"].startswith("application/json")
        assert "model version" in response.json()["detail"]
    for bad in ({"depth": "0"}, {"depth": "x"}, {"as_of": "yesterday"}):
        response = client.get(f"/api/model-versions/{viya_version.pk}/provenance/", bad)
        assert response.status_code == 400 and set(response.json()) & {"depth", "as_of", "errors", "detail"}
