"""Harvested Kubeflow runs sent as OpenLineage events through openlineage-python to our own ingest endpoint
(POST /api/v1/lineage) on a live server: parent facets for tasks, a custom facet for model metadata."""
import uuid

import pytest
from django.core.management import call_command

from devtools.kubeflow import demo
from devtools.kubeflow.fake_api import FakeKfpServer
from connectors.kubeflow.openlineage import client, emit_openlineage
from devtools.kubeflow.testing import harvest
from lineage.ingest.models import IngestedEvent
from lineage.models import Edge, Node, RawRecord
from tests.conftest import make_user


@pytest.fixture
def harvested(tmp_path, transactional_db):
    source = demo.generate(tmp_path / "mlmd.sqlite")
    with FakeKfpServer.serving(source) as server:
        result = harvest({"kfp_host": server.url, "mlmd_sqlite": str(source.mlmd_path), "instance": "kf"})
    return source, result


def test_harvested_runs_arrive_as_openlineage_events(live_server, harvested):
    source, result = harvested
    token = make_user("kfp-emitter", "engineer").auth_token.key
    sent = emit_openlineage(result, ol_client=client(live_server.url, token))
    # every run and every task execution of the demo (5 runs + their tasks, nested DAG included)
    expected = sum(len(tasks) for tasks in source.executions.values())
    assert sent == expected
    assert IngestedEvent.objects.count() == expected
    assert IngestedEvent.objects.filter(strict_ok=True).count() == expected

    # The pipeline run keeps the KFP run id (a UUID) and its state.
    pipeline_run = IngestedEvent.objects.get(run_id=demo.DEMO_KFP_RUN_ID)
    assert pipeline_run.job_namespace == "kubeflow://kf" and pipeline_run.job_name == "churn-training"
    assert pipeline_run.event_type == "COMPLETE"

    # Tasks carry a ParentRunFacet naming the pipeline run (root too); the model output its custom facet.
    trains = IngestedEvent.objects.filter(job_name="churn-training.train").order_by("pk")
    assert trains.count() == 2  # one per churn-training run
    train = trains.first()
    body = RawRecord.objects.get(pk=train.raw_id).body
    assert body["run"]["facets"]["parent"]["run"]["runId"] in {demo.DEMO_KFP_RUN_ID, source.runs[1]["run_id"]}
    assert body["run"]["facets"]["parent"]["root"]["job"]["name"] == "churn-training"
    model_outputs = [o for o in body["outputs"] if "kubeflow_model" in o.get("facets", {})]
    assert len(model_outputs) == 1
    facet = model_outputs[0]["facets"]["kubeflow_model"]
    assert facet["modelName"] == demo.DEMO_MODEL_NAME and facet["_schemaURL"].endswith("KubeflowModelFacet")
    assert facet["digest"].startswith("sha256:")

    # The nested DAG's tasks name the DAG as parent and the pipeline run as root.
    fq_run = source.runs[2]["run_id"]
    validate_events = [RawRecord.objects.get(pk=e.raw_id).body
                       for e in IngestedEvent.objects.filter(job_name="feature-quality.validate")]
    assert len(validate_events) == 1
    assert validate_events[0]["eventType"] == "FAIL"
    assert validate_events[0]["run"]["facets"]["parent"]["job"]["name"] == "feature-quality.checks"
    assert validate_events[0]["run"]["facets"]["parent"]["root"]["run"]["runId"] == fq_run

    # The ingest built its own OpenLineage graph: the task run is a child of the pipeline run there too.
    ol_parent = Node.objects.get(source="openlineage", kind="run", source_id=demo.DEMO_KFP_RUN_ID)
    assert Edge.objects.filter(kind="parent_of", src=ol_parent).count() == len(source.executions[demo.DEMO_KFP_RUN_ID]) - 1


def test_nothing_changed_means_nothing_sent(live_server, harvested, tmp_path):
    source, _ = harvested
    with FakeKfpServer.serving(source) as server:
        again = harvest({"kfp_host": server.url, "mlmd_sqlite": str(source.mlmd_path), "instance": "kf"})
    token = make_user("kfp-emitter", "engineer").auth_token.key
    assert emit_openlineage(again, ol_client=client(live_server.url, token)) == 0
    assert IngestedEvent.objects.count() == 0


def test_refused_credentials_raise(live_server, harvested):
    import requests

    _, result = harvested
    with pytest.raises(requests.HTTPError):
        emit_openlineage(result, ol_client=client(live_server.url, "not-a-token"))
    assert IngestedEvent.objects.count() == 0


def test_harvest_command_emits_to_openlineage_url(live_server, transactional_db, tmp_path, settings, capsys):
    source = demo.generate(tmp_path / "mlmd.sqlite")
    settings.OPENLINEAGE_URL = live_server.url
    settings.OPENLINEAGE_API_KEY = make_user("kfp-cmd", "engineer").auth_token.key
    call_command("harvest", "kubeflow", "--mlmd-sqlite", str(source.mlmd_path), "--instance", "cmd",
                 "--emit-openlineage", "--no-progress")
    out = capsys.readouterr().out
    assert "succeeded" in out and "sent" in out
    assert IngestedEvent.objects.filter(job_namespace="kubeflow://cmd").count() == sum(
        len(t) for t in source.executions.values())
    assert uuid.UUID(IngestedEvent.objects.filter(job_name="churn-training").first().run_id)
