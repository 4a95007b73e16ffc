"""Harvests on REAL Celery workers: `celery -A governance.celery worker` subprocesses on the real Redis broker
(127.0.0.1:6379 db 15, a queue of their own per test) against the test's PostgreSQL database, a fake KFP API
served from this process and a generated ML Metadata store.

What must hold: a harvest on a worker stores exactly what an in-process harvest stores (the classic
single-process harvest's store digest: tests.support.stores.store_digest); two workers sharing
its partitions (KFP runs and ML Metadata executions) store it once (no duplicate, nothing lost); a worker
killed with SIGKILL in the middle of a partition (its pool process, or the whole worker) leaves, once the task
is run again, the identical store.
PostgreSQL only: the workers are separate processes and must see the test database."""
from __future__ import annotations

import os
import signal

import pytest

from devtools.kubeflow import demo
from devtools.kubeflow.fake_api import FakeKfpServer
from devtools.kubeflow.testing import FAST_RETRY, harvest, snapshot
from connectors.models import ConnectorConfig, Harvest, HarvestCursor
from lineage.models import Edge, Node, RawRecord
from tests.conftest import wipe_harvested
from tests.support.stores import store_digest
from tests.support.workers import BROKER, send_task, wait_for

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]
RUNS = 24
PARTITION_EXECUTIONS = 10  # 98 executions (2 of the seed run, 4 per run): 10 partitions
NAME = "celery-kfp"


@pytest.fixture
def source_and_api(tmp_path):
    source = demo.generate_bulk(tmp_path / "mlmd.sqlite", RUNS)
    with FakeKfpServer.serving(source) as server:
        yield source, server


def _settings(source, server) -> dict:
    return {"kfp_host": server.url, "mlmd_sqlite": str(source.mlmd_path), "api_page_size": 5, "mlmd_page_size": 10,
            **FAST_RETRY}


def _expected(source, server):
    """The store an in-process harvest leaves, then an empty store for the worker to fill."""
    harvest({**_settings(source, server), "instance": NAME})
    expected = snapshot()
    counts = (Node.objects.count(), Edge.objects.count(), RawRecord.objects.count(), store_digest())
    wipe_harvested()
    return expected, counts


def _counts():
    return Node.objects.count(), Edge.objects.count(), RawRecord.objects.count(), store_digest()


def _finished(connector: ConnectorConfig):
    return lambda: Harvest.objects.filter(connector=connector).exclude(status="running").exists()


def test_a_harvest_on_a_worker_stores_what_an_in_process_harvest_stores(transactional_db, source_and_api, workers,
                                                                         broker_queue):
    source, server = source_and_api
    expected, counts = _expected(source, server)
    config = ConnectorConfig.objects.create(name=NAME, kind="kubeflow", settings=_settings(source, server))
    worker = workers("solo")
    send_task(BROKER, broker_queue, NAME, {"username": "admin", "request_id": "req-celery-1"})
    wait_for(_finished(config), "the harvest", [worker])
    done = Harvest.objects.get(connector=config)
    assert done.status == "succeeded", done.error
    assert done.actor == "harvester:kubeflow" and done.request_id == "req-celery-1"
    parts = done.counts["partitions"]
    executions = 2 + 4 * RUNS
    assert parts["total"] == 1 + -(-(RUNS + 1) // 3) + -(-executions // PARTITION_EXECUTIONS)
    assert parts["done"] == list(range(parts["total"]))
    assert done.counts["read"]["runs"] == RUNS + 1 and done.counts["read"]["executions"] == executions
    assert snapshot() == expected
    assert _counts() == counts
    cursor = HarvestCursor.objects.get(key=done.source_key).cursor
    assert cursor["mlmd"]["executions"] == parts["executions_position"]
    # The cursor moved past every run only now: a second harvest finds nothing new and changes nothing.
    send_task(BROKER, broker_queue, NAME, None)
    wait_for(lambda: Harvest.objects.filter(connector=config).count() == 2 and _finished(config)()
          and not Harvest.objects.filter(status="running").exists(), "the second harvest", [worker])
    again = Harvest.objects.filter(connector=config).order_by("-pk").first()
    assert again.status == "succeeded", again.error
    assert again.counts["read"].get("runs", 0) == 0 and again.counts["nodes_created"] == 0
    assert snapshot() == expected


def test_two_workers_share_the_partitions_without_duplicates(transactional_db, source_and_api, workers, broker_queue):
    source, server = source_and_api
    expected, counts = _expected(source, server)
    config = ConnectorConfig.objects.create(name=NAME, kind="kubeflow", settings=_settings(source, server))
    # Each GET of a run stalls a little, so partitions are still queued when the second worker asks for work.
    server.inject(r"/runs/[^/]+$", status=0, delay=0.1, times=10_000)
    first, second = workers("one"), workers("two")
    send_task(BROKER, broker_queue, NAME, None)
    wait_for(_finished(config), "the harvest", [first, second])
    done = Harvest.objects.get(connector=config)
    assert done.status == "succeeded", done.error
    assert snapshot() == expected
    assert _counts() == counts
    ran = [w.output().count(b"Task connectors.harvest_partition[") // 2 for w in (first, second)]
    assert all(ran), f"partitions run per worker: {ran}"  # both took a share
    assert done.counts["partitions"]["total"] > 2


@pytest.mark.parametrize("victim", ["pool-process", "whole-worker"])
def test_a_worker_killed_mid_partition_leaves_the_identical_store(transactional_db, source_and_api, workers,
                                                                   broker_queue, victim):
    source, server = source_and_api
    expected, counts = _expected(source, server)
    config = ConnectorConfig.objects.create(name=NAME, kind="kubeflow", settings=_settings(source, server))
    server.inject(r"/runs/[^/]+$", status=0, delay=0.3, times=10_000)
    # A short visibility timeout so a task of a worker killed outright comes back within seconds.
    options = '{"visibility_timeout": 4, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}'
    worker = workers("victim", transport_options=options)
    send_task(BROKER, broker_queue, NAME, None)
    started = server.requests.__len__
    before = started()
    # Mid-partition: the worker is waiting on a GET of a run.
    wait_for(lambda: any("/runs/" in r and r.count("/") >= 4 for r in server.requests[before:]), "a partition to start",
          [worker])
    if victim == "pool-process":
        children = worker.pool_children()
        assert children, worker.output().decode(errors="replace")
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        # The worker notices, hands the task back to the queue (acks_late + reject_on_worker_lost), runs it again.
        wait_for(_finished(config), "the harvest", [worker], timeout=90)
        assert b"SIGKILL" in worker.output() or b"WorkerLostError" in worker.output()
    else:
        worker.kill_all()
        assert Harvest.objects.get(connector=config).status == "running"
        replacement = workers("replacement", transport_options=options)
        wait_for(_finished(config), "the harvest", [replacement], timeout=90)
    done = Harvest.objects.get(connector=config)
    assert done.status == "succeeded", done.error
    assert snapshot() == expected
    assert _counts() == counts
