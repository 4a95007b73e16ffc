"""Marquez-compatible graph reads beside our own graph endpoint, on one generated graph, in one run.

    python -m bench.marquez_api                     # 1M nodes (generated once, then reused)
    python -m bench.marquez_api --nodes 100000 --queries 30

The graph is bench.lineage's generator (jobs, datasets, runs, dataset versions, ~3 edges per node) in a
database of its own (postgres://…/ll_marquez_bench unless DATABASE_URL names another *_bench database),
plus the rows lineage.store.apply would have kept (each job's current io, lineage.job_io.refresh_all), and
what the column-lineage read needs and the generator does not write: every dataset gets a schema
facet (col_a, col_b) and a columnLineage facet deriving col_a from col_a of two of the datasets its runs
read and col_b from col_b of one (so a field's upstream branches like real SQL lineage, and goes back
through the layers). The facets are written once, marked in `bench_marquez_marker`.

Measured over HTTP against gunicorn (1 sync worker, as `make serve-prod` runs each), keep-alive session,
Bearer token, JSON decoded, interleaved per start dataset (random datasets of the last five layers):
- ours: GET /api/nodes/{id}/lineage/?direction=upstream&depth=10&max_nodes=1000 (bench.lineage's goal
  configuration);
- Marquez lineage, same bound: GET /api/v1/lineage?nodeId=dataset:NS:NAME&depth=5&maxNodes=1000 (Marquez's
  depth counts jobs and walks both ways, so depth 5 reaches further than our depth 10 upstream);
- Marquez lineage as clients call it: depth 5, the default bound (10,000 jobs and datasets);
- Marquez column lineage: GET /api/v1/column-lineage?nodeId=dataset:NS:NAME&depth=5 (upstream, the default).
With --write-cost it measures instead what keeping lineage.job_io's rows adds to the ingest, in-process
on a database of its own (the graph database's name with `_writes` before `_bench`, emptied first): after
--history demo events (devtools.ingest_demo, batches, untimed), rounds of single events (ingest_event, each
its own transaction) and of batches of 250 (ingest_batch), CPU of this process and of its PostgreSQL
backend (/proc) per event, three ways: the refresh as shipped ("kept"), the refresh with every write taking
its full path ("full", lineage.job_io.RERANK = False: the path before the rerank one) and no refresh
("none", lineage.job_io.refresh a no-op, the rows derived again after it, untimed), the way chosen at
random per single event (batches: two each way per round, shuffled); and "old", the call before the rerank
path (every edge item handed to the full refresh, restated ones too).
The demo's jobs run once per generated day, so every event's jobs have a growing run history.

Goals: the Marquez reads at the same bound within 2x our endpoint's p95 (`ratio:` lines); the answers'
sizes are printed beside, since the three answer different questions. Every answer is checked: each
Marquez answer holds its start node and its edges name nodes of the answer; column lineage reaches back
at least one level from every start.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from urllib.parse import urlparse

from bench._server import BENCH_SECRET, Gunicorn, create_engineers, server_env
from bench.lineage import LAYERS, _connect, _database_url, _percentiles, _setup_django, existing, generate

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ll_marquez_bench"
FACETS_VERSION = 1
DEPTH = 5
GOAL = 2.0

_FACETS_SQL = """
WITH produced_by(ds, run) AS (
    SELECT vo.dst_id, p.src_id FROM lineage_edge vo
    JOIN lineage_edge p ON p.dst_id = vo.src_id AND p.kind = 'produced'
    WHERE vo.kind = 'version_of'
),
upstream(ds, up) AS (
    SELECT DISTINCT pb.ds, COALESCE(vo.dst_id, c.src_id)
    FROM produced_by pb
    JOIN lineage_edge c ON c.dst_id = pb.run AND c.kind = 'consumed' AND c.valid_to IS NULL
    LEFT JOIN lineage_edge vo ON vo.src_id = c.src_id AND vo.kind = 'version_of'
),
ranked AS (
    SELECT u.ds, n.namespace, n.name, row_number() OVER (PARTITION BY u.ds ORDER BY u.up) AS k
    FROM upstream u JOIN lineage_node n ON n.id = u.up AND n.kind = 'dataset'
),
facets AS (
    SELECT ds,
           jsonb_agg(jsonb_build_object('namespace', namespace, 'name', name, 'field', 'col_a')) FILTER (WHERE k <= 2) AS a,
           jsonb_agg(jsonb_build_object('namespace', namespace, 'name', name, 'field', 'col_b')) FILTER (WHERE k = 1) AS b
    FROM ranked GROUP BY ds
)
UPDATE lineage_node n SET properties = jsonb_build_object('facets', jsonb_build_object(
    'schema', jsonb_build_object('_producer', 'bench', '_schemaURL', 'bench', 'fields',
        jsonb_build_array(jsonb_build_object('name', 'col_a', 'type', 'INTEGER'),
                          jsonb_build_object('name', 'col_b', 'type', 'TEXT'))),
    'columnLineage', jsonb_build_object('_producer', 'bench', '_schemaURL', 'bench', 'fields', jsonb_build_object(
        'col_a', jsonb_build_object('inputFields', COALESCE(f.a, '[]'::jsonb)),
        'col_b', jsonb_build_object('inputFields', COALESCE(f.b, '[]'::jsonb))))))
FROM facets f WHERE n.id = f.ds
"""


def ensure_graph(url: str, nodes: int, seed: int) -> None:
    name = urlparse(url).path.lstrip("/")
    if existing(url, nodes, seed) is None:
        print(f"generating {nodes} nodes into PostgreSQL {name} (bench.lineage's generator)…", flush=True)
        edges, seconds = generate(url, nodes, seed)
        print(f"  {edges} edges in {seconds:.1f} s", flush=True)
    conn = _connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS bench_marquez_marker (nodes bigint, seed int, version int)")
        cur.execute("SELECT 1 FROM bench_marquez_marker WHERE nodes = %s AND seed = %s AND version = %s",
                    [nodes, seed, FACETS_VERSION])
        made = cur.fetchone() is not None
        # A graph generated again (bench.lineage's generate()) has lost the facets whatever our marker says.
        if made:
            cur.execute("SELECT COUNT(*) FROM lineage_node WHERE kind = 'dataset' AND properties ? 'facets'")
            made = cur.fetchone()[0] > 0
        if not made:
            started = time.perf_counter()
            cur.execute(_FACETS_SQL)
            print(f"  schema and columnLineage facets on {cur.rowcount} datasets in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
            cur.execute("DELETE FROM bench_marquez_marker")
            cur.execute("INSERT INTO bench_marquez_marker VALUES (%s, %s, %s)", [nodes, seed, FACETS_VERSION])
        cur.execute("SELECT NOT EXISTS (SELECT 1 FROM lineage_job_io)")
        rows_missing = cur.fetchone()[0]
    conn.autocommit = True
    if not made:
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE lineage_node")
    conn.close()
    if rows_missing:
        # The generator writes the tables around lineage.store.apply, so the rows apply keeps (each job's
        # current io, lineage.job_io) are derived here once, as migration 0006 does for a populated store.
        from django.db import connection, transaction

        from lineage.job_io import refresh_all

        started = time.perf_counter()
        with transaction.atomic():
            refresh_all()
        with connection.cursor() as cur:
            cur.execute("ANALYZE lineage_job_io")
            cur.execute("ANALYZE lineage_job_latest_run")
        print(f"  current job io rows derived in {time.perf_counter() - started:.1f} s", flush=True)


def _starts(url: str, count: int, seed: int) -> list[tuple[int, str]]:
    rng = random.Random(seed + 2)
    conn = _connect(url)
    with conn.cursor() as cur:
        cur.execute("SELECT id, namespace, name FROM lineage_node WHERE kind = 'dataset' AND namespace = ANY(%s) "
                    "ORDER BY id", [[f"layer{k:02d}" for k in range(LAYERS - 5, LAYERS)]])
        rows = cur.fetchall()
    conn.close()
    return [(pk, f"dataset:{ns}:{name}") for pk, ns, name in (rows[rng.randrange(len(rows))] for _ in range(count))]


def _check_marquez(answer: dict, start: str) -> int:
    ids = {n["id"] for n in answer["graph"]}
    if start not in ids:
        raise SystemExit(f"wrong answer: {start} missing from its own lineage")
    for node in answer["graph"]:
        for edge in node["inEdges"] + node["outEdges"]:
            if edge["origin"] not in ids or edge["destination"] not in ids:
                raise SystemExit(f"wrong answer: an edge of {node['id']} names a node outside the answer")
    return len(ids)


def measure(url: str, queries: int, seed: int) -> dict:
    import requests

    starts = _starts(url, queries, seed)
    token = create_engineers(f"marquez-bench-{int(time.time())}", 1)[0]
    env = server_env(url, DB_CONN_MAX_AGE="86400")
    figures: dict[str, tuple[list[float], list[int]]] = {}
    sizes: dict[str, list[int]] = {}
    with Gunicorn(env, 1, threads=1) as server, requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        base = server.base

        def ours(pk, _node_id):
            r = session.get(f"{base}/api/nodes/{pk}/lineage/",
                            params={"direction": "upstream", "depth": 10, "max_nodes": 1000})
            r.raise_for_status()
            sizes.setdefault("ours (nodes lineage)", []).append(len(r.content))
            body = r.json()
            if not any(n["id"] == pk for n in body["nodes"]):
                raise SystemExit("wrong answer: our lineage misses its start node")
            return len(body["nodes"])

        def marquez(pk, node_id, **extra):
            r = session.get(f"{base}/api/v1/lineage", params={"nodeId": node_id, "depth": DEPTH, **extra})
            r.raise_for_status()
            sizes.setdefault("Marquez lineage, " + ("bound 1000" if extra else "default"), []).append(len(r.content))
            return _check_marquez(r.json(), node_id)

        def column(pk, node_id):
            r = session.get(f"{base}/api/v1/column-lineage", params={"nodeId": node_id, "depth": DEPTH})
            r.raise_for_status()
            sizes.setdefault("Marquez column-lineage", []).append(len(r.content))
            graph = r.json()["graph"]
            prefix = "datasetField:" + node_id.split(":", 1)[1] + ":"
            starts_ = [n for n in graph if n["id"].startswith(prefix)]
            if not starts_ or not any(n["inEdges"] for n in starts_):
                raise SystemExit(f"wrong answer: no column lineage upstream of {node_id}")
            return len(graph)

        methods = {"ours (nodes lineage)": ours,
                   "Marquez lineage, bound 1000": lambda p, n: marquez(p, n, maxNodes=1000),
                   "Marquez lineage, default": marquez,
                   "Marquez column-lineage": column}
        names = list(methods)
        for name in names:
            methods[name](*starts[0])  # warm up
        figures = {name: ([], []) for name in names}
        for i, start in enumerate(starts):
            for name in names[i % len(names):] + names[:i % len(names)]:
                t = time.perf_counter()
                size = methods[name](*start)
                figures[name][0].append((time.perf_counter() - t) * 1000)
                figures[name][1].append(size)
    return figures, sizes


def _backend_cpu(pid: int) -> float:
    """Seconds of CPU the backend has run: /proc/PID/schedstat's nanoseconds where the kernel keeps them
    (a single event costs a few ms, and /proc/PID/stat counts in 10 ms ticks), else stat's ticks."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        pass
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_cost(url: str, history: int, rounds: int, singles: int, batches: int, seed: int) -> None:
    """What lineage.job_io.refresh adds per event: alternating rounds with it and without (see the module
    docstring); prints the medians per event and their difference."""
    from django.contrib.auth.models import Group
    from django.db import connection

    from common.audit import context
    from devtools.ingest_demo import generate_events
    from lineage import job_io
    from lineage.ingest import service
    from lineage.models import Edge, JobIO, Node

    with connection.cursor() as cur:
        cur.execute("TRUNCATE lineage_edge, lineage_noderevision, lineage_node, lineage_rawrecord, "
                    "lineage_job_io, lineage_job_latest_run CASCADE")
    create_engineers(f"marquez-writes-{int(time.time())}", 1)
    from django.contrib.auth import get_user_model
    user = get_user_model().objects.filter(groups__in=Group.objects.filter(name="engineer")).order_by("-pk").first()
    feed = iter(())
    counter = [seed * 1000]

    def events(n):
        nonlocal feed
        out = []
        while len(out) < n:
            nxt = next(feed, None)
            if nxt is None:
                counter[0] += 1
                feed = iter(generate_events(seed=counter[0], n_pipelines=12))
                continue
            out.append(nxt)
        return out

    real = job_io.refresh

    def none(*a, **k):
        return None

    # Modes: "kept", the refresh as shipped (the rerank path for writes that open and close no edge);
    # "full", every write through the full refresh (job_io.RERANK = False); "old", the call as it was
    # before the rerank path: the full refresh handed every edge item of the write, restated ones too
    # (their versions' readers looked up), not only those that opened or closed an edge; "none", no
    # refresh. Chosen at random per single event and per batch (turns would follow the demo's
    # near-regular pattern: a run's START, then its COMPLETE), so that the machine's load drift falls on
    # them alike. "none" leaves the rows false: they are derived again after it, untimed.
    modes = ("kept", "full", "old", "none")
    from lineage import store
    apply_edges = store._Session.apply_edges

    def apply_edges_old(session, items):
        apply_edges(session, items)
        session.edge_changes = list(items)
    with context.acting_as(context.for_user(user, service="bench:marquez-writes")):
        for start in range(0, history, 250):
            service.ingest_batch(events(min(250, history - start)), user)
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
        per: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        pick = random.Random(seed)
        for _ in range(rounds):
            for label, size in (("single", 1), ("batch of 250", 250)):
                sums = {}
                # Singles: a way at random per event; batches: `batches` per way and round, shuffled.
                order = ([pick.choice(modes) for _ in range(singles)] if size == 1
                         else pick.sample(modes * batches, len(modes) * batches))
                for mode in order:
                    chunk = events(size)
                    job_io.refresh = none if mode == "none" else real
                    job_io.RERANK = mode == "kept"
                    if mode == "old":
                        store._Session.apply_edges = apply_edges_old
                    try:
                        app, db = time.process_time(), _backend_cpu(pid)
                        if size == 1:
                            service.ingest_event(chunk[0], user)
                        else:
                            service.ingest_batch(chunk, user)
                        app, db = time.process_time() - app, _backend_cpu(pid) - db
                    finally:
                        job_io.refresh = real
                        job_io.RERANK = True
                        store._Session.apply_edges = apply_edges
                    if mode == "none":
                        job_io.refresh_all()
                    got = sums.setdefault(mode, [0, 0.0, 0.0])
                    got[0] += len(chunk)
                    got[1] += app
                    got[2] += db
                for mode, (count, app, db) in sums.items():
                    per.setdefault((label, mode), []).append(
                        ((app + db) * 1000 / count, app * 1000 / count, db * 1000 / count))
    print(f"\nkeeping lineage.job_io's rows, in-process on PostgreSQL, {Node.objects.count()} nodes, "
          f"{Edge.objects.count()} edges, {JobIO.objects.count()} job io rows; {rounds} rounds "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print("CPU per event, medians over rounds (app = this process, PG = its backend); added = over no refresh;")
    print("kept = the refresh as shipped (rerank path where no edge opened or closed), full = every write recomputed,")
    print("old = every write recomputed with the jobs and versions of every edge item (the call before the rerank path)")
    print(f"{'ingest':<14} {'none ms':>8}" + "".join(
        f" {name:>7} {'added':>7} {'added %':>8} {'app':>6} {'PG':>6} " for name in ("kept", "full", "old")))
    for label in ("single", "batch of 250"):
        med = {mode: [statistics.median(x[i] for x in per[(label, mode)]) for i in range(3)] for mode in modes}
        off = med["none"]
        line = f"{label:<14} {off[0]:8.3f}"
        for mode in ("kept", "full", "old"):
            on = med[mode]
            line += (f" {on[0]:7.3f} {on[0] - off[0]:7.3f} {100 * (on[0] - off[0]) / off[0]:7.1f}% "
                     f"{on[1] - off[1]:6.3f} {on[2] - off[2]:6.3f} ")
        print(line)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.marquez_api", description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=1_000_000, help="graph size (default 1000000)")
    parser.add_argument("--queries", type=int, default=30, help="start datasets (default 30)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default=None, help="a *_bench PostgreSQL database (default: see above)")
    parser.add_argument("--write-cost", action="store_true",
                        help="measure what keeping lineage.job_io's rows adds to the ingest instead (see above)")
    parser.add_argument("--history", type=int, default=3000, help="--write-cost: events stored first (default 3000)")
    parser.add_argument("--rounds", type=int, default=6, help="--write-cost: rounds, each running every way once (default 6)")
    parser.add_argument("--singles", type=int, default=100,
                        help="--write-cost: single events per round and block (default 100)")
    args = parser.parse_args(argv)
    if args.write_cost:
        url = _database_url(args.database_url, DEFAULT_URL)
        base, _, _ = url.rpartition("_bench")
        url = base + "_writes_bench"
        os.environ.setdefault("SECRET_KEY", BENCH_SECRET)
        _setup_django(url)
        write_cost(url, args.history, args.rounds, singles=args.singles, batches=2, seed=args.seed)
        return 0
    if args.nodes < 10 * LAYERS * 10:
        raise SystemExit(f"--nodes must be at least {10 * LAYERS * 10}")
    url = _database_url(args.database_url, DEFAULT_URL)
    os.environ.setdefault("SECRET_KEY", BENCH_SECRET)
    _setup_django(url)
    ensure_graph(url, args.nodes, args.seed)
    figures, body_sizes = measure(url, args.queries, args.seed)
    print(f"\nMarquez-compatible reads beside ours, HTTP on gunicorn (1 sync worker), {args.nodes} nodes, "
          f"{args.queries} random start datasets, depth {DEPTH} for the Marquez reads "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"{'endpoint':<30} {'p50 ms':>8} {'p95 ms':>8} {'mean nodes':>11} {'mean KB':>9}")
    p95 = {}
    for name, (times, sizes) in figures.items():
        p50, p95[name] = _percentiles(times)
        kb = statistics.mean(body_sizes[name]) / 1024
        print(f"{name:<30} {p50:8.1f} {p95[name]:8.1f} {statistics.mean(sizes):11.1f} {kb:9.0f}")
    ours = p95["ours (nodes lineage)"]
    print(f"ratio: marquez_lineage_p95_vs_ours {p95['Marquez lineage, bound 1000'] / ours:.2f} (goal <= {GOAL:g})")
    print(f"ratio: marquez_column_lineage_p95_vs_ours {p95['Marquez column-lineage'] / ours:.2f} (goal <= {GOAL:g})")
    print(f"ratio: marquez_lineage_default_bound_p95_vs_ours {p95['Marquez lineage, default'] / ours:.2f} "
          "(printed: up to 10x the nodes of the others)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
