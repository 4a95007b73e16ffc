"""End to end: a KFP-shaped ML Metadata store written with ml-metadata and a fake KFP API served over HTTP,
harvested through the real kfp.Client and ml-metadata into the lineage store."""
import pytest

from devtools.kubeflow import demo
from devtools.kubeflow.testing import harvest, snapshot
from connectors.models import HarvestCursor
from governance.audit.models import AuditEntry
from lineage import graph
from lineage.models import Edge, Node, RawRecord
from tests.support.kubeflow import settings_for

pytestmark = pytest.mark.django_db


def node(kind, suffix):
    return Node.objects.get(kind=kind, source="kubeflow", source_id=f"test/{suffix}")


def test_full_harvest_maps_runs_tasks_artifacts_and_events(server, source):
    result = harvest(settings_for(server, source))
    assert result.status == "succeeded"
    assert result.counts["read"]["runs"] == len(source.runs) + 2  # demo runs + the two KFP testdata runs
    assert result.pages > 5  # page_size 2 / 4 forces paging through tokens and keysets

    # The API run and MLMD's root DAG are one run node, with API states and parameters and MLMD's id.
    run = node("run", f"run/{demo.DEMO_KFP_RUN_ID}")
    assert run.properties["state"] == "SUCCEEDED"
    assert run.properties["parameters"]["max_depth"] == 6
    assert [h["state"] for h in run.properties["state_history"]] == ["PENDING", "RUNNING", "SUCCEEDED"]
    assert run.properties["mlmd_execution_id"] == source.executions[demo.DEMO_KFP_RUN_ID]["root"]
    assert run.properties["pipeline_name"] == "churn-training"
    assert RawRecord.objects.filter(kind="kfp.run", source_id=demo.DEMO_KFP_RUN_ID).exists()

    # KFP testdata objects went through the SDK: the failed run keeps its error, the pipeline its name.
    failed = node("run", "run/failed-run-456")
    assert failed.properties["state"] == "FAILED" and failed.properties["error"]["message"] == "This was a Failed Run."
    assert node("job", "pipeline/9b187b86-7c0a-42ae-a0bc-2a746b6eb7a3").display_name == "Production Data Processing Pipeline"

    # pipeline version -instance_of-> run, pipeline version -version_of-> pipeline.
    version = node("job", f"pipeline_version/{source.runs[0]['pipeline_version_reference']['pipeline_version_id']}")
    assert Edge.objects.filter(kind="instance_of", src=version, dst=run).exists()
    assert Edge.objects.filter(kind="version_of", src=version).count() == 1

    # Tasks are child runs; the train task produced the model version and its metrics (numbers stay numbers).
    train = node("run", f"execution/{source.executions[demo.DEMO_KFP_RUN_ID]['train']}")
    assert Edge.objects.filter(kind="parent_of", src=run, dst=train).exists()
    model_version = node("model_version", f"artifact/{source.artifacts['model#1']}")
    assert model_version.properties["uri"] == demo.DEMO_MODEL_URI
    assert model_version.properties["digest"] == demo.DEMO_MODEL_DIGEST
    assert Edge.objects.filter(kind="produced", src=train, dst=model_version).exists()
    model = node("model", f"model/{demo.DEMO_MODEL_NAME}")
    assert Edge.objects.filter(kind="version_of", src=model_version, dst=model).exists()
    metrics = node("metrics", f"artifact/{source.artifacts['metrics#1']}")
    assert metrics.properties["metrics"]["accuracy"] == pytest.approx(0.92)
    assert isinstance(metrics.properties["metrics"]["n_estimators"], int)
    clean = node("dataset", f"artifact/{source.artifacts['clean_data#1']}")
    assert Edge.objects.get(kind="consumed", src=clean, dst=train).properties["path"] == "dataset"

    # The importer consumed the external raw data (it did not produce it).
    importer = node("run", f"execution/{source.executions[demo.DEMO_KFP_RUN_ID]['importer']}")
    raw = node("dataset", f"artifact/{source.artifacts['raw']}")
    assert Edge.objects.filter(kind="consumed", src=raw, dst=importer).exists()
    assert not Edge.objects.filter(kind="produced", dst=raw).exists()

    # Executor logs are plain artifacts produced by their task.
    assert Node.objects.filter(kind="artifact", display_name="executor-logs").count() >= 5

    # Cache hit in run 2: the cached ingest reused run 1's dataset, it did not produce it.
    run2_id = source.runs[1]["run_id"]
    cached = node("run", f"execution/{source.executions[run2_id]['ingest']}")
    assert cached.properties["state"] == "CACHED"
    assert cached.properties["cached_execution_id"] == source.executions[demo.DEMO_KFP_RUN_ID]["ingest"]
    assert Edge.objects.filter(kind="reused_from_cache", src=clean, dst=cached).exists()
    assert not Edge.objects.filter(kind="produced", src=cached).exists()
    assert Edge.objects.filter(kind="produced", dst=clean).count() == 1

    # Nested DAG: root run -> checks DAG -> validate (FAILED, only executor logs).
    fq = source.runs[2]["run_id"]
    checks = node("run", f"execution/{source.executions[fq]['checks']}")
    validate = node("run", f"execution/{source.executions[fq]['validate']}")
    assert Edge.objects.filter(kind="parent_of", src=node("run", f"run/{fq}"), dst=checks).exists()
    assert Edge.objects.filter(kind="parent_of", src=checks, dst=validate).exists()
    assert validate.properties["state"] == "FAILED"
    assert {e.dst.display_name for e in Edge.objects.filter(kind="produced", src=validate)} == {"executor-logs"}

    # The harvest left a record, a cursor and an audit entry by the harvester service.
    assert HarvestCursor.objects.filter(key=result.source_key).exists()
    entry = AuditEntry.objects.get(action="harvest.succeeded", object_id=str(result.pk))
    assert entry.actor_username == "harvester:kubeflow"


def test_model_lineage_goes_back_to_the_data_across_a_cached_ingest(server, source):
    harvest(settings_for(server, source))
    run2_id = source.runs[1]["run_id"]
    model2 = node("model_version", f"artifact/{source.artifacts['model#2']}")
    up = graph.lineage([model2.pk], direction="upstream", depth=10)
    ids = {n.source_id for n in up.nodes}
    train2 = f"test/execution/{source.executions[run2_id]['train']}"
    clean1 = f"test/artifact/{source.artifacts['clean_data#1']}"
    ingest1 = f"test/execution/{source.executions[demo.DEMO_KFP_RUN_ID]['ingest']}"
    raw = f"test/artifact/{source.artifacts['raw']}"
    assert {train2, clean1, ingest1, raw} <= ids
    # Through run 1's ingest, which produced the data run 2's cached ingest reused: the earlier run is there.
    assert f"test/run/{demo.DEMO_KFP_RUN_ID}" in ids
    # The cached execution reused the data; it is downstream of it, not upstream of the model.
    cached2 = f"test/execution/{source.executions[run2_id]['ingest']}"
    assert cached2 not in ids
    by_id = {n.pk: n.source_id for n in up.nodes}
    depth = {by_id[k]: v for k, v in up.depth_of.items()}
    assert depth[train2] < depth[clean1] < depth[ingest1] < depth[raw]


def test_reharvest_changes_nothing(server, source):
    harvest(settings_for(server, source))
    before = snapshot()
    counts = (Node.objects.count(), Edge.objects.count(), RawRecord.objects.count())
    second = harvest(settings_for(server, source))
    assert second.status == "succeeded"
    assert second.counts["nodes_created"] == second.counts["nodes_updated"] == second.counts["edges_created"] == 0
    assert second.counts["raw_created"] == 0
    assert snapshot() == before
    assert (Node.objects.count(), Edge.objects.count(), RawRecord.objects.count()) == counts
    # Incremental: the second harvest read no MLMD execution and no already-seen run again.
    assert second.counts["read"].get("executions", 0) == 0
    assert second.counts["read"].get("runs", 0) == 0


def test_a_run_that_finished_since_is_updated_and_new_runs_are_added(server, source):
    running = dict(source.runs[0], run_id="late-run-1", display_name="late", state="RUNNING",
                   created_at="2026-11-02T08:00:00Z", state_history=[{"update_time": "2026-11-02T08:00:00Z",
                                                                      "state": "RUNNING"}])
    running.pop("finished_at", None)
    server.state.runs.append(running)
    harvest(settings_for(server, source))
    assert node("run", "run/late-run-1").properties["state"] == "RUNNING"

    running.update(state="SUCCEEDED", finished_at="2026-11-02T09:00:00Z")
    running["state_history"] = running["state_history"] + [{"update_time": "2026-11-02T09:00:00Z", "state": "SUCCEEDED"}]
    server.state.runs.append(dict(source.runs[1], run_id="new-run-2", created_at="2026-11-03T08:00:00Z"))
    second = harvest(settings_for(server, source))
    late = node("run", "run/late-run-1")
    assert late.properties["state"] == "SUCCEEDED"
    assert late.properties["finished_at"] == "2026-11-02T09:00:00Z"
    assert late.revisions.count() == 2  # the RUNNING revision is kept as history
    assert node("run", "run/new-run-2").properties["state"] == "SUCCEEDED"
    assert second.counts["read"]["runs"] == 1
    assert "late-run-1" not in second.cursor_after["api"]["open_runs"]


def test_a_running_run_deleted_in_kfp_is_marked_and_no_longer_polled(server, source):
    running = dict(source.runs[0], run_id="doomed-run", state="RUNNING", created_at="2026-11-04T08:00:00Z")
    running.pop("finished_at", None)
    server.state.runs.append(running)
    first = harvest(settings_for(server, source))
    assert "doomed-run" in first.cursor_after["api"]["open_runs"]
    server.state.runs.remove(running)
    second = harvest(settings_for(server, source))
    assert second.status == "succeeded"
    assert "doomed-run" not in second.cursor_after["api"]["open_runs"]
    doomed = node("run", "run/doomed-run")
    assert doomed.properties["deleted_in_source"] is True and doomed.properties["state"] == "RUNNING"
