"""The production web server for the load benchmarks and their test: gunicorn on a PostgreSQL database.

bench.load, bench.ingest_scaling and tests/test_load_ingest_exactly_once.py all post to the same thing a
deployment runs (`make serve-prod`: gunicorn gthread workers, DEBUG off), so what they find holds for it. The
low-level pieces (free port, health wait, /proc CPU readings) are bench.ingest's, imported, not copied.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlparse

from bench.ingest import _analyze, _backend_pids, _cpu_seconds, _free_port, _server_pids, _wait_until_up, gunicorn_workers

ROOT = Path(__file__).resolve().parent.parent
BENCH_SECRET = "bench-" + "x" * 40
SERVE_THREADS = 4  # threads per worker process, as `make serve-prod` runs them (WEB_THREADS)


def server_env(database_url: str, **extra: str) -> dict:
    """The environment of a production-shaped server process (DEBUG off) on `database_url`."""
    env = {
        **os.environ, "DATABASE_URL": database_url, "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or BENCH_SECRET,
        "AUDIT_HMAC_KEY": os.environ.get("AUDIT_HMAC_KEY") or BENCH_SECRET,
        "LL_DATA_DIR": os.environ.get("LL_DATA_DIR") or tempfile.mkdtemp(prefix="ll_scalebench_"),
        "DB_CONN_MAX_AGE": "600", "DJANGO_SETTINGS_MODULE": "governance.settings", "LOG_LEVEL": "ERROR",
    }
    env.update(extra)
    return env


def setup_django(database_url: str) -> None:
    """Point this process's Django at `database_url` (before the first query) for setup and checks."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    os.environ.setdefault("SECRET_KEY", BENCH_SECRET)
    os.environ.setdefault("AUDIT_HMAC_KEY", BENCH_SECRET)
    os.environ.setdefault("LL_DATA_DIR", tempfile.mkdtemp(prefix="ll_scalebench_"))
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def fresh_migrated_database(database_url: str) -> None:
    """Drop, re-create and migrate the benchmark database, so every measured run starts from the same
    empty store (this process's connections are closed first: the drop forces others off)."""
    from django.core.management import call_command
    from django.db import connections

    from bench._db import fresh_database

    connections.close_all()
    fresh_database(database_url)
    call_command("migrate", verbosity=0, interactive=False)
    connections.close_all()
    _analyze(database_url)


def create_engineers(prefix: str, count: int) -> list[str]:
    """`count` engineers with one API token each, through `manage.py create_user` (in this process)."""
    import io

    from django.core.management import call_command

    tokens = []
    for i in range(count):
        out = io.StringIO()
        call_command("create_user", f"{prefix}-{i}", role=["engineer"], rotate_token=True, stdout=out)
        tokens.append(out.getvalue().strip().splitlines()[-1])
    return tokens


def stop_process(process: subprocess.Popen, *, kill_group: bool = False) -> None:
    """Ask `process` to stop (SIGTERM), give it 30 s, then kill it; `kill_group`: then also SIGKILL its process
    group (started with start_new_session), so that no child it forked outlives the benchmark."""
    import os
    import signal

    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    if kill_group:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=10)


class Gunicorn:
    """`gunicorn governance.wsgi` with `workers` processes of `threads` threads on a free port, as `make
    serve-prod` runs it (threads 1: sync workers)."""

    def __init__(self, env: dict, workers: int, *, threads: int = SERVE_THREADS, timeout: int = 120):
        import requests

        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.database_url = env["DATABASE_URL"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "governance.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
             *gunicorn_workers(workers, threads), "--timeout", str(timeout),
             "--log-level", "warning"],
            cwd=ROOT, env=env, start_new_session=True,
        )
        try:
            with requests.Session() as session:
                _wait_until_up(session, self.base, self.process)
        except BaseException:
            self.stop()
            raise

    def pids(self) -> list[int]:
        return _server_pids(self.process.pid)

    def stop(self) -> None:
        stop_process(self.process)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class CpuMeter:
    """CPU seconds the server processes and their PostgreSQL backends spend during a `with` block (from
    /proc): on a shared machine wall-clock time mostly measures the load, CPU time the work."""

    def __init__(self, server: Gunicorn):
        self.server = server

    def __enter__(self):
        self.app = self.server.pids()
        self.db = _backend_pids(self.server.database_url)
        self.app0, self.db0 = _cpu_seconds(self.app), _cpu_seconds(self.db)
        return self

    def __exit__(self, *exc):
        # backends opened during the block (a worker's first connection) count whole
        db_new = [pid for pid in _backend_pids(self.server.database_url) if pid not in self.db]
        self.app_cpu = _cpu_seconds(self.app) - self.app0
        self.db_cpu = _cpu_seconds(self.db) - self.db0 + _cpu_seconds(db_new)


class Autoanalyze:
    """ANALYZE the database every `every` seconds while a load runs, standing in for autovacuum's
    autoanalyze, which this machine's PostgreSQL has switched off: without it the planner keeps the
    statistics of the empty tables the run started from and picks plans made for them as the tables grow
    to tens of thousands of rows (bench.ingest saw 12 ms per event where an index takes 0.2 ms). Each
    ANALYZE uses a connection of its own, closed at once, so its CPU is not counted as the server's."""

    def __init__(self, database_url: str, every: float):
        self.database_url, self.every = database_url, every
        self._stop = threading.Event()
        self.count = 0
        self._thread = threading.Thread(target=self._loop, name="autoanalyze", daemon=True)

    def _loop(self):
        while not self._stop.wait(self.every):
            _analyze(self.database_url)
            self.count += 1

    def __enter__(self):
        if self.every > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=120)


def database_name(url: str) -> str:
    return urlparse(url).path.lstrip("/")
