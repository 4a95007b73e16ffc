"""Lineage query benchmark on PostgreSQL: depth-10 upstream/downstream walks on a generated graph.

    python -m bench.lineage                    # 100k nodes (generated once, then reused)
    python -m bench.lineage --nodes 1000000    # the 1M-node goal: p95 <= 50 ms and <= 2x raw SQL
    python -m bench.lineage --queries 500 --no-http

Uses DATABASE_URL when it names a *_bench database, else postgres://postgres@127.0.0.1:5432/ll_lineage_bench
(created and migrated when missing). The graph replaces whatever lineage the database held, so it refuses
any database whose name does not end in "_bench".

The graph is what the OpenLineage mapping produces, in layers (raw -> features -> training sets …):
1% jobs, 2% datasets, the rest runs and the dataset versions they produce in equal numbers. Each run is an
instance_of its job, consumes 3 dataset versions of the layers just before it (layer-0 runs read datasets
directly), produces one version, which is a version_of one of its job's datasets: ~3 edges per node, 1% of
consumed edges closed. It is written with COPY (secondary indexes and constraints dropped and rebuilt, then
VACUUM ANALYZE), and reused on the next run when the marker table `bench_lineage_marker` says it has the
size asked for.

Measured, interleaved (the order rotating per start node, so none always runs on pages another just
read), each on the same random start nodes (dataset versions of the last layers for upstream, of the
first layers for downstream), current graph, depth 10, max_nodes 1000. The "raw" rows are the best plain
SQL for the same answer on a bare psycopg2 cursor, both ways it can be written:
- CTE walk / CTE answer: one recursive CTE over (node, depth) pairs, smallest depth per node, nearest
  first, LIMIT (the walk alone: ids; the answer: node rows in the same statement, then the open edges
  between them). It must explore the whole depth-10 closure before the LIMIT applies;
- BFS walk / BFS answer: a breadth-first walk by hand, one `= ANY(frontier)` statement per level, a
  visited set in Python, stopping once max_nodes + 1 are known (the answer adds one statement for the
  node rows and one for the edges between them). This is what lineage() does on SQLite;
- 1-stmt answer: lineage()'s breadth-first walk in ONE recursive statement carrying the visited sets as
  arrays, node rows included (lineage.graph._walk_statement), then the edges by `src = ANY AND dst = ANY`, on
  the bare cursor (lineage() itself now also looks the edges up in the same statement, from the walk's side:
  lineage.graph_answer);
- JSON answer: the statement the API runs on PostgreSQL (lineage.graph_json.lineage_statement: the same
  walk, and the response body built by json_agg in the database), on the bare cursor; it returns the
  finished JSON text, not rows or objects;
- lineage(): `lineage.graph.lineage()` — the answer as row objects read like model instances (without
  node properties, which only the dashboard and the provenance card ask for);
- HTTP: GET /api/nodes/{id}/lineage/ on gunicorn (1 worker), keep-alive session, token auth, JSON decoded
  (on PostgreSQL the body is the JSON answer's, sent as it is).
Beside wall-clock milliseconds, lineage() also reports this process's CPU time (time.process_time) and the
CPU time of its PostgreSQL backend (/proc/PID/stat, when the server runs on this machine), which other
load on a shared machine disturbs much less; HTTP reports the CPU per request of the gunicorn worker, of its
PostgreSQL backend and of this client (see _http_runner). `--gc-freeze` freezes this process's start-up objects first,
to show how much of lineage()'s tail is Python's full garbage collections (in-process figures only).
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse
from bench._db import ensure_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ll_lineage_bench"
GENERATOR_VERSION = 1
LAYERS = 20
DEPTH = 10
MAX_NODES = 1000
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)

RAW_WALK = {
    direction: (
        "WITH RECURSIVE walk(node_id, depth) AS ("
        " SELECT id, 0 FROM lineage_node WHERE id = %(start)s"
        " UNION"
        f" SELECT e.{far}, w.depth + 1 FROM walk w JOIN lineage_edge e ON e.{near} = w.node_id"
        "  WHERE w.depth < %(depth)s AND e.valid_to IS NULL)"
        " SELECT node_id, MIN(depth) AS d FROM walk GROUP BY node_id ORDER BY d, node_id LIMIT %(limit)s"
    )
    for direction, near, far in (("upstream", "dst_id", "src_id"), ("downstream", "src_id", "dst_id"))
}
# The same answer as lineage() by hand: node rows nearest first, then the open edges between them.
RAW_NODES = {
    direction: sql.replace("SELECT node_id, MIN(depth) AS d FROM walk GROUP BY node_id ORDER BY d, node_id",
                           ", reached AS (SELECT node_id, MIN(depth) AS d FROM walk GROUP BY node_id)"
                           " SELECT n.*, r.d FROM reached r JOIN lineage_node n ON n.id = r.node_id ORDER BY r.d, n.id")
    for direction, sql in RAW_WALK.items()
}
RAW_EDGES = "SELECT * FROM lineage_edge WHERE src_id = ANY(%s) AND dst_id = ANY(%s) AND valid_to IS NULL ORDER BY id"
RAW_LEVEL = {
    "upstream": "SELECT src_id FROM lineage_edge WHERE dst_id = ANY(%s) AND valid_to IS NULL",
    "downstream": "SELECT dst_id FROM lineage_edge WHERE src_id = ANY(%s) AND valid_to IS NULL",
}
RAW_NODE_ROWS = "SELECT * FROM lineage_node WHERE id = ANY(%s)"


def raw_bfs(cur, direction: str, start: int, depth: int = DEPTH, limit: int = MAX_NODES + 1) -> tuple[list[int], dict]:
    """The level-by-level walk by hand: (ids nearest first then by id, at most `limit`; id -> depth)."""
    cur.execute("SELECT id FROM lineage_node WHERE id = %s", [start])
    dist = {row[0]: 0 for row in cur.fetchall()}
    answer = list(dist)
    frontier = answer
    level = 0
    while frontier and level < depth and len(answer) < limit:
        level += 1
        cur.execute(RAW_LEVEL[direction], [frontier])
        frontier = sorted({row[0] for row in cur.fetchall()}.difference(dist))
        for node_id in frontier:
            dist[node_id] = level
        answer += frontier
    return answer[:limit], dist


# -- database ---------------------------------------------------------------------------------------------
def _database_url(given: str | None, default: str = DEFAULT_URL) -> str:
    """The database to build the graph in: only a *_bench PostgreSQL database (the graph replaces the lineage
    tables), falling back to the module's own default."""
    url = given or os.environ.get("DATABASE_URL") or default
    name = urlparse(url).path.lstrip("/")
    if not url.startswith("postgres") or not name.endswith("_bench"):
        if given:
            raise SystemExit(f"refusing {name!r}: the benchmark replaces the lineage tables; use a *_bench database")
        print(f"(DATABASE_URL does not name a *_bench PostgreSQL database; using {default})")
        url = default
    return url


def _connect(url: str, dbname: str | None = None):
    import psycopg2

    parts = urlparse(url)
    return psycopg2.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
                            user=parts.username or "postgres", password=parts.password,
                            dbname=dbname or parts.path.lstrip("/"))


def _setup_django(url: str) -> None:
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    os.environ.setdefault("LL_DATA_DIR", "/tmp/ll_lineage_bench")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


# -- generation -----------------------------------------------------------------------------------------
class Plan:
    """Deterministic node ids and edges for `nodes` nodes (seeded)."""

    def __init__(self, nodes: int, seed: int):
        self.rng = random.Random(seed)
        self.jobs = max(LAYERS, nodes // 100)
        self.datasets = max(2 * LAYERS, nodes // 50)
        self.runs = (nodes - self.jobs - self.datasets) // 2
        self.datasets = nodes - self.jobs - 2 * self.runs  # absorbs the odd one
        self.total = nodes
        # ids: jobs, datasets, runs, versions (run i produces version i)
        self.job0, self.ds0 = 1, 1 + self.jobs
        self.run0 = self.ds0 + self.datasets
        self.ver0 = self.run0 + self.runs

    def job_layer(self, j: int) -> int:
        return j * LAYERS // self.jobs

    def run_job(self, r: int) -> int:
        return r % self.jobs

    def run_layer(self, r: int) -> int:
        return self.job_layer(self.run_job(r))

    def job_datasets(self, j: int) -> list[int]:
        return list(range(j, self.datasets, self.jobs))

    def versions_by_layer(self) -> list[list[int]]:
        layers: list[list[int]] = [[] for _ in range(LAYERS)]
        for r in range(self.runs):
            layers[self.run_layer(r)].append(r)
        return layers


def _copy(cur, table: str, columns: list[str], rows, chunk: int = 200_000) -> int:
    buf, count, total = io.StringIO(), 0, 0
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    for row in rows:
        buf.write("\t".join(row))
        buf.write("\n")
        count += 1
        if count == chunk:
            buf.seek(0)
            cur.copy_expert(sql, buf)
            total += count
            buf, count = io.StringIO(), 0
    if count:
        buf.seek(0)
        cur.copy_expert(sql, buf)
        total += count
    return total


def _ts(seconds: int) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).isoformat()


NODE_COLUMNS = ["id", "kind", "source", "source_id", "namespace", "name", "display_name", "properties",
                "first_seen", "last_seen", "recorded_at"]
EDGE_COLUMNS = ["id", "kind", "src_id", "dst_id", "source", "valid_from", "valid_to", "last_seen", "properties",
                "recorded_at"]


def _node_rows(plan: Plan):
    now = _ts(10 ** 8)
    for j in range(plan.jobs):
        layer = f"layer{plan.job_layer(j):02d}"
        yield (str(plan.job0 + j), "job", "openlineage", f"{layer}:job_{j}", layer, f"job_{j}", "", "{}",
               _ts(j), now, now)
    for d in range(plan.datasets):
        layer = f"layer{plan.job_layer(d % plan.jobs):02d}"
        yield (str(plan.ds0 + d), "dataset", "openlineage", f"{layer}:table_{d}", layer, f"table_{d}", "", "{}",
               _ts(d), now, now)
    for r in range(plan.runs):
        layer = f"layer{plan.run_layer(r):02d}"
        yield (str(plan.run0 + r), "run", "openlineage", f"run-{r}", layer, f"run-{r}", "", '{"state": "COMPLETE"}',
               _ts(1000 + r), now, now)
    for r in range(plan.runs):
        layer = f"layer{plan.run_layer(r):02d}"
        datasets = plan.job_datasets(plan.run_job(r))
        d = datasets[r // plan.jobs % len(datasets)]
        yield (str(plan.ver0 + r), "dataset_version", "openlineage", f"{layer}:table_{d}@run-{r}", layer,
               f"table_{d}", "", "{}", _ts(1000 + r), now, now)


def _edge_rows(plan: Plan):
    rng = plan.rng
    layers = plan.versions_by_layer()
    now = _ts(10 ** 8)
    edge_id = 0

    def edge(kind, src, dst, t, closed=False):
        nonlocal edge_id
        edge_id += 1
        return (str(edge_id), kind, str(src), str(dst), "openlineage", _ts(t), _ts(t + 3600) if closed else "\\N",
                now, "{}", now)

    for r in range(plan.runs):
        t = 1000 + r
        run_id, ver_id = plan.run0 + r, plan.ver0 + r
        job = plan.run_job(r)
        datasets = plan.job_datasets(job)
        yield edge("instance_of", plan.job0 + job, run_id, t)
        yield edge("produced", run_id, ver_id, t)
        yield edge("version_of", ver_id, plan.ds0 + datasets[r // plan.jobs % len(datasets)], t)
        layer = plan.run_layer(r)
        picked = set()
        for _ in range(3):
            if layer == 0:
                src = plan.ds0 + rng.randrange(plan.datasets)
            else:
                back = 1 if rng.random() < 0.8 else rng.randint(1, min(3, layer))
                pool = layers[layer - back] or layers[layer - 1]
                src = plan.ver0 + pool[rng.randrange(len(pool))]
            if src in picked:
                continue
            picked.add(src)
            yield edge("consumed", src, run_id, t, closed=rng.random() < 0.01)


def _secondary_objects(cur, tables: list[str]):
    cur.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype FROM pg_constraint"
        " WHERE conrelid::regclass::text = ANY(%s) AND contype IN ('u', 'f')", [tables])
    constraints = cur.fetchall()
    cur.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) AND indexname NOT IN"
        " (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))", [tables])
    return constraints, cur.fetchall()


def generate(url: str, nodes: int, seed: int) -> tuple[int, float]:
    """Fill the lineage tables with the planned graph; returns (edges, seconds)."""
    started = time.perf_counter()
    plan = Plan(nodes, seed)
    conn = _connect(url)
    tables = ["lineage_node", "lineage_edge"]
    with conn, conn.cursor() as cur:
        cur.execute("TRUNCATE lineage_edge, lineage_noderevision, lineage_node CASCADE")
        cur.execute("DROP TABLE IF EXISTS bench_lineage_marker")
        constraints, indexes = _secondary_objects(cur, tables)
        for table, name, _definition, _type in constraints:
            cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        _copy(cur, "lineage_node", NODE_COLUMNS, _node_rows(plan))
        edges = _copy(cur, "lineage_edge", EDGE_COLUMNS, _edge_rows(plan))
        print(f"  copied {plan.total} nodes and {edges} edges in {time.perf_counter() - started:.1f} s; indexing…",
              flush=True)
        for _name, definition in indexes:
            cur.execute(definition)
        for table, name, definition, contype in sorted(constraints, key=lambda c: c[3] == "f"):
            cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for table in tables:
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        cur.execute("CREATE TABLE bench_lineage_marker (nodes bigint, edges bigint, seed int, version int, made_at timestamptz)")
        cur.execute("INSERT INTO bench_lineage_marker VALUES (%s, %s, %s, %s, now())",
                    [plan.total, edges, seed, GENERATOR_VERSION])
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE lineage_node")
        cur.execute("VACUUM ANALYZE lineage_edge")
    conn.close()
    return edges, time.perf_counter() - started


def existing(url: str, nodes: int, seed: int) -> int | None:
    """Edges of a reusable graph of this size and seed, or None."""
    conn = _connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('bench_lineage_marker')")
            if cur.fetchone()[0] is None:
                return None
            cur.execute("SELECT nodes, edges, seed, version FROM bench_lineage_marker")
            row = cur.fetchone()
            if row is None or tuple(row[i] for i in (0, 2, 3)) != (nodes, seed, GENERATOR_VERSION):
                return None
            cur.execute("SELECT COUNT(*) FROM lineage_node")
            return row[1] if cur.fetchone()[0] == nodes else None
    finally:
        conn.close()


# -- measuring ------------------------------------------------------------------------------------------
def _starts(url: str, count: int, seed: int) -> dict[str, list[int]]:
    rng = random.Random(seed + 1)
    conn = _connect(url)
    picked = {}
    with conn.cursor() as cur:
        for direction, layers in (("upstream", range(LAYERS - 5, LAYERS)), ("downstream", range(0, 5))):
            cur.execute("SELECT id FROM lineage_node WHERE kind = 'dataset_version' AND namespace = ANY(%s) ORDER BY id",
                        [[f"layer{k:02d}" for k in layers]])
            ids = [row[0] for row in cur.fetchall()]
            picked[direction] = [ids[rng.randrange(len(ids))] for _ in range(count)]
    conn.close()
    return picked


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def _time(methods: dict, starts) -> dict[str, tuple[list[float], list[int]]]:
    """Time every method on every start node, interleaved with the order rotating per start, so no method
    always finds the pages the one before it just read (which would flatter whichever runs later)."""
    names = list(methods)
    for name in names:
        methods[name](starts[0])  # warm each connection once
    out = {name: ([], []) for name in names}
    for i, start in enumerate(starts):
        for name in names[i % len(names):] + names[:i % len(names)]:
            t = time.perf_counter()
            size = methods[name](start)
            out[name][0].append((time.perf_counter() - t) * 1000)
            out[name][1].append(size)
    return out


def backend_cpu_reader():
    """A () -> seconds function giving the CPU time (user + system) of the PostgreSQL backend serving
    Django's connection, read from /proc (so only for a server on this machine, readable by this user),
    or None. Clock-tick granular (10 ms): good for a mean over many queries, not for one query."""
    from django.db import connection

    connection.ensure_connection()
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    return process_cpu_reader(pid)


def process_cpu_reader(pid: int):
    """A () -> seconds function giving the CPU time (user + system) of process `pid` from /proc, or None
    when it cannot be read. Clock-tick granular (10 ms): for means over many requests."""
    path = Path(f"/proc/{pid}/stat")
    tick = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        fields = path.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    try:
        read()
    except OSError:
        return None
    return read


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http_runner(url: str, threads: int = 1):
    """Start gunicorn (1 worker) and return (fetch(direction, start, **params) -> node count, stop()).

    `threads` 1 (the default, and what every figure so far was measured with): a sync worker, which closes
    the connection after each response, so each request opens a new TCP connection. Above 1: a gthread
    worker with that many threads, as `make serve-prod` runs (docs/deployment.md), which keeps the client's
    connection open between requests; the client still receives and decodes every body.

    `fetch.cpu` collects, per request, (this process's CPU ms, the gunicorn worker's CPU ms, the CPU ms of
    the worker's PostgreSQL backend) once both can be read from /proc (else the server columns are None):
    what one request costs the client, the server and the database, which other load on a shared machine
    disturbs much less than the wall clock. The worker's backend is found by an application_name this
    runner gives the server's connections."""
    import requests

    app_name = f"ll_bench_http_{os.getpid()}"
    separator = "&" if "?" in url else "?"
    env = {**os.environ, "DATABASE_URL": f"{url}{separator}application_name={app_name}", "DEBUG": "0",
           "LOG_LEVEL": "ERROR", "DB_CONN_MAX_AGE": "86400"}  # one backend for the whole run (its CPU is read)
    # DEBUG=0 refuses to start without real secrets: throwaway ones for this run unless the caller set its own.
    for name in ("SECRET_KEY", "AUDIT_HMAC_KEY"):
        env.setdefault(name, secrets.token_hex(32))
    out = subprocess.run([sys.executable, "manage.py", "create_user", f"bench_{int(time.time())}", "--role", "auditor"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    token = out.stdout.strip().splitlines()[-1]
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "governance.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--keep-alive", "30", "--log-level", "warning"]
        + (["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else []), cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    deadline = time.time() + 60
    while True:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            if session.get(base + "/api/health/", timeout=2).status_code == 200:
                break
        except Exception:
            pass
        if time.time() > deadline:
            server.terminate()
            raise SystemExit("gunicorn did not answer /api/health/ in time")
        time.sleep(0.3)

    # One authenticated request (a 404) so that the worker holds its database connection, then find both.
    session.get(base + "/api/nodes/0/lineage/")
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    workers = children.read_text().split() if children.exists() else []
    worker = process_cpu_reader(int(workers[0])) if len(workers) == 1 else None
    conn = _connect(url)
    with conn.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [app_name])
        pids = [row[0] for row in cur.fetchall()]
    conn.close()
    backend = process_cpu_reader(pids[0]) if len(pids) == 1 else None
    if not (worker and backend):
        worker = backend = None
        print("(gunicorn worker or its PostgreSQL backend not readable in /proc: no server CPU figures)")

    def fetch(direction: str, start: int, **extra) -> int:
        """Node count of the answer; `extra` query parameters (e.g. edge_kinds, max_nodes) override ours.
        With `answer=True` among them, returns the decoded JSON instead."""
        whole = extra.pop("answer", False)
        before = (time.process_time(), worker() if worker else 0.0, backend() if backend else 0.0)
        response = session.get(f"{base}/api/nodes/{start}/lineage/",
                               params={"direction": direction, "depth": DEPTH, "max_nodes": MAX_NODES, **extra})
        response.raise_for_status()
        answer = response.json() if whole else len(response.json()["nodes"])
        fetch.cpu.append(((time.process_time() - before[0]) * 1000,
                          (worker() - before[1]) * 1000 if worker else None,
                          (backend() - before[2]) * 1000 if backend else None))
        return answer

    fetch.cpu = []

    def stop() -> None:
        server.terminate()
        server.wait(timeout=20)

    return fetch, stop


def measure(url: str, queries: int, seed: int, http: bool) -> dict:
    from django.db import connection

    from lineage import graph, graph_json

    starts = _starts(url, queries, seed)
    raw = _connect(url)
    raw.autocommit = True
    figures = {}
    cpu: dict[str, list[float]] = {"upstream": [], "downstream": []}
    server_cpu = {"upstream": 0.0, "downstream": 0.0}
    http_cpu: dict[str, list] = {}
    backend = backend_cpu_reader()
    walk_sql, walk_params = {}, {}
    for direction in ("upstream", "downstream"):
        walk_sql[direction], walk_params[direction] = graph._walk_statement(
            [0], (direction,), DEPTH, None, None, None, MAX_NODES + 1, True)

    http_fetch, http_stop = _http_runner(url) if http else (None, None)
    try:
        for direction in ("upstream", "downstream"):
            def cte_walk(start, direction=direction):
                with raw.cursor() as cur:
                    cur.execute(RAW_WALK[direction], {"start": start, "depth": DEPTH, "limit": MAX_NODES + 1})
                    return len(cur.fetchall()[:MAX_NODES])

            def cte_answer(start, direction=direction):
                with raw.cursor() as cur:
                    cur.execute(RAW_NODES[direction], {"start": start, "depth": DEPTH, "limit": MAX_NODES + 1})
                    ids = [row[0] for row in cur.fetchall()[:MAX_NODES]]
                    cur.execute(RAW_EDGES, [ids, ids])
                    cur.fetchall()
                    return len(ids)

            def bfs_walk(start, direction=direction):
                with raw.cursor() as cur:
                    return len(raw_bfs(cur, direction, start)[0][:MAX_NODES])

            def bfs_answer(start, direction=direction):
                with raw.cursor() as cur:
                    ids = raw_bfs(cur, direction, start)[0][:MAX_NODES]
                    cur.execute(RAW_NODE_ROWS, [ids])
                    cur.fetchall()
                    cur.execute(RAW_EDGES, [ids, ids])
                    cur.fetchall()
                    return len(ids)

            def one_statement(start, direction=direction):
                with raw.cursor() as cur:
                    cur.execute(walk_sql[direction], {**walk_params[direction], "starts": [start]})
                    ids = [row[0] for row in cur.fetchall()[:MAX_NODES]]
                    cur.execute(RAW_EDGES, [ids, ids])
                    cur.fetchall()
                    return len(ids)

            def json_answer(start, direction=direction):
                sql, params = graph_json.lineage_statement(start, direction=direction, depth=DEPTH,
                                                           max_nodes=MAX_NODES)
                with raw.cursor() as cur:
                    cur.execute(sql, params)
                    body = cur.fetchone()[0]
                # Node count without parsing the body inside the timing: only node objects have a compactly
                # written "depth" key (the envelope's is `"depth" : N`; quotes inside strings are escaped).
                return body.count('"depth":')

            def via_graph(start, direction=direction):
                t = time.process_time()
                server = backend() if backend else 0.0
                result = graph.lineage([start], direction=direction, depth=DEPTH, max_nodes=MAX_NODES)
                if backend:
                    server_cpu[direction] += backend() - server
                cpu[direction].append((time.process_time() - t) * 1000)
                return len(result.nodes)

            methods = {"CTE walk": cte_walk, "CTE answer": cte_answer, "BFS walk": bfs_walk,
                       "BFS answer": bfs_answer, "1-stmt answer": one_statement, "JSON answer": json_answer,
                       "lineage()": via_graph}
            if http_fetch:
                methods["HTTP"] = lambda s, d=direction: http_fetch(d, s)
            figures[direction] = _time(methods, starts[direction])
            if http_fetch:
                http_cpu[direction] = http_fetch.cpu[-len(starts[direction]):]
    finally:
        if http_stop:
            http_stop()
        raw.close()
        connection.close()
    return figures, cpu, (server_cpu if backend else None), http_cpu


def http_cpu_line(samples: list[tuple]) -> str:
    """Mean CPU per HTTP request from fetch.cpu samples: client, gunicorn worker, its PostgreSQL backend."""
    client = statistics.mean(c for c, _w, _b in samples)
    if samples[0][1] is None:
        return f"HTTP mean CPU per request: {client:.2f} ms in this client (server side not readable)"
    worker = statistics.mean(w for _c, w, _b in samples)
    backend = statistics.mean(b for _c, _w, b in samples)
    return (f"HTTP mean CPU per request (/proc, 10 ms ticks): gunicorn worker {worker:.2f} ms + its PostgreSQL "
            f"backend {backend:.2f} ms = {worker + backend:.2f} ms server side; {client:.2f} ms in this client "
            "(requests, JSON decoding)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lineage", description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=100_000, help="graph size (default 100000; goal at 1000000)")
    parser.add_argument("--queries", type=int, default=100, help="start nodes per direction (default 100)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default=None, help="a *_bench PostgreSQL database (default: see above)")
    parser.add_argument("--regenerate", action="store_true", help="generate even when the marker says it exists")
    parser.add_argument("--no-http", dest="http", action="store_false", help="skip the HTTP measurement")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() this process after start-up, as governance/wsgi.py does in every gunicorn worker "
                             "(the HTTP figures have it always)")
    args = parser.parse_args(argv)
    if args.nodes < 10 * LAYERS * 10:
        raise SystemExit(f"--nodes must be at least {10 * LAYERS * 10}")

    url = _database_url(args.database_url)
    _setup_django(url)
    if args.gc_freeze:
        # Python's full collections walk every object the process holds (all of Django's); the served process
        # freezes its start-up objects once (governance/wsgi.py) so that they stop counting. Off by default:
        # the in-process figures are then those of a process without it.
        import gc

        gc.collect()
        gc.freeze()
        print(f"(gc.freeze() after start-up: {gc.get_freeze_count()} objects frozen, in this process only)")
    name = urlparse(url).path.lstrip("/")
    edges = None if args.regenerate else existing(url, args.nodes, args.seed)
    if edges is None:
        print(f"generating {args.nodes} nodes into PostgreSQL {name} (COPY)…", flush=True)
        edges, seconds = generate(url, args.nodes, args.seed)
        print(f"  generated in {seconds:.1f} s", flush=True)
    else:
        print(f"reusing the generated graph in {name} (marker: {args.nodes} nodes, seed {args.seed})")

    figures, cpu, server_cpu, http_cpu = measure(url, args.queries, args.seed, args.http)
    conn = _connect(url)
    with conn.cursor() as cur:
        # Context for the figures: when the tables and indexes outgrow shared_buffers, random walks read
        # pages from the OS cache and the node/edge row fetches, not the walk, dominate.
        cur.execute("SELECT current_setting('shared_buffers'), pg_size_pretty(pg_total_relation_size('lineage_node')),"
                    " pg_size_pretty(pg_total_relation_size('lineage_edge')),"
                    " (SELECT COUNT(*) FROM lineage_node), (SELECT COUNT(*) FROM lineage_edge),"
                    " (SELECT COUNT(*) FROM lineage_edge WHERE valid_to IS NULL)")
        buffers, node_size, edge_size, node_count, edge_count, open_count = cur.fetchone()
    conn.close()
    print(f"\nLineage queries on PostgreSQL {name}: {node_count} nodes, {edge_count} edges ({open_count} open), "
          f"depth {DEPTH}, max_nodes {MAX_NODES}, {args.queries} random start nodes per direction")
    print(f"(shared_buffers {buffers}; lineage_node {node_size}, lineage_edge {edge_size} with indexes; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print("CTE = the plain recursive CTE, BFS = level by level by hand, 1-stmt = lineage()'s own statement; walk = "
          "ids only, answer = node rows and edges like lineage(), all on a bare psycopg2 cursor; JSON answer = the "
          "API's statement on PostgreSQL (the finished response body as text), on the same cursor")
    print(f"{'direction':<11} {'method':<13} {'p50 ms':>8} {'p95 ms':>8} {'mean nodes':>11}")
    for direction, rows in figures.items():
        sizes = {method: sizes for method, (_times, sizes) in rows.items()}
        differ = [method for method, got in sizes.items() if got != sizes["lineage()"]]
        if differ:
            print(f"  !! {direction}: answer sizes differ from lineage() for {', '.join(differ)}")
        for method, (times, got) in rows.items():
            p50, p95 = _percentiles(times)
            print(f"{direction:<11} {method:<13} {p50:8.2f} {p95:8.2f} {statistics.mean(got):11.1f}")
        cpu50, cpu95 = _percentiles(cpu[direction])
        print(f"{direction:<11} {'lineage() CPU':<13} {cpu50:8.2f} {cpu95:8.2f}   (this process's CPU time, ms)")
        if server_cpu is not None:
            print(f"{direction:<11} lineage() mean CPU per query: {statistics.mean(cpu[direction]):.2f} ms here + "
                  f"{server_cpu[direction] * 1000 / len(cpu[direction]):.2f} ms in its PostgreSQL backend (/proc, 10 ms ticks)")
        if direction in http_cpu:
            print(f"{direction:<11} {http_cpu_line(http_cpu[direction])}")
        p95 = {method: _percentiles(times)[1] for method, (times, _sizes) in rows.items()}
        best_raw = min(p95["CTE answer"], p95["BFS answer"], p95["1-stmt answer"])
        line = (f"{direction:<11} lineage() p95 {p95['lineage()']:.1f} ms = {p95['lineage()'] / best_raw:.2f}x the best "
                f"raw answer ({best_raw:.1f} ms), {p95['lineage()'] / p95['CTE answer']:.2f}x the CTE answer")
        line += f"; JSON answer p95 {p95['JSON answer']:.1f} ms"
        if "HTTP" in p95:
            line += f"; HTTP p95 {p95['HTTP']:.1f} ms"
        print(line + "   (goals at 1M nodes: p95 <= 50 ms, <= 2x raw SQL)")
        print(f"ratio: lineage_vs_raw_sql_{direction} {p95['lineage()'] / best_raw:.2f} (goal <= 2)"
              f"   lineage() p95 {p95['lineage()']:.1f} ms / best raw answer p95 {best_raw:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
