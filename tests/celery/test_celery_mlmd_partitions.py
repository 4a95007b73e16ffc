"""ML Metadata executions harvested as partitions: the plan lists the executions changed since the cursor and
cuts them into chunks, each mapped by a partition exactly as the executions stream maps a page, while the
`rest` partition leaves them (and the artefacts they map) alone. The store after a partitioned harvest must
be the classic single-process harvest's, row for row: nodes with their final properties and first-seen
times, every edge (open or closed), every raw record and the number of revisions per node (a property two
partitions write with the same value is one revision, not two). A partition run twice, a harvest that dies
half-way and is run again, and an incremental harvest after ML Metadata changed all end in that same store,
and the executions position moves only once every partition has landed."""
import os
import shutil

import pytest

from connectors import registry, tasks
from connectors.base import HarvestError
from devtools.kubeflow import demo
from devtools.kubeflow.fake_api import FakeKfpServer
from connectors.kubeflow.metadata import MlmdReader
from devtools.kubeflow.testing import FAST_RETRY, harvest
from connectors.models import ConnectorConfig, Harvest, HarvestCursor
from lineage.models import Node, NodeRevision
from tests.conftest import wipe_harvested
from tests.support.stores import store_digest

pytestmark = pytest.mark.django_db
NAME = "kfp-mlmd-parts"
RUNS = 9  # 10 runs with the seed run (root + importer): 2 + 4 * 9 = 38 executions







@pytest.fixture
def served(tmp_path):
    source = demo.generate_bulk(tmp_path / "mlmd.sqlite", RUNS)
    with FakeKfpServer.serving(source) as server:
        yield source, server


def _settings(source, server) -> dict:
    return {"kfp_host": server.url, "mlmd_sqlite": str(source.mlmd_path), "api_page_size": 3, "mlmd_page_size": 4,
            "instance": NAME, **FAST_RETRY}


def _classic(source, server):
    """The classic single-process harvest's store digest and cursor, then an empty store."""
    done = harvest(_settings(source, server))
    expected = (store_digest(), HarvestCursor.objects.get(key=done.source_key).cursor)
    wipe_harvested()
    return expected


def _partitioned():
    result = tasks.harvest_task.delay(NAME, {"username": "ops"}).get()
    done = Harvest.objects.get(pk=result["harvest"])
    assert done.status == "succeeded", done.error
    return done, HarvestCursor.objects.get(key=done.source_key).cursor


def _executions(source) -> int:
    return len(MlmdReader.from_settings({"mlmd_sqlite": str(source.mlmd_path)}).execution_positions_after(None))


def test_a_partitioned_harvest_stores_what_the_classic_harvest_stores(served, settings):
    source, server = served
    digest, cursor = _classic(source, server)
    settings.HARVEST_PARTITION_RUNS, settings.HARVEST_PARTITION_EXECUTIONS = 4, 5
    ConnectorConfig.objects.create(name=NAME, kind="kubeflow", settings=_settings(source, server))
    done, after = _partitioned()
    executions = _executions(source)
    assert executions == 2 + 4 * RUNS
    parts = done.counts["partitions"]
    assert parts["total"] == 1 + -(-(RUNS + 1) // 4) + -(-executions // 5)
    assert done.counts["read"]["executions"] == executions
    assert store_digest() == digest
    # Every position ends where the classic harvest's ends, the executions position included.
    assert after == cursor and after["mlmd"]["executions"] == parts["executions_position"]
    # Nothing changed since: the next harvest plans no executions partition and changes nothing.
    again, _ = _partitioned()
    assert again.counts["partitions"]["total"] == 1 and again.counts["read"].get("executions", 0) == 0
    assert again.counts["nodes_created"] == again.counts["nodes_updated"] == 0
    assert store_digest() == digest


def test_the_rest_partition_leaves_the_executions_and_their_artefacts_to_the_partitions(served, settings):
    source, server = served
    settings.HARVEST_PARTITION_EXECUTIONS = 10
    ConnectorConfig.objects.create(name=NAME, kind="kubeflow", settings=_settings(source, server))
    done, _ = _partitioned()
    assert done.counts["read"]["executions"] == _executions(source)  # each execution mapped once
    # Every artefact hangs off a harvested execution and is older than the last one: the artefacts stream
    # (in the rest partition) maps none of them again.
    assert done.counts["read"]["artifacts_updated"] == 0


def test_a_redelivered_executions_partition_changes_nothing(served, settings):
    source, server = served
    digest, cursor = _classic(source, server)
    settings.HARVEST_PARTITION_EXECUTIONS = 6
    config = ConnectorConfig.objects.create(name=NAME, kind="kubeflow", settings=_settings(source, server))
    harvest_row = tasks.claim(config).harvest
    specs = tasks.plan(config, harvest_row)
    chunks = [s for s in specs if s["part"] == "executions"]
    assert len(chunks) >= 2
    # A worker stored two partitions' facts and died before marking either done: both come back, and every
    # partition then runs (the redelivered ones a second time).
    plugin = registry.plugin("kubeflow")
    connector = plugin.from_config(config)
    for spec in chunks[:2]:
        plugin.run_partition(connector, spec, tasks._apply_pages, tasks._atomically)
    for spec in specs[:-1]:
        tasks.run_partition(harvest_row.pk, spec)
    # A duplicate delivery after the partition was marked done is answered without running it.
    assert tasks.run_partition(harvest_row.pk, chunks[0]) == {"status": "done", "harvest": harvest_row.pk,
                                                              "partition": chunks[0]["index"]}
    assert tasks.run_partition(harvest_row.pk, specs[-1])["status"] == "succeeded"
    harvest_row.refresh_from_db()
    assert harvest_row.status == "succeeded"
    assert store_digest() == digest
    assert HarvestCursor.objects.get(key=harvest_row.source_key).cursor == cursor


def test_a_harvest_failed_half_way_is_rerun_to_the_same_store(served, settings, monkeypatch):
    source, server = served
    digest, cursor = _classic(source, server)
    settings.HARVEST_PARTITION_EXECUTIONS = 5
    ConnectorConfig.objects.create(name=NAME, kind="kubeflow", settings=_settings(source, server))
    real = MlmdReader.execution_batch_by_ids
    calls = {"n": 0}

    def flaky(self, ids):
        calls["n"] += 1
        if calls["n"] == 4:  # the fourth batch: some partitions landed, the rest never run
            raise HarvestError("ML Metadata went away")
        return real(self, ids)

    monkeypatch.setattr(MlmdReader, "execution_batch_by_ids", flaky)
    with pytest.raises(HarvestError):
        tasks.harvest_task.delay(NAME).get()
    failed = Harvest.objects.get()
    assert failed.status == "failed" and "went away" in failed.error
    assert 0 < Node.objects.filter(source_id__contains="/execution/").count() < _executions(source)
    stored = HarvestCursor.objects.filter(key=failed.source_key).first()
    assert stored is None or "executions" not in stored.cursor.get("mlmd", {})  # not all landed: not moved
    monkeypatch.setattr(MlmdReader, "execution_batch_by_ids", real)
    _partitioned()
    assert store_digest() == digest
    assert HarvestCursor.objects.get(key=failed.source_key).cursor == cursor


def _change_metadata(path):
    """ML Metadata moves on: one task of an existing run is re-published (a newer update time, a new output)
    and a new task runs in it. Returns nothing; the file at `path` is changed in place."""
    from ml_metadata.proto import metadata_store_pb2 as pb

    writer = demo.KfpMetadataWriter(path)
    run_id = demo._uid("run", "bulk-training", 2)
    contexts = [writer.store.get_context_by_type_and_name("system.Pipeline", "bulk-training"),
                writer.store.get_context_by_type_and_name("system.PipelineRun", run_id)]
    executions = writer.store.get_executions_by_context(contexts[1].id)
    root = next(e for e in executions if e.name == f"run/{run_id}")
    train = next(e for e in executions if e.custom_properties["task_name"].string_value == "train")
    extra = writer.artifact("system.Dataset", f"minio://mlpipeline/bulk/{run_id}/train/importance", "importance",
                            {"rows": 7})
    writer.publish(train, contexts, outputs={"parameterValues": {"best_iteration": 41}},
                   output_artifacts=[("importance", extra)])
    model = writer.store.get_artifacts_by_uri(f"minio://mlpipeline/bulk/{run_id}/model")[0]
    task = writer.start("system.ContainerExecution", contexts, task_name="explain", parent_dag_id=root.id,
                        input_artifacts=[("model", model)])
    writer.publish(task, contexts, output_artifacts=[("shap", writer.artifact(
        "system.Dataset", f"minio://mlpipeline/bulk/{run_id}/explain/shap", "shap"))])
    assert train.last_known_state == pb.Execution.COMPLETE


def test_an_incremental_harvest_after_new_executions_matches_the_classic_one(served, settings, tmp_path):
    source, server = served
    before, after = tmp_path / "before.sqlite", tmp_path / "after.sqlite"
    shutil.copy(source.mlmd_path, before)
    _change_metadata(source.mlmd_path)
    shutil.copy(source.mlmd_path, after)
    live = tmp_path / "live.sqlite"

    def state(path):  # the source as it was, then as it is (a new file: readers of the old one keep theirs)
        shutil.copy(path, tmp_path / "next.sqlite")
        os.replace(tmp_path / "next.sqlite", live)

    sets = {**_settings(source, server), "mlmd_sqlite": str(live)}
    state(before)
    harvest(sets)
    state(after)
    second = harvest(sets)
    expected = (store_digest(), HarvestCursor.objects.get(key=second.source_key).cursor)
    wipe_harvested()

    settings.HARVEST_PARTITION_EXECUTIONS = 3
    ConnectorConfig.objects.create(name=NAME, kind="kubeflow", settings=sets)
    state(before)
    first, first_cursor = _partitioned()
    state(after)
    incremental, cursor = _partitioned()
    parts = incremental.counts["partitions"]
    assert incremental.counts["read"]["executions"] == 2  # the re-published task and the new one, nothing else
    assert parts["total"] == 1 + 1  # the rest and one executions partition (no new API run)
    assert cursor["mlmd"]["executions"] > first_cursor["mlmd"]["executions"]
    assert (store_digest(), cursor) == expected


def test_an_artefact_updated_after_the_plan_is_not_skipped_by_the_rest_partition(served, settings):
    """The rest partition skips the artefacts the executions partitions map, but only those not updated since
    the plan listed the executions: one updated after the executions partitions read it is mapped by the rest
    partition, and the store ends with the update, not the value the partitions saw."""
    source, server = served
    settings.HARVEST_PARTITION_EXECUTIONS = 7
    config = ConnectorConfig.objects.create(name=NAME, kind="kubeflow", settings=_settings(source, server))
    harvest_row = tasks.claim(config).harvest
    specs = tasks.plan(config, harvest_row)
    rest = [spec for spec in specs if spec["part"] == "rest"]
    for spec in specs:
        if spec["part"] != "rest":
            tasks.run_partition(harvest_row.pk, spec)
    writer = demo.KfpMetadataWriter(source.mlmd_path)
    run_id = demo._uid("run", "bulk-training", 3)
    [metrics] = writer.store.get_artifacts_by_uri(f"minio://mlpipeline/bulk/{run_id}/metrics")
    node = Node.objects.get(source_id=f"{NAME}/artifact/{metrics.id}")
    assert "recomputed" not in node.properties  # the executions partition stored it as the plan saw it
    writer._set(metrics.custom_properties, {"accuracy": 0.99, "recomputed": True})
    writer.store.put_artifacts([metrics])
    assert tasks.run_partition(harvest_row.pk, rest[0])["status"] == "succeeded"
    harvest_row.refresh_from_db()
    # The updated one, plus any artefact whose update time is the plan's last execution's own millisecond (not
    # provably older than the plan, so read again: harmless, facts are idempotent). On a fast machine the
    # generator writes some in that millisecond.
    upto_ms = rest[0]["executions"]["upto"][0]
    at_plan_ms = sum(1 for a in writer.store.get_artifacts()
                     if a.last_update_time_since_epoch >= upto_ms and a.id != metrics.id)
    assert harvest_row.counts["read"]["artifacts_updated"] == 1 + at_plan_ms
    node.refresh_from_db()
    assert node.properties["accuracy"] == 0.99 and node.properties["recomputed"] is True
    assert NodeRevision.objects.filter(node=node).count() == 2
