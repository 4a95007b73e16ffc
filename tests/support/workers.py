"""Real Celery workers and a real gunicorn as subprocesses, on the real Redis broker, for the tests that
check what crosses a process boundary (harvests, bundle builds and webhooks on workers, killed workers).

Registered as a pytest plugin by tests/conftest.py: the fixtures `broker_url`, `broker_queue`, `workers`
and `web` are available to every test. A module that must not share a Redis database with the others
overrides `broker_url` (the archive and Viya killed-worker modules use SECOND_BROKER). These tests need a
database the subprocesses share with the test: PostgreSQL."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("LL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SECOND_BROKER = os.environ.get("LL_TEST_ARCHIVE_REDIS_URL", "redis://127.0.0.1:6379/13")
PARTITION_EXECUTIONS = 10  # ML Metadata executions per harvest partition on the workers


def database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_env(tmp: Path, queue: str, broker: str, **extra: str) -> dict:
    """The environment of a subprocess of the service: this test's database, broker queue and keys (connector
    secrets decrypt, audit entries chain alike)."""
    return {**os.environ, "CELERY_BROKER_URL": broker, "CELERY_TASK_ALWAYS_EAGER": "0", "CELERY_QUEUE": queue,
            "DATABASE_URL": database_url(), "LL_DATA_DIR": str(tmp), "SECRET_KEY": settings.SECRET_KEY,
            "CONNECTOR_SECRET_KEY": settings.CONNECTOR_SECRET_KEY, "AUDIT_HMAC_KEY": settings.AUDIT_HMAC_KEY,
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",  # the tests' webhook receivers are local
            **extra}


class Worker:
    """One `celery worker` process (its own session, so it and its pool can be killed as a group)."""

    def __init__(self, queue: str, tmp: Path, label: str, *, broker: str = BROKER, transport_options: str = ""):
        self.log_path = tmp / f"worker-{label}.log"
        self.name = f"{label}-{uuid.uuid4().hex[:6]}@%h"
        env = worker_env(tmp, queue, broker, HARVEST_PARTITION_RUNS="3",
                         HARVEST_PARTITION_EXECUTIONS=str(PARTITION_EXECUTIONS),
                         CELERY_BROKER_TRANSPORT_OPTIONS=transport_options)
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


def forget_queue(client, queue: str) -> None:
    """Remove every key this queue left on the broker, and only those: its list, its exchange binding and
    the unacknowledged messages routed to it (a killed worker's task waits there for its visibility
    timeout); other queues' entries in the shared `unacked` hash are left alone."""
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    for tag, raw in client.hscan_iter("unacked"):
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


def send_task(broker: str, queue: str, *args, name: str = "connectors.harvest") -> None:
    from celery import Celery

    client = Celery("ll-test-client", broker=broker)
    client.conf.broker_connection_retry_on_startup = True
    try:
        client.send_task(name, args=list(args), queue=queue)
    finally:
        client.close()


def wait_for(condition, what: str, workers=(), timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            logs = "\n".join(w.output().decode(errors="replace")[-3000:] for w in workers)
            pytest.fail(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.1)
    return result


@pytest.fixture
def broker_url():
    return BROKER


@pytest.fixture
def broker_queue(broker_url):
    """A queue name of this test's own, removed afterwards with all it left (nothing else is touched)."""
    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis broker at {broker_url}: {exc}")
    queue = f"ll-test-{uuid.uuid4().hex[:10]}"
    yield queue
    forget_queue(client, queue)
    client.close()


@pytest.fixture
def workers(tmp_path, broker_queue, broker_url):
    started: list[Worker] = []

    def start(label: str, **kwargs) -> Worker:
        worker = Worker(broker_queue, tmp_path, label, broker=broker_url, **kwargs)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def web(request, tmp_path, broker_queue, broker_url):
    """gunicorn with two processes, as `make serve-prod` runs it; `@pytest.mark.parametrize("web", [url],
    indirect=True)` gives it another broker (an unreachable one, say)."""
    if connection.vendor != "postgresql":
        pytest.skip("gunicorn and the worker need a database they share with the test: DATABASE_URL=postgres://…")
    broker = getattr(request, "param", broker_url)
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "governance.wsgi", "--workers", "2", "--worker-class", "gthread",
         "--threads", "4", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT, env=worker_env(tmp_path, broker_queue, broker), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/api/health/", timeout=10).status_code < 500:
                    break
            except requests.RequestException:  # not listening yet, or a worker still booting
                pass
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "gunicorn did not answer in 60 s"
            time.sleep(0.2)
        yield base
    finally:  # also when it never came up: no gunicorn outlives the test
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)
        log.close()
