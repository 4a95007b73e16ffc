"""The harvest tasks in the embedded default (no broker: Celery runs them in-process): the same partitioned
path the workers take stores what a plain harvest stores, one harvest of a connector at a time (a second
start is refused with "already running" and audited), a failed partition fails the harvest without moving
the cursor past runs it did not store, and a harvest abandoned by a dead worker stops holding the lock."""
import datetime as dt

import pytest
from django.utils import timezone

from connectors import tasks
from devtools.kubeflow import demo
from devtools.kubeflow.fake_api import FakeKfpServer
from devtools.kubeflow.testing import FAST_RETRY, harvest, snapshot
from connectors.models import ConnectorConfig, Harvest, HarvestCursor
from governance.audit.models import AuditEntry
from lineage.models import Node
from tests.conftest import wipe_harvested

pytestmark = pytest.mark.django_db
NAME = "kfp-tasks"
RUNS = 7


@pytest.fixture
def served(tmp_path):
    source = demo.generate_bulk(tmp_path / "mlmd.sqlite", RUNS)
    with FakeKfpServer.serving(source) as server:
        yield source, server


def _settings(source, server):
    return {"kfp_host": server.url, "mlmd_sqlite": str(source.mlmd_path), "api_page_size": 3, "mlmd_page_size": 4,
            **FAST_RETRY}




def _expected(source, server):
    harvest({**_settings(source, server), "instance": NAME})
    expected = snapshot()
    wipe_harvested()
    return expected


def test_the_partitioned_task_stores_what_a_plain_harvest_stores(served, settings):
    source, server = served
    expected = _expected(source, server)
    settings.HARVEST_PARTITION_RUNS, settings.HARVEST_PARTITION_EXECUTIONS = 2, 8
    config = ConnectorConfig.objects.create(name=NAME, kind="kubeflow", settings=_settings(source, server))
    result = tasks.harvest_task.delay(NAME, {"username": "ops", "request_id": "r-1"}).get()
    # The rest, 8 runs in chunks of 2 and 30 ML Metadata executions (root + importer of the seed run, 4 per
    # run) in chunks of 8.
    assert result["status"] == "started" and result["partitions"] == 1 + 4 + 4
    done = Harvest.objects.get(pk=result["harvest"])
    assert done.status == "succeeded" and done.connector == config
    assert done.counts["partitions"]["done"] == list(range(9))
    assert done.counts["read"]["runs"] == RUNS + 1 and done.counts["read"]["executions"] == 2 + 4 * RUNS
    assert snapshot() == expected
    entry = AuditEntry.objects.get(action="harvest.succeeded", object_id=str(done.pk))
    # No user behind it (a schedule, a script): the service is the actor; the request id is kept.
    assert entry.actor_username == "harvester:kubeflow" and entry.request_id == "r-1"
    # Only now the runs position moved: the next harvest reads no run again and adds nothing.
    cursor = HarvestCursor.objects.get(key=done.source_key).cursor
    assert cursor["api"]["runs"]["id"] and cursor["api"]["open_runs"] == []
    assert cursor["mlmd"]["executions"] == done.counts["partitions"]["executions_position"]
    again = Harvest.objects.get(pk=tasks.harvest_task.delay(NAME).get()["harvest"])
    assert again.status == "succeeded" and again.counts["read"].get("runs", 0) == 0
    assert again.counts["read"].get("executions", 0) == 0 and again.counts["partitions"]["total"] == 1
    assert again.counts["nodes_created"] == 0 and snapshot() == expected


def test_a_second_start_while_one_runs_is_refused_and_audited(served, users):
    source, server = served
    config = ConnectorConfig.objects.create(name=NAME, kind="kubeflow", settings=_settings(source, server))
    holder = tasks.claim(config, {"username": "first"})
    assert not holder.refused
    second = users["admin"]
    result = tasks.harvest_task.delay(NAME, {"user_id": second.pk, "username": second.username}).get()
    assert result == {"status": "already_running", "connector": NAME, "harvest": holder.harvest.pk}
    assert Harvest.objects.count() == 1 and not Node.objects.exists()
    refused = AuditEntry.objects.get(action="harvest.refused")
    assert refused.actor_id == second.pk and refused.after["running_harvest"] == holder.harvest.pk


def test_a_harvest_older_than_the_lock_ttl_is_abandoned_and_the_new_one_runs(served, settings):
    source, server = served
    settings.HARVEST_LOCK_TTL = 60
    config = ConnectorConfig.objects.create(name=NAME, kind="kubeflow", settings=_settings(source, server))
    stale = tasks.claim(config).harvest
    Harvest.objects.filter(pk=stale.pk).update(started_at=timezone.now() - dt.timedelta(seconds=61))
    result = tasks.harvest_task.delay(NAME).get()
    assert result["status"] == "started"
    stale.refresh_from_db()
    assert stale.status == "failed" and stale.error.startswith("abandoned")
    assert Harvest.objects.get(pk=result["harvest"]).status == "succeeded"
    assert AuditEntry.objects.filter(action="harvest.abandoned", object_id=str(stale.pk)).exists()


def test_a_failed_partition_fails_the_harvest_and_the_next_one_loses_nothing(served, settings):
    source, server = served
    expected = _expected(source, server)
    settings.HARVEST_PARTITION_RUNS = 3
    ConnectorConfig.objects.create(name=NAME, kind="kubeflow", settings=_settings(source, server))
    # The fifth run read by id is refused outright (a permanent error: no retry can fix it).
    server.inject(r"/runs/[^/]+$", status=403, skip=4, times=1)
    with pytest.raises(Exception):
        tasks.harvest_task.delay(NAME).get()
    failed = Harvest.objects.get()
    assert failed.status == "failed" and "403" in failed.error
    assert failed.counts["partitions"]["state"] == "failed"
    assert AuditEntry.objects.filter(action="harvest.failed", object_id=str(failed.pk)).exists()
    cursor = HarvestCursor.objects.filter(key=failed.source_key).first()
    assert cursor is None or "runs" not in cursor.cursor.get("api", {})  # runs not all stored: not passed
    assert cursor is None or "executions" not in cursor.cursor.get("mlmd", {})  # nor the executions
    # The lock is free again and the next harvest stores everything.
    result = tasks.harvest_task.delay(NAME).get()
    assert Harvest.objects.get(pk=result["harvest"]).status == "succeeded"
    assert snapshot() == expected


def test_disabled_and_unknown_connectors_are_not_harvested(served):
    source, server = served
    ConnectorConfig.objects.create(name=NAME, kind="kubeflow", settings=_settings(source, server), enabled=False)
    assert tasks.harvest_task.delay(NAME).get() == {"status": "disabled", "connector": NAME}
    assert tasks.harvest_task.delay("nosuch").get() == {"status": "unknown_connector", "connector": "nosuch"}
    assert not Harvest.objects.exists()
