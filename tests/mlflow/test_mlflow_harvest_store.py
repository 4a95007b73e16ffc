"""`manage.py harvest mlflow` against a real MLflow server: what lands in the store, incrementally.

Runs, datasets, logged models, registered versions and aliases are logged with MLflow's own client; the
harvest goes through MLflow's client too. Then: a re-harvest writes nothing; a deleted run is marked and a
restored one unmarked; a deleted model version is marked deleted with its edges closed."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from connectors.mlflow.harvest import instance_of
from connectors.models import Harvest, HarvestStatus
from lineage.models import Edge, Node
from tests.support.mlflow_scenario import client, log_run, register, unique

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def harvest(url, *extra) -> Harvest:
    out = io.StringIO()
    call_command("harvest", "mlflow", "--tracking-uri", url, "--no-progress", "--actor", "ci", *extra, stdout=out)
    return Harvest.objects.order_by("-pk").first()


def node(url, kind, suffix) -> Node:
    return Node.objects.get(source="mlflow", kind=kind, source_id=f"{instance_of(url)}/{suffix}")


def test_runs_datasets_models_versions_and_aliases_land_in_the_store(mlflow_server):
    c = client(mlflow_server.url)
    exp = c.create_experiment(unique("churn"), tags={"team": "risk"})
    digest = unique("d")
    rid, model_id = log_run(c, exp, name="train-1", losses=(0.9, 0.4, 0.2, 0.1),
                            tags={"kfp_run_id": "not-a-kfp-run"}, dataset=("customers", digest, "s3://lake/customers.csv"))
    child, _ = log_run(c, exp, name="fold-1", tags={"mlflow.parentRunId": rid}, model=False)
    name = unique("churn-model")
    version = register(c, name, rid, model_id, description="first cut", tags={"owner": "risk"})
    c.set_registered_model_alias(name, "champion", version)

    h = harvest(mlflow_server.url)
    assert h.status == HarvestStatus.SUCCEEDED and h.kind == "mlflow" and h.actor == "harvester:mlflow"
    assert h.counts["read"]["runs"] >= 2 and h.counts["read"]["metric_histories"] >= 4

    run = node(mlflow_server.url, "run", f"run/{rid}")
    props = run.properties
    assert props["status"] == "FINISHED" and props["run_name"] == "train-1" and not props["deleted"]
    assert props["git_commit"] == "3f2a9c1" and props["source_name"] == "train.py" and props["user"]
    assert props["parameters"] == {"lr": "0.1", "depth": "6"}
    assert props["metrics"]["loss"]["value"] == 0.1 and props["metrics"]["loss"]["step"] == 3
    assert props["metrics"]["loss"]["history"] == {"count": 4, "first_step": 0, "last_step": 3, "first_value": 0.9,
                                                   "last_value": 0.1, "min": 0.1, "max": 0.9}
    assert props["start_time"] and props["end_time"] and props["logged_models"] == [model_id]
    metrics = node(mlflow_server.url, "metrics", f"run/{rid}/metrics")
    assert metrics.properties["metrics"] == {"loss": 0.1, "auc": pytest.approx(0.84)}
    assert Edge.objects.filter(kind="produced", src=run, dst=metrics).exists()
    experiment = node(mlflow_server.url, "project", f"experiment/{exp}")
    assert experiment.properties["tags"] == {"team": "risk"}
    assert Edge.objects.filter(kind="contains", src=experiment, dst=run, valid_to__isnull=True).exists()
    child_run = node(mlflow_server.url, "run", f"run/{child}")
    assert Edge.objects.filter(kind="parent_of", src=run, dst=child_run).exists()

    data = node(mlflow_server.url, "dataset_version", f"dataset/customers/{digest}")
    assert data.properties["uri"] == "s3://lake/customers.csv" and data.properties["digest"] == digest
    consumed = Edge.objects.get(kind="consumed", src=data, dst=run)
    assert consumed.properties == {"context": "training"}
    assert Edge.objects.filter(kind="version_of", src=data,
                               dst=node(mlflow_server.url, "dataset", "dataset/customers")).exists()

    logged = node(mlflow_server.url, "artifact", f"logged_model/{model_id}")
    assert logged.properties["status"] == "READY" and logged.properties["uri"].endswith("/artifacts")
    assert Edge.objects.filter(kind="produced", src=run, dst=logged).exists()

    mv = node(mlflow_server.url, "model_version", f"model/{name}/version/{version}")
    vp = mv.properties
    assert vp["source_uri"] == f"models:/{model_id}" and vp["run_id"] == rid and vp["aliases"] == ["champion"]
    assert vp["tags"] == {"owner": "risk"} and vp["description"] == "first cut" and vp["model_id"] == model_id
    assert vp["artifact_uri"] == logged.properties["uri"] and vp["stage"] == "None"
    assert mv.namespace == instance_of(mlflow_server.url)
    model = node(mlflow_server.url, "model", f"model/{name}")
    assert model.properties["aliases"] == {"champion": version}
    assert Edge.objects.filter(kind="version_of", src=mv, dst=model, valid_to__isnull=True).exists()
    assert Edge.objects.filter(kind="produced", src=run, dst=mv).exists()

    # Nothing changed: nothing written, no history read.
    again = harvest(mlflow_server.url)
    assert again.status == HarvestStatus.SUCCEEDED
    assert again.counts["nodes_created"] == again.counts["nodes_updated"] == again.counts["edges_created"] == 0
    assert again.counts["read"]["runs_changed"] == 0 and again.counts["read"]["metric_histories"] == 0


def test_changes_deletes_and_restores_are_harvested_incrementally(mlflow_server):
    c = client(mlflow_server.url)
    exp = c.create_experiment(unique("fraud"))
    rid, model_id = log_run(c, exp, name="train", finish=False)
    name = unique("fraud-model")
    v1 = register(c, name, rid, model_id)
    harvest(mlflow_server.url)
    run = node(mlflow_server.url, "run", f"run/{rid}")
    assert run.properties["status"] == "RUNNING" and run.properties["end_time"] is None

    # The run goes on: a new metric step and its end.
    c.log_metric(rid, "loss", 0.05, step=3)
    c.set_terminated(rid)
    c.set_registered_model_alias(name, "challenger", v1)
    c.set_model_version_tag(name, v1, "validated", "yes")
    c.transition_model_version_stage(name, v1, "Staging")  # stages: deprecated in MLflow, still used
    h = harvest(mlflow_server.url)
    assert h.counts["read"]["runs_changed"] == 1
    run.refresh_from_db()
    assert run.properties["status"] == "FINISHED" and run.properties["metrics"]["loss"]["history"]["count"] == 4
    mv = node(mlflow_server.url, "model_version", f"model/{name}/version/{v1}")
    assert mv.properties["aliases"] == ["challenger"] and mv.properties["tags"] == {"validated": "yes"}
    assert mv.properties["stage"] == "Staging"

    c.delete_run(rid)
    harvest(mlflow_server.url)
    run.refresh_from_db()
    assert run.properties["deleted"] is True and run.properties["lifecycle_stage"] == "deleted"
    c.restore_run(rid)
    harvest(mlflow_server.url)
    run.refresh_from_db()
    assert run.properties["deleted"] is False

    c.delete_experiment(exp)
    harvest(mlflow_server.url)
    assert node(mlflow_server.url, "project", f"experiment/{exp}").properties["deleted"] is True

    c.delete_model_version(name, v1)
    h = harvest(mlflow_server.url)
    assert h.status == HarvestStatus.SUCCEEDED
    mv.refresh_from_db()
    assert mv.properties["deleted"] is True
    assert not Edge.objects.filter(src=mv, kind="version_of", valid_to__isnull=True).exists()
    assert Edge.objects.filter(src=mv, kind="version_of", valid_to__isnull=False).exists()  # history kept
