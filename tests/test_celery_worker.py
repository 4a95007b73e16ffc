"""Harvests on REAL Celery workers: `celery -A governance.celery worker` subprocesses on the real Redis broker
(127.0.0.1:6379 db 15, a queue of their own per test) against the test's PostgreSQL database, a fake KFP API
served from this process and a generated ML Metadata store.

What must hold: a harvest on a worker stores exactly what an in-process harvest stores (the classic
single-process harvest's store digest: tests.test_celery_mlmd_partitions.store_digest); two workers sharing
its partitions (KFP runs and ML Metadata executions) store it once (no duplicate, nothing lost); a worker
killed with SIGKILL in the middle of a partition (its pool process, or the whole worker) leaves, once the task
is run again, the identical store.
PostgreSQL only: the workers are separate processes and must see the test database."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from connectors.kubeflow import demo
from connectors.kubeflow.fake_api import FakeKfpServer
from connectors.kubeflow.testing import FAST_RETRY, harvest, snapshot
from connectors.models import ConnectorConfig, Harvest, HarvestCursor
from lineage.models import Edge, Node, RawRecord
from tests.conftest import wipe_harvested
from tests.test_celery_mlmd_partitions import store_digest

pytestmark = pytest.mark.postgres_only
ROOT = Path(__file__).resolve().parents[1]
BROKER = os.environ.get("LL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RUNS = 24
PARTITION_EXECUTIONS = 10  # 98 executions (2 of the seed run, 4 per run): 10 partitions
NAME = "celery-kfp"


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"




class Worker:
    """One `celery worker` process (its own session, so it and its pool can be killed as a group)."""

    def __init__(self, queue: str, tmp: Path, label: str, *, transport_options: str = ""):
        self.log_path = tmp / f"worker-{label}.log"
        self.name = f"{label}-{uuid.uuid4().hex[:6]}@%h"
        env = {**os.environ, "CELERY_BROKER_URL": BROKER, "CELERY_TASK_ALWAYS_EAGER": "0", "CELERY_QUEUE": queue,
               "DATABASE_URL": _database_url(), "LL_DATA_DIR": str(tmp), "HARVEST_PARTITION_RUNS": "3",
               "HARVEST_PARTITION_EXECUTIONS": str(PARTITION_EXECUTIONS),
               "CELERY_BROKER_TRANSPORT_OPTIONS": transport_options,
               # The same keys as this process: connector secrets decrypt, audit entries chain alike.
               "SECRET_KEY": settings.SECRET_KEY, "CONNECTOR_SECRET_KEY": settings.CONNECTOR_SECRET_KEY,
               "AUDIT_HMAC_KEY": settings.AUDIT_HMAC_KEY,
               "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"}  # the tests' webhook receivers are local
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "governance.celery", "worker", "-l", "INFO", "-P", "prefork",
             "-c", "1", "-Q", queue, "-n", self.name, "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        try:
            while b" ready." not in self.output():
                assert self.process.poll() is None, self.output().decode(errors="replace")
                assert time.monotonic() < deadline, "worker not ready in 60 s:\n" + self.output().decode(errors="replace")
                time.sleep(0.2)
        except BaseException:  # never leave a half-started worker behind
            self.stop()
            raise

    def output(self) -> bytes:
        return self.log_path.read_bytes()

    def pool_children(self) -> list[int]:
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return children

    def kill_all(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # warm shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        self.kill_all()
        self.log.close()


@pytest.fixture
def broker_queue():
    """A queue name of this test's own on db 15, removed afterwards (nothing else there is touched)."""
    import redis

    client = redis.Redis.from_url(BROKER)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis broker at {BROKER}: {exc}")
    queue = f"ll-test-{uuid.uuid4().hex[:10]}"
    yield queue
    client.delete(queue)
    client.close()


@pytest.fixture
def workers(tmp_path, broker_queue):
    started: list[Worker] = []

    def start(label: str, **kwargs) -> Worker:
        worker = Worker(broker_queue, tmp_path, label, **kwargs)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def source_and_api(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the workers need a database they can share with the test: run with DATABASE_URL=postgres://…")
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


def _send(queue: str, *args) -> None:
    from celery import Celery

    client = Celery("ll-test-client", broker=BROKER)
    client.conf.broker_connection_retry_on_startup = True
    try:
        client.send_task("connectors.harvest", args=list(args), queue=queue)
    finally:
        client.close()


def _wait(condition, what: str, workers=(), timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(w.output().decode(errors="replace")[-3000:] for w in workers)
            pytest.fail(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.1)


def _finished(connector: ConnectorConfig):
    return lambda: Harvest.objects.filter(connector=connector).exclude(status="running").exists()


def test_a_harvest_on_a_worker_stores_what_an_in_process_harvest_stores(transactional_db, source_and_api, workers,
                                                                         broker_queue):
    source, server = source_and_api
    expected, counts = _expected(source, server)
    config = ConnectorConfig.objects.create(name=NAME, kind="kubeflow", settings=_settings(source, server))
    worker = workers("solo")
    _send(broker_queue, NAME, {"username": "admin", "request_id": "req-celery-1"})
    _wait(_finished(config), "the harvest", [worker])
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
    _send(broker_queue, NAME, None)
    _wait(lambda: Harvest.objects.filter(connector=config).count() == 2 and _finished(config)()
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
    _send(broker_queue, NAME, None)
    _wait(_finished(config), "the harvest", [first, second])
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
    _send(broker_queue, NAME, None)
    started = server.requests.__len__
    before = started()
    # Mid-partition: the worker is waiting on a GET of a run.
    _wait(lambda: any("/runs/" in r and r.count("/") >= 4 for r in server.requests[before:]), "a partition to start",
          [worker])
    if victim == "pool-process":
        children = worker.pool_children()
        assert children, worker.output().decode(errors="replace")
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        # The worker notices, hands the task back to the queue (acks_late + reject_on_worker_lost), runs it again.
        _wait(_finished(config), "the harvest", [worker], timeout=90)
        assert b"SIGKILL" in worker.output() or b"WorkerLostError" in worker.output()
    else:
        worker.kill_all()
        assert Harvest.objects.get(connector=config).status == "running"
        replacement = workers("replacement", transport_options=options)
        _wait(_finished(config), "the harvest", [replacement], timeout=90)
    done = Harvest.objects.get(connector=config)
    assert done.status == "succeeded", done.error
    assert snapshot() == expected
    assert _counts() == counts
