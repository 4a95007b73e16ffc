"""OpenLineage ingest over real HTTP on PostgreSQL, as ratios of figures measured in the same run (issue 18).

    python -m bench.ingest                          # 600 single events, 3000 batched (batches of 250), and the
                                                    # same on the code at d357a95 (issue 18's baseline) beside it
    python -m bench.ingest --baseline-ref none      # without the baseline run
    python -m bench.ingest --single 5000 --batch 20000 --batch-size 500 --workers 4 --clients 8

Prints `ratio: NAME VALUE (goal ...)` lines, each dividing two figures of this one run, absolute figures
(this machine's) beside them:
- single_event_cpu_per_noop_request: server + PostgreSQL CPU per single-event POST / the same CPU of one
  authenticated no-op request (`GET /api/whoami/`: authentication, `SELECT 1`, a two-field answer) —
  goal <= 2.5;
- concurrent_single_throughput_per_cpu_ceiling: events/s of `--clients` concurrent single-event clients /
  (cores / server + PostgreSQL CPU per event of that phase) — goal >= 0.85;
- batch_cpu_per_plain_copy: CPU per event of batches / CPU per event (this process + its backend) of a
  plain COPY of the same events, JSON-encoded, into a bare one-column jsonb table — printed;
- with --baseline-ref REF (by default d357a95, main when issue 18 set its goals): the code at REF (a detached `git worktree`, removed afterwards) serves the same
  phases with the same events on its own database (DATABASE_URL + "_baseline"; both re-created empty
  first), and batch_cpu_per_baseline = CPU per batched event here / there — goal <= 0.6.

Starts gunicorn (the production WSGI server) on a free local port against `DATABASE_URL` (default
postgres://postgres@127.0.0.1:5432/ll_ingest_bench, created and migrated when missing), creates an
engineer and its token with `manage.py create_user`, then posts generated events (devtools.ingest_demo,
fresh seed each run so nothing is a duplicate) — after `--history` events (3000 by default) stored in
batches, untimed, so that the phases meet a store with a past rather than empty tables — over HTTP/1.1 (http.client; gunicorn's sync workers
close each connection after its response, so every request then opens a new TCP connection, as it would
with requests; gthread workers (`--threads` above 1, as `make serve-prod` runs) keep it open):
- single: one event per request, each answered 201 before that client sends its next; measured twice,
  with one client (sequential: the figure is bounded by one request's latency, which includes the
  WAL flush to disk) and with `--clients` concurrent clients (threads, one connection each), as many
  producers posting at once do;
- batch: `--batch-size` events per request to /api/v1/lineage/batch, each answered 200 with every event
  successful; measured twice, sequentially from one client (one request in flight: about one core
  works) and with `--batch-clients` concurrent clients (several producers posting batches at once;
  their batches touch the same datasets and jobs, so this also shows whether they serialize on locks).
Each figure is events stored per wall-clock second, including HTTP, auth, parsing, strict judgement,
graph writes, audit entry, commit and the flush to disk. Every response is checked (status, and for a
single POST "created", for a batch no failed event and no duplicate); a failure aborts the benchmark.
Beside it, the CPU time the server processes, the PostgreSQL backends and this client spent per event
(from /proc and the process clock): on a shared machine the wall-clock figure mostly measures the load,
the CPU figures the work. The client runs on the same cores as the server, so its CPU is taken from
the server's budget; http.client costs about a third of what requests did per request.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ll_ingest_bench"
# Main as it was when issue 18 set the ingest's goals against "today's main": the batch goal is a ratio to it.
ISSUE_18_BASELINE = "d357a95"


def _ensure_database(url: str) -> None:
    import psycopg2

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = psycopg2.connect(host=parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
                             password=parsed.password, dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def _analyze(url: str) -> None:
    """Refresh the planner's statistics before each measured phase, as autovacuum does in production:
    this machine's PostgreSQL runs with autovacuum off, and statistics older than the data give plans
    made for far smaller tables (seen here: 12 ms per event where an index takes 0.2 ms, and batches
    at a quarter of their speed once the singles had grown the tables after an ANALYZE of an empty
    database)."""
    import psycopg2

    parsed = urlparse(url)
    conn = psycopg2.connect(host=parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
                            password=parsed.password, dbname=parsed.path.lstrip("/"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("ANALYZE")
    conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _manage(env: dict, *args: str, root: Path = ROOT) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=root, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class _Client:
    """One producer: an HTTP/1.1 connection (http.client) re-opened whenever the server closes it."""

    def __init__(self, port: int, token: str):
        import http.client

        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        import http.client

        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=self.headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed an idle connection before this request reached it: reconnect once.
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        return self.request("POST", path, body)


def _wait_until_up(session, base: str, server: subprocess.Popen, timeout: float = 60) -> None:
    """Wait for /api/health/ through a requests.Session (bench._server and the load tests use this)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            if session.get(base + "/api/health/", timeout=2).status_code == 200:
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /api/health/ in time")


def _wait_until_client_up(client: _Client, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            if client.request("GET", "/api/health/")[0] == 200:
                return
        except OSError:  # not listening yet
            client.conn.close()
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /api/health/ in time")


def _cpu_seconds(pids) -> float:
    """user+system CPU of these processes so far (Linux /proc), to show cost apart from machine load."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _server_pids(master: int) -> list[int]:
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def _backend_pids(database_url: str) -> list[int]:
    import psycopg2

    parsed = urlparse(database_url)
    conn = psycopg2.connect(host=parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
                            password=parsed.password, dbname=parsed.path.lstrip("/"))
    with conn.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        pids = [row[0] for row in cur.fetchall()]
    conn.close()
    return pids


def _per_event_entries(database_url: str) -> int:
    """Audit entries of single-event ingests so far: during a batch phase, each is an event of a batch
    that was refused whole and replayed one per transaction (the slow path batches must not take)."""
    import psycopg2

    parsed = urlparse(database_url)
    conn = psycopg2.connect(host=parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
                            password=parsed.password, dbname=parsed.path.lstrip("/"))
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM audit_auditentry WHERE action = 'ingest.event'")
        count = cur.fetchone()[0]
    conn.close()
    return count


def _fan_out(items: list, n_clients: int, post, client, port: int, token: str) -> None:
    """`post(share, client)` for every item: on `client` alone, or split over `n_clients` threads, each with
    a connection of its own, all posting their share one request after another at the same time."""
    if n_clients == 1:
        post(items, client)
        return
    threads = [threading.Thread(target=post, args=(items[i::n_clients], _Client(port, token)))
               for i in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _measure(database_url: str, server: subprocess.Popen, work) -> tuple[float, float, float, float]:
    """(wall seconds, server CPU seconds, PostgreSQL backend CPU seconds, client CPU seconds) of `work()`."""
    _analyze(database_url)  # outside the measured time: fresh statistics for what the last phase wrote
    app, db = _server_pids(server.pid), _backend_pids(database_url)
    app0, db0, me0 = _cpu_seconds(app), _cpu_seconds(db), time.process_time()
    started = time.perf_counter()
    work()
    wall = time.perf_counter() - started
    me = time.process_time() - me0
    # a worker that had not connected yet opened its backend during the work: all of its CPU counts
    db_new = [pid for pid in _backend_pids(database_url) if pid not in db]
    return wall, _cpu_seconds(app) - app0, _cpu_seconds(db) - db0 + _cpu_seconds(db_new), me


def _events(seed: int, count: int) -> list[dict]:
    from devtools.ingest_demo import generate_events

    events: list[dict] = []
    pipelines = max(1, count // 10 + 1)
    while len(events) < count:
        events.extend(e for e in generate_events(seed=seed, n_pipelines=pipelines) if "run" in e)
        seed += 1
    return events[:count]


def gunicorn_workers(workers: int, threads: int) -> list[str]:
    """gunicorn's arguments for `workers` processes of `threads` threads each: sync workers for one thread,
    gthread workers otherwise (whose threads share their process's group commits, see
    lineage.ingest.group_commit)."""
    if threads <= 1:
        return ["--workers", str(workers), "--worker-class", "sync"]
    return ["--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads)]


def _copy_baseline(database_url: str, events: list[dict], batch_size: int) -> tuple[float, float]:
    """(this process's CPU seconds, its PostgreSQL backend's CPU seconds) to COPY `events` — encoded as
    JSON here, as a producer's bodies arrive — into a bare table of one jsonb column, `batch_size` rows per
    COPY and transaction: the least any store of the raw events costs on this machine, the unit the batch
    ingest's CPU per event is divided by."""
    import io
    import json

    import psycopg2

    parsed = urlparse(database_url)
    conn = psycopg2.connect(host=parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
                            password=parsed.password, dbname=parsed.path.lstrip("/"))
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE bench_raw_events (body jsonb NOT NULL)")
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    conn.commit()
    db0, me0 = _cpu_seconds([backend]), time.process_time()
    for i in range(0, len(events), batch_size):
        text = "".join(json.dumps(e).replace("\\", "\\\\") + "\n" for e in events[i:i + batch_size])
        with conn.cursor() as cur:
            cur.copy_expert("COPY bench_raw_events (body) FROM STDIN", io.StringIO(text))
        conn.commit()
    me, db = time.process_time() - me0, _cpu_seconds([backend]) - db0
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM bench_raw_events")
        if cur.fetchone()[0] != len(events):
            raise SystemExit("the COPY baseline stored a different number of events")
    conn.close()
    return me, db


def run(single: int, batch: int, batch_size: int, workers: int, database_url: str, seed: int, clients: int = 8,
        batch_clients: int = 4, threads: int = 1, *, root: Path = ROOT, noop: int = 0, copy: bool = False,
        history: int = 0) -> dict:
    """The figures of one server built from the code at `root` (a `git worktree` of another ref for
    --baseline-ref), on its own database."""
    import json

    _ensure_database(database_url)
    data_dir = tempfile.mkdtemp(prefix="ll_ingest_bench_")
    env = {
        **os.environ, "DATABASE_URL": database_url, "DEBUG": "0", "SECRET_KEY": "bench-" + "x" * 40,
        "AUDIT_HMAC_KEY": os.environ.get("AUDIT_HMAC_KEY") or "bench-" + "x" * 40,
        "LL_DATA_DIR": data_dir, "DB_CONN_MAX_AGE": "600", "DJANGO_SETTINGS_MODULE": "governance.settings",
        "LOG_LEVEL": "ERROR", "INGEST_RATE_LIMIT": "",  # measured without the per-token limit
        "PYTHONPATH": str(root),  # the code at `root`, not the shared editable install's
    }
    _manage(env, "migrate", "--noinput", root=root)
    _analyze(database_url)
    # --rotate-token: the token is printed only when made, and a database kept from an earlier run has the user.
    token = _manage(env, "create_user", f"bench-ingest-{seed}", "--role", "engineer", "--rotate-token",
                    root=root).strip().splitlines()[-1]
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "governance.wsgi:application", "--bind", f"127.0.0.1:{port}",
         *gunicorn_workers(workers, threads), "--keep-alive", "30", "--log-level", "warning"],
        cwd=root, env=env,
    )
    client = _Client(port, token)
    figures: dict = {}
    try:
        _wait_until_client_up(client, server)
        # warm both endpoints (imports, connection) outside the measurement
        warm = _events(seed + 10_000, 2)
        for body, path in ((json.dumps(warm[0]), "/api/v1/lineage"), (json.dumps(warm[1:]), "/api/v1/lineage/batch")):
            status, answer = client.post(path, body.encode())
            if status >= 300:
                raise SystemExit(f"warm-up POST {path} failed: {status} {answer[:300]!r}")
        # A store with a history, not an empty one: every phase is measured after `history` events were
        # stored (in batches, untimed) and the statistics refreshed. Measured on an empty database, the first
        # phase ran on plans made for empty tables (sequential scans in PostgreSQL's cached foreign-key
        # checks, which grow with every event) and measured that accident more than the ingest.
        past = _events(seed + 20_000, history)
        for i in range(0, len(past), 250):
            status, answer = client.post("/api/v1/lineage/batch", json.dumps(past[i:i + 250]).encode())
            if status != 200:
                raise SystemExit(f"history batch POST failed: {status} {answer[:300]!r}")

        if noop > 0:
            failures: list[str] = []

            def whoamis():
                for _ in range(noop):
                    status, answer = client.request("GET", "/api/whoami/")
                    if status != 200 or json.loads(answer)["roles"] != ["engineer"]:
                        failures.append(f"GET /api/whoami/ failed: {status} {answer[:300]!r}")
                        return

            client.request("GET", "/api/whoami/")  # warm
            elapsed, app_cpu, db_cpu, client_cpu = _measure(database_url, server, whoamis)
            if failures:
                raise SystemExit(failures[0])
            figures["noop_requests"] = noop
            figures["noop_cpu_ms"] = tuple(cpu * 1000 / noop for cpu in (app_cpu, db_cpu, client_cpu))

        for label, n_clients, event_seed in (("single", 1, seed), ("concurrent", clients, seed + 2_500)):
            if n_clients < 1 or single < 1:
                continue
            bodies = [json.dumps(e).encode() for e in _events(event_seed, single)]
            latencies: list[float] = []
            failures: list[str] = []

            def post_all(share, own: _Client):
                for body in share:
                    if failures:
                        return
                    t0 = time.perf_counter()
                    status, answer = own.post("/api/v1/lineage", body)
                    latencies.append(time.perf_counter() - t0)
                    if status != 201 or json.loads(answer)["status"] != "created":
                        failures.append(f"single POST failed: {status} {answer[:300]!r}")
                        return

            def singles():
                _fan_out(bodies, n_clients, post_all, client, port, token)

            elapsed, app_cpu, db_cpu, client_cpu = _measure(database_url, server, singles)
            if failures:
                raise SystemExit(failures[0])
            figures[f"{label}_clients"] = n_clients
            figures[f"{label}_events"] = len(bodies)
            figures[f"{label}_events_per_s"] = len(bodies) / elapsed
            figures[f"{label}_cpu_ms"] = tuple(cpu * 1000 / len(bodies) for cpu in (app_cpu, db_cpu, client_cpu))
            figures[f"{label}_p50_ms"] = statistics.median(latencies) * 1000
            figures[f"{label}_p95_ms"] = (statistics.quantiles(latencies, n=20)[18] if len(latencies) > 1 else latencies[0]) * 1000

        for label, n_clients, event_seed in (("batch", 1, seed + 5_000), ("batch_concurrent", batch_clients, seed + 7_500)):
            if n_clients < 1 or batch < 1:
                continue
            events = _events(event_seed, batch)
            chunks = [json.dumps(events[i:i + batch_size]).encode() for i in range(0, len(events), batch_size)]
            failures = []

            def post_batches(share, own: _Client):
                for body in share:
                    if failures:
                        return
                    status, raw = own.post("/api/v1/lineage/batch", body)
                    answer = json.loads(raw) if status == 200 else {}
                    if status != 200 or answer["summary"]["failed"] or answer["summary"]["duplicates"]:
                        failures.append(f"batch POST failed: {status} {raw[:300]!r}")
                        return

            def batches():
                # The demo's events of different seeds share datasets and jobs, so concurrent batches
                # update the same nodes, as producers of one platform do.
                _fan_out(chunks, n_clients, post_batches, client, port, token)

            replayed_before = _per_event_entries(database_url)
            elapsed, app_cpu, db_cpu, client_cpu = _measure(database_url, server, batches)
            if failures:
                raise SystemExit(failures[0])
            figures[f"{label}_replayed"] = _per_event_entries(database_url) - replayed_before
            figures[f"{label}_clients"] = n_clients
            figures[f"{label}_cpu_ms"] = tuple(cpu * 1000 / len(events) for cpu in (app_cpu, db_cpu, client_cpu))
            figures[f"{label}_events"] = len(events)
            figures[f"{label}_events_per_s"] = len(events) / elapsed
            if copy and label == "batch":
                me, db = _copy_baseline(database_url, events, batch_size)
                figures["copy_cpu_ms"] = (me * 1000 / len(events), db * 1000 / len(events))
        figures["batch_size"] = batch_size
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    return figures


@contextlib.contextmanager
def _worktree(ref: str):
    """A detached `git worktree` of `ref` beside this one, removed afterwards: the old code runs as
    itself (its own migrations, its own modules) against its own database in the same run."""
    where = Path(tempfile.mkdtemp(prefix="ll_bench_ref_")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(where), ref], cwd=ROOT, check=True)
    try:
        yield where
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(where)], cwd=ROOT, check=False)


def _cpu(figures: dict, label: str) -> float:
    """Server + PostgreSQL CPU ms per event (or request) of a phase: the work the service does for it."""
    app, db = figures[f"{label}_cpu_ms"][:2]
    return app + db


def _print_figures(figures: dict, how: str, tag: str) -> None:
    if "noop_cpu_ms" in figures:
        app, db, me = figures["noop_cpu_ms"]
        print(f"{tag}no-op GET /api/whoami/ (auth + SELECT 1): CPU per request server {app:.2f} ms, PostgreSQL "
              f"{db:.2f} ms, client {me:.2f} ms ({figures['noop_requests']} requests, 1 client)")
    for label in ("single", "concurrent"):
        if f"{label}_events_per_s" not in figures:
            continue
        clients = figures[f"{label}_clients"]
        print(f"{tag}single POST : {figures[f'{label}_events_per_s']:8.1f} events/s  ({figures[f'{label}_events']} events, "
              f"{clients} client{'s' if clients > 1 else ''} {'concurrently' if clients > 1 else 'sequentially'}, "
              f"{how}, p50 {figures[f'{label}_p50_ms']:.1f} ms, p95 {figures[f'{label}_p95_ms']:.1f} ms)")
        print(f"{tag}              CPU per event: server {figures[f'{label}_cpu_ms'][0]:.2f} ms, PostgreSQL "
              f"{figures[f'{label}_cpu_ms'][1]:.2f} ms, client {figures[f'{label}_cpu_ms'][2]:.2f} ms")
    for label in ("batch", "batch_concurrent"):
        if f"{label}_events_per_s" not in figures:
            continue
        clients = figures[f"{label}_clients"]
        who = f"{clients} clients concurrently" if clients > 1 else "1 client sequentially"
        print(f"{tag}batch POST  : {figures[f'{label}_events_per_s']:8.1f} events/s  ({figures[f'{label}_events']} events, "
              f"{figures['batch_size']} per request, {who})")
        print(f"{tag}              CPU per event: server {figures[f'{label}_cpu_ms'][0]:.2f} ms, PostgreSQL "
              f"{figures[f'{label}_cpu_ms'][1]:.2f} ms, client {figures[f'{label}_cpu_ms'][2]:.2f} ms; "
              f"events replayed one per transaction: {figures[f'{label}_replayed']}")
    if "copy_cpu_ms" in figures:
        me, db = figures["copy_cpu_ms"]
        print(f"{tag}plain COPY of the batch phase's events into a bare jsonb table, {figures['batch_size']} per COPY: "
              f"CPU per event client (JSON encoding + COPY) {me:.3f} ms, PostgreSQL {db:.3f} ms")


def _print_ratios(figures: dict, baseline: dict | None, ref: str | None, cores: int) -> None:
    """The goals of issue 18, each a ratio of two figures of this one run."""
    if "noop_cpu_ms" in figures and "single_cpu_ms" in figures:
        unit, single = _cpu(figures, "noop"), _cpu(figures, "single")
        print(f"ratio: single_event_cpu_per_noop_request {single / unit:.2f} (goal <= 2.5)"
              f"  [{single:.2f} ms per event / {unit:.2f} ms per authenticated no-op request; server + PostgreSQL]")
    if "concurrent_cpu_ms" in figures:
        per_event = _cpu(figures, "concurrent")
        ceiling = cores * 1000 / per_event
        rate = figures["concurrent_events_per_s"]
        print(f"ratio: concurrent_single_throughput_per_cpu_ceiling {rate / ceiling:.2f} (goal >= 0.85)"
              f"  [{rate:.1f} events/s with {figures['concurrent_clients']} clients / ceiling {ceiling:.1f} = {cores} cores"
              f" / {per_event:.2f} ms server + PostgreSQL CPU per event; the client's own "
              f"{figures['concurrent_cpu_ms'][2]:.2f} ms per event runs on the same cores and is not in the ceiling]")
    if "copy_cpu_ms" in figures:
        batch, copy = _cpu(figures, "batch"), sum(figures["copy_cpu_ms"])
        extra = "".join(f"; {figures[f'{label}_events_per_s']:.1f} events/s with {figures[f'{label}_clients']} client(s)"
                        for label in ("batch", "batch_concurrent") if f"{label}_events_per_s" in figures)
        print(f"ratio: batch_cpu_per_plain_copy {batch / copy:.2f} (printed)"
              f"  [{batch:.3f} ms per event in batches of {figures['batch_size']} / {copy:.3f} ms per event of a plain COPY{extra}]")
    if baseline is not None:
        for label, name, goal in (("batch", "batch_cpu_per_baseline", "(goal <= 0.6)"),
                                  ("single", "single_event_cpu_per_baseline", "(printed)"),
                                  ("concurrent", "concurrent_single_cpu_per_baseline", "(printed)")):
            if f"{label}_cpu_ms" in figures and f"{label}_cpu_ms" in baseline:
                now, then = _cpu(figures, label), _cpu(baseline, label)
                print(f"ratio: {name} {now / then:.2f} {goal}  [{now:.3f} ms per event here / {then:.3f} ms at {ref}]")
        for label in ("batch", "batch_concurrent", "concurrent"):
            if f"{label}_events_per_s" in figures and f"{label}_events_per_s" in baseline:
                print(f"ratio: {label}_events_per_s_vs_baseline "
                      f"{figures[f'{label}_events_per_s'] / baseline[f'{label}_events_per_s']:.2f} (printed)"
                      f"  [{figures[f'{label}_events_per_s']:.1f} / {baseline[f'{label}_events_per_s']:.1f} events/s at {ref}]")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--single", type=int, default=600, help="events sent one per request (default 600)")
    parser.add_argument("--batch", type=int, default=3000, help="events sent in batches (default 3000)")
    parser.add_argument("--batch-size", type=int, default=250, help="events per batch request (default 250)")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="gunicorn worker processes (default one per CPU, as `make serve-prod`)")
    parser.add_argument("--threads", type=int, default=4,
                        help="threads per worker (default 4, as `make serve-prod`: gthread workers; 1: sync workers)")
    parser.add_argument("--clients", type=int, default=8,
                        help="concurrent clients for the second single-POST figure (default 8; 0 skips it)")
    parser.add_argument("--batch-clients", type=int, default=4,
                        help="concurrent clients for the second batch figure (default 4; 0 skips it)")
    parser.add_argument("--history", type=int, default=3000,
                        help="events stored (in batches, untimed) before the measured phases, on both codes (default 3000)")
    parser.add_argument("--seed", type=int, default=None, help="event seed (default: time-based, so events are new)")
    parser.add_argument("--noop", type=int, default=600,
                        help="authenticated no-op requests (GET /api/whoami/) measured as the unit of CPU (default 600)")
    parser.add_argument("--baseline-ref", default=ISSUE_18_BASELINE,
                        help="also run the same phases, same events, on the code at this git ref (a `git worktree` "
                             "beside this one, its own database DATABASE_URL + '_baseline'), and compare CPU per event "
                             f"(default {ISSUE_18_BASELINE}: main when issue 18 set its goals; 'none' skips it)")
    args = parser.parse_args(argv)
    if args.baseline_ref.lower() == "none":
        args.baseline_ref = None
    sys.path.insert(0, str(ROOT))
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not database_url.startswith("postgres"):
        raise SystemExit("bench.ingest measures PostgreSQL: set DATABASE_URL to a postgres:// URL")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 40)  # settings refuse to start without one
    os.environ.setdefault("AUDIT_HMAC_KEY", "bench-" + "x" * 40)  # nor without this
    import django

    django.setup()  # only to import the demo generator; the measured work happens in gunicorn
    seed = args.seed if args.seed is not None else int(time.time())
    load_before = os.getloadavg()[0]
    phases = (args.single, args.batch, args.batch_size, args.workers)
    options = {"clients": args.clients, "batch_clients": args.batch_clients, "threads": args.threads,
               "history": args.history}
    baseline = None
    if args.baseline_ref:
        from bench._db import fresh_database

        # Both stores start empty and receive the same events, so neither pays for the other's history.
        fresh_database(database_url)
        base_url = database_url.rstrip("/") + "_baseline"
        fresh_database(base_url)
        with _worktree(args.baseline_ref) as base_root:
            baseline = run(*phases, base_url, seed, **options, root=base_root)  # the old code may lack whoami
    figures = run(*phases, database_url, seed, **options, noop=args.noop, copy=True)
    load_after = os.getloadavg()[0]
    how = f"{args.workers} workers" if args.threads <= 1 else f"{args.workers} workers x {args.threads} threads"
    print(f"OpenLineage ingest over HTTP (gunicorn, {how}) on PostgreSQL {urlparse(database_url).path.lstrip('/')}"
          f"  [{len(os.sched_getaffinity(0))} CPUs, load average {load_before:.1f} before, {load_after:.1f} after;"
          f" absolute figures are this machine's]")
    _print_figures(figures, how, "")
    if baseline is not None:
        _print_figures(baseline, how, f"[{args.baseline_ref}] ")
    _print_ratios(figures, baseline, args.baseline_ref, len(os.sched_getaffinity(0)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
