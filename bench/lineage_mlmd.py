"""Lineage queries beside ML Metadata's get_lineage_subgraph, on the same artifact/execution graph.

    python -m bench.lineage_mlmd                    # 1M nodes / ~3M edges (bench.lineage's graph, generated once)
    python -m bench.lineage_mlmd --nodes 100000     # a smaller graph
    python -m bench.lineage_mlmd --queries 50 --no-http
    python -m bench.lineage_mlmd --http-threads 4   # gunicorn as `make serve-prod` runs it (gthread, keep-alive)

The graph is bench.lineage's (same database rules, same generator and marker, so a graph that benchmark
made is reused and the other way round). ML Metadata only knows artifacts, executions and the events
between them, so its store holds the part of our graph that maps onto that, loaded identically:
- artifacts  = our `dataset` and `dataset_version` nodes (same ids), executions = our `run` nodes (same ids);
- INPUT events = our open `consumed` edges (artifact -> run), OUTPUT events = our open `produced` edges
  (run -> artifact).
Left out: jobs and their `instance_of` edges, `version_of` edges (version -> dataset), and the 1% of
`consumed` edges that are closed (MLMD events cannot close). Our side walks exactly that subgraph: the
current graph (closed edges drop out) with edge_kinds=consumed,produced, so jobs are never reached and
version_of is never followed. A hop is one event / one edge on both sides, depth 10 = max_num_hops 10.

MLMD has no answer cap, so our side is asked for max_nodes=10000 (the API's maximum): the compared answers
are the whole depth-10 subgraph on both sides (the bench says so if any of ours was truncated), and a few
start nodes are checked to give the same node sets (edges: MLMD returns the events its walk followed, we
return every edge between the returned nodes, so its events must be among ours).

The MLMD store is an SQLite file that MLMD itself creates (ConnectionConfig.sqlite, so MLMD makes its own
schema and types); the rows then go straight into MLMD's tables with sqlite3 (put_* calls would take hours
at this size), and every query goes through `MetadataStore.get_lineage_subgraph` only, asking for what our
answer holds: artifacts and executions with their details, and the events (no types, no contexts).
MLMD runs in this process (its C++ library on the SQLite file); ours is lineage.graph.lineage() in this
process against PostgreSQL, and GET /api/nodes/{id}/lineage/ on gunicorn. Goals (issue 18, ratios from this
one run): lineage() p95 / MLMD p95 <= 0.8 each way, HTTP p95 / MLMD in-process p95 <= 1.0; printed as
`ratio:` lines. CPU time is printed too: MLMD's is all in this process; ours is this process's plus its
PostgreSQL backend's (from /proc).

Which row is "our query layer": get_lineage_subgraph hands back objects (protobuf messages) and so does
lineage() (rows read by attribute like model instances: every column its callers read, node properties
only when a caller asks for them, as the dashboard and the provenance card do; the MLMD store here holds
no properties either); that pair is the like-for-like comparison and the goal is stated on it.
lineage() runs one statement (lineage.graph_answer: walk, node rows, edges from the walk's side: those the
walk followed, plus a lookup for the nodes of its last level) and wraps each row in a tuple subclass
(lineage.graph_answer.NodeRow / EdgeRow), whose timestamps stay PostgreSQL's text until an attribute is read
(then a datetime, as the model's), much as MLMD's protobuf messages make Python values of their fields only
when read; neither side reads its fields inside the timing (check_same_answers compares the node and edge sets
outside it; tests/lineage/test_lineage_rows_timestamps.py holds the timestamps to the driver's datetimes).
The "body" row is lineage.graph_answer.body(): the same single statement with only the response's columns, the tuples
serialised by orjson, i.e. the bytes the API sends; it is finished text, not objects, so it has a ratio line
of its own and is never counted as lineage(). The "JSON stmt" row is lineage.graph_json.lineage_json(), the
body the API sent on PostgreSQL before (json_agg in the database), for comparison.
The "walk only" row is the floor under all of ours: the one-statement walk lineage() runs on PostgreSQL,
returning only (id, depth) pairs — no node rows, no edges, no objects — on a bare psycopg2 cursor. No query
layer that answers from this store in PostgreSQL can be faster than its walk, so "MLMD p95 / walk-only p95"
is the most that layer could ever reach against the 3x goal.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from bench import lineage as base

DEPTH = base.DEPTH
MAX_NODES = 10_000
EDGE_KINDS = ["consumed", "produced"]
LOADER_VERSION = 1
CHECKED_STARTS = 5


# -- the MLMD store ---------------------------------------------------------------------------------------
def _mlmd_config(path: Path):
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return config


def _graph_marker(url: str) -> dict:
    conn = base._connect(url)
    with conn.cursor() as cur:
        cur.execute("SELECT nodes, edges, seed, version, made_at FROM bench_lineage_marker")
        nodes, edges, seed, version, made_at = cur.fetchone()
    conn.close()
    return {"nodes": nodes, "edges": edges, "seed": seed, "generator": version, "made_at": made_at.isoformat(),
            "loader": LOADER_VERSION}


def _millis(value) -> int:
    return int(value.timestamp() * 1000)


def load_mlmd(url: str, path: Path) -> tuple[dict, float]:
    """Create an MLMD store at `path` and fill it from the PostgreSQL graph; returns (row counts, seconds)."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    started = time.perf_counter()
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    store = metadata_store.MetadataStore(_mlmd_config(path))
    type_ids = {
        "dataset": store.put_artifact_type(metadata_store_pb2.ArtifactType(name="Dataset")),
        "dataset_version": store.put_artifact_type(metadata_store_pb2.ArtifactType(name="DatasetVersion")),
        "run": store.put_execution_type(metadata_store_pb2.ExecutionType(name="Run")),
    }
    del store
    live = sqlite3.connect(path)
    live.execute("PRAGMA journal_mode=OFF")
    live.execute("PRAGMA synchronous=OFF")
    pg = base._connect(url)
    counts = {}
    try:
        with pg:
            nodes = pg.cursor(name="mlmd_nodes")
            nodes.itersize = 50_000
            nodes.execute("SELECT id, kind, source_id, namespace, name, first_seen FROM lineage_node"
                          " WHERE kind IN ('dataset', 'dataset_version', 'run') ORDER BY id")
            artifacts, executions = [], []
            counts.update(artifacts=0, executions=0)

            def flush():
                live.executemany("INSERT INTO Artifact (id, type_id, uri, state, name, create_time_since_epoch,"
                                 " last_update_time_since_epoch) VALUES (?, ?, ?, 2, ?, ?, ?)", artifacts)
                live.executemany("INSERT INTO Execution (id, type_id, last_known_state, name, create_time_since_epoch,"
                                 " last_update_time_since_epoch) VALUES (?, ?, 3, ?, ?, ?)", executions)
                counts["artifacts"] += len(artifacts)
                counts["executions"] += len(executions)
                artifacts.clear()
                executions.clear()

            for node_id, kind, source_id, namespace, name, first_seen in nodes:
                t = _millis(first_seen)
                if kind == "run":
                    executions.append((node_id, type_ids[kind], source_id, t, t))
                else:
                    artifacts.append((node_id, type_ids[kind], f"{namespace}/{name}", source_id, t, t))
                if len(artifacts) + len(executions) >= 100_000:
                    flush()
            flush()
            nodes.close()
            edges = pg.cursor(name="mlmd_edges")
            edges.itersize = 100_000
            # INPUT = 3, OUTPUT = 4 (metadata_store_pb2.Event.Type)
            edges.execute("SELECT src_id, dst_id, kind, valid_from FROM lineage_edge"
                          " WHERE valid_to IS NULL AND kind IN ('consumed', 'produced') ORDER BY id")
            batch, counts["events"] = [], 0
            for src, dst, kind, valid_from in edges:
                if kind == "consumed":
                    batch.append((src, dst, metadata_store_pb2.Event.INPUT, _millis(valid_from)))
                else:
                    batch.append((dst, src, metadata_store_pb2.Event.OUTPUT, _millis(valid_from)))
                if len(batch) >= 100_000:
                    live.executemany("INSERT INTO Event (artifact_id, execution_id, type, milliseconds_since_epoch)"
                                     " VALUES (?, ?, ?, ?)", batch)
                    counts["events"] += len(batch)
                    batch.clear()
            live.executemany("INSERT INTO Event (artifact_id, execution_id, type, milliseconds_since_epoch)"
                             " VALUES (?, ?, ?, ?)", batch)
            counts["events"] += len(batch)
            edges.close()
        live.commit()
    finally:
        pg.close()
        live.close()
    return counts, time.perf_counter() - started


def mlmd_store(url: str, nodes: int) -> tuple[object, dict]:
    """The MLMD store for the current PostgreSQL graph: reused when its sidecar marker matches the graph's
    marker (same size, seed and generation time), else loaded afresh."""
    from ml_metadata.metadata_store import metadata_store

    marker = _graph_marker(url)
    folder = Path(os.environ.get("LL_DATA_DIR", "/tmp/ll_lineage_bench"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"mlmd_{urlparse(url).path.lstrip('/')}_{nodes}.sqlite"
    sidecar = path.with_suffix(".json")
    saved = json.loads(sidecar.read_text()) if sidecar.exists() and path.exists() else None
    if saved is None or saved.get("graph") != marker:
        print(f"loading the artifact/execution graph into an MLMD SQLite store at {path}…", flush=True)
        counts, seconds = load_mlmd(url, path)
        print(f"  {counts['artifacts']} artifacts, {counts['executions']} executions, {counts['events']} events "
              f"in {seconds:.1f} s", flush=True)
        sidecar.write_text(json.dumps({"graph": marker, "counts": counts}))
    else:
        counts = saved["counts"]
        print(f"reusing the MLMD store at {path}")
    return metadata_store.MetadataStore(_mlmd_config(path)), counts


def mlmd_lineage(store, direction: str, start: int):
    from ml_metadata.proto import metadata_store_pb2

    options = metadata_store_pb2.LineageSubgraphQueryOptions(
        starting_artifacts=metadata_store_pb2.LineageSubgraphQueryOptions.StartingNodes(filter_query=f"id = {start}"),
        max_num_hops=DEPTH,
        direction=(metadata_store_pb2.LineageSubgraphQueryOptions.UPSTREAM if direction == "upstream"
                   else metadata_store_pb2.LineageSubgraphQueryOptions.DOWNSTREAM),
    )
    return store.get_lineage_subgraph(options, ["artifacts", "executions", "events"])


# -- measuring ------------------------------------------------------------------------------------------
def check_same_answers(store, starts: dict[str, list[int]], http_fetch) -> bool:
    """Same node sets, and MLMD's events among our edges, for the first few start nodes."""
    from lineage import graph

    ok = True
    print("same answers? (node ids equal; every MLMD event among our edges):")
    for direction, ids in starts.items():
        for start in ids[:CHECKED_STARTS]:
            theirs = mlmd_lineage(store, direction, start)
            their_nodes = {a.id for a in theirs.artifacts} | {e.id for e in theirs.executions}
            ours = graph.lineage([start], direction=direction, depth=DEPTH, edge_kinds=EDGE_KINDS, max_nodes=MAX_NODES)
            our_nodes = {n.pk for n in ours.nodes}
            # MLMD returns the events its walk followed; we return every edge between the returned nodes
            # (also those leaving the last level), so its events must be a subset of our edges.
            our_pairs = {(e.src_id, e.dst_id) if e.kind == "consumed" else (e.dst_id, e.src_id) for e in ours.edges}
            their_pairs = {(ev.artifact_id, ev.execution_id) for ev in theirs.events}
            same = our_nodes == their_nodes and their_pairs <= our_pairs and not ours.truncated
            new_body = json.loads(body_lineage(direction, start))
            same = same and new_body["nodes"] == json.loads(json_lineage(direction, start))["nodes"]
            same = same and {e["id"] for e in new_body["edges"]} == {e.pk for e in ours.edges}
            body = json.loads(json_lineage(direction, start))
            json_nodes = {n["id"] for n in body["nodes"]}
            same = (same and json_nodes == our_nodes and {e["id"] for e in body["edges"]} == {e.pk for e in ours.edges}
                    and body["nodes"][0]["depth"] == 0 and not body["truncated"])
            line = (f"  {direction:<10} start {start}: MLMD {len(their_nodes)} nodes / {len(theirs.events)} events, "
                    f"lineage() {len(our_nodes)} nodes / {len(ours.edges)} edges, "
                    f"JSON stmt {len(json_nodes)} nodes / {len(body['edges'])} edges")
            if http_fetch is not None:
                body = http_fetch(direction, start, edge_kinds=",".join(EDGE_KINDS), max_nodes=MAX_NODES, answer=True)
                http_nodes = {n["id"] for n in body["nodes"]}
                same = same and http_nodes == our_nodes and len(body["edges"]) == len(ours.edges)
                line += f", HTTP {len(http_nodes)} nodes / {len(body['edges'])} edges"
            print(line + ("  same" if same else "  DIFFERENT"))
            ok = ok and same
    return ok


def body_lineage(direction: str, start: int) -> bytes:
    """The response body GET /api/nodes/{start}/lineage/ sends: one statement, tuples, orjson."""
    from lineage import graph_answer

    return graph_answer.body(start, direction=direction, depth=DEPTH, edge_kinds=EDGE_KINDS, max_nodes=MAX_NODES)


def json_lineage(direction: str, start: int) -> bytes:
    """The response body the API sent on PostgreSQL before issue 18, built by json_agg in the database."""
    from lineage import graph_json

    return graph_json.lineage_json(start, direction=direction, depth=DEPTH, edge_kinds=EDGE_KINDS,
                                   max_nodes=MAX_NODES)


def measure(url: str, store, queries: int, seed: int, http: bool, http_threads: int = 1):
    from django.db import connection

    from lineage import graph

    starts = base._starts(url, queries, seed)
    figures, cpu, truncated = {}, {"MLMD": {}, "lineage()": {}, "body": {}, "JSON stmt": {}}, 0
    server_cpu = {name: {"upstream": 0.0, "downstream": 0.0} for name in ("lineage()", "body", "JSON stmt")}
    backend = base.backend_cpu_reader()
    http_cpu: dict[str, list] = {}
    raw = base._connect(url)
    raw.autocommit = True
    walk_sql, walk_params = {}, {}
    for direction in ("upstream", "downstream"):
        walk_sql[direction], walk_params[direction] = graph._walk_statement(
            [0], (direction,), DEPTH, None, EDGE_KINDS, None, MAX_NODES + 1, False)
    http_fetch, http_stop = base._http_runner(url, http_threads) if http else (None, None)
    try:
        same = check_same_answers(store, starts, http_fetch)
        for direction in ("upstream", "downstream"):
            for method in cpu:
                cpu[method][direction] = []

            def via_mlmd(start, direction=direction):
                t = time.process_time()
                answer = mlmd_lineage(store, direction, start)
                cpu["MLMD"][direction].append((time.process_time() - t) * 1000)
                return len(answer.artifacts) + len(answer.executions)

            def via_graph(start, direction=direction):
                nonlocal truncated
                t = time.process_time()
                server = backend() if backend else 0.0
                result = graph.lineage([start], direction=direction, depth=DEPTH, edge_kinds=EDGE_KINDS,
                                       max_nodes=MAX_NODES)
                if backend:
                    server_cpu["lineage()"][direction] += backend() - server
                cpu["lineage()"][direction].append((time.process_time() - t) * 1000)
                truncated += result.truncated
                return len(result.nodes)

            def via_body(start, direction=direction):
                t = time.process_time()
                server = backend() if backend else 0.0
                body = body_lineage(direction, start)
                if backend:
                    server_cpu["body"][direction] += backend() - server
                cpu["body"][direction].append((time.process_time() - t) * 1000)
                return body.count(b'"depth":') - 1  # orjson writes compactly: the envelope's "depth" too

            def via_json(start, direction=direction):
                t = time.process_time()
                server = backend() if backend else 0.0
                body = json_lineage(direction, start)
                if backend:
                    server_cpu["JSON stmt"][direction] += backend() - server
                cpu["JSON stmt"][direction].append((time.process_time() - t) * 1000)
                # The node count without parsing 200 KB inside the timing: every node object, and nothing
                # else, has a "depth" key written compactly (the envelope's is `"depth" : N`; inside JSON
                # strings a quote is always escaped). check_same_answers parses whole answers.
                return body.count(b'"depth":')

            def walk_only(start, direction=direction):
                # The floor: the walk alone (ids and depths, no node rows, no edges) on a bare cursor.
                with raw.cursor() as cur:
                    cur.execute(walk_sql[direction], {**walk_params[direction], "starts": [start]})
                    return len(cur.fetchall()[:MAX_NODES])

            methods = {"MLMD": via_mlmd, "lineage()": via_graph, "body": via_body, "JSON stmt": via_json,
                       "walk only": walk_only}
            if http_fetch:
                methods["HTTP"] = lambda s, d=direction: http_fetch(d, s, edge_kinds=",".join(EDGE_KINDS),
                                                                    max_nodes=MAX_NODES)
            figures[direction] = base._time(methods, starts[direction])
            if http_fetch:
                http_cpu[direction] = http_fetch.cpu[-len(starts[direction]):]
    finally:
        if http_stop:
            http_stop()
        raw.close()
        connection.close()
    return figures, cpu, (server_cpu if backend else None), same, truncated, http_cpu


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lineage_mlmd", description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=1_000_000, help="graph size (default 1000000, issue 18's goals)")
    parser.add_argument("--queries", type=int, default=100, help="start nodes per direction (default 100)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default=None, help="a *_bench PostgreSQL database (see bench.lineage)")
    parser.add_argument("--no-http", dest="http", action="store_false", help="skip the HTTP measurement")
    parser.add_argument("--http-threads", type=int, default=1,
                        help="1 (default): a sync gunicorn worker, a new connection per request; N > 1: a gthread "
                             "worker of N threads keeping the connection open, as `make serve-prod` runs")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() this process after start-up (in-process figures only; not gunicorn's)")
    args = parser.parse_args(argv)
    if args.nodes < 10 * base.LAYERS * 10:
        raise SystemExit(f"--nodes must be at least {10 * base.LAYERS * 10}")

    url = base._database_url(args.database_url)
    base._setup_django(url)
    if args.gc_freeze:
        # Python's full collections walk every object the process holds (all of Django's); a served process
        # would freeze its start-up objects once (gc.freeze() after loading the WSGI application) so that
        # they stop counting. Off by default: the in-process figures are then those of a process without it.
        import gc

        gc.collect()
        gc.freeze()
        print(f"(gc.freeze() after start-up: {gc.get_freeze_count()} objects frozen, in this process only)")
    name = urlparse(url).path.lstrip("/")
    edges = base.existing(url, args.nodes, args.seed)
    if edges is None:
        print(f"generating {args.nodes} nodes into PostgreSQL {name} (COPY)…", flush=True)
        edges, seconds = base.generate(url, args.nodes, args.seed)
        print(f"  generated in {seconds:.1f} s", flush=True)
    else:
        print(f"reusing the generated graph in {name} (marker: {args.nodes} nodes, seed {args.seed})")
    store, counts = mlmd_store(url, args.nodes)

    figures, cpu, server_cpu, same, truncated, http_cpu = measure(url, store, args.queries, args.seed, args.http,
                                                                  args.http_threads)
    import ml_metadata

    print(f"\nLineage subgraph queries, depth {DEPTH} (max_num_hops {DEPTH}), {args.queries} random start nodes per "
          f"direction; graph {args.nodes} nodes / {edges} edges in PostgreSQL {name}, of which the "
          f"artifact/execution part: {counts['artifacts']} artifacts, {counts['executions']} executions, "
          f"{counts['events']} events (ml-metadata {ml_metadata.__version__}, SQLite, in this process)")
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; CPU = this process's CPU time: all of "
          "MLMD's work, but only the client side of ours, PostgreSQL works in its own process)")
    if truncated:
        print(f"  !! {truncated} of our answers were truncated at max_nodes={MAX_NODES}: not the same answer as MLMD's")
    if not same:
        print("  !! the answers differ (see above): the figures below do not compare like with like")
    print("MLMD and lineage() return objects (protobuf messages; row objects read like model instances): the like-for-like query layer "
          "comparison. body = graph_answer.body(), the bytes the API sends (one statement, orjson); JSON stmt = "
          "graph_json.lineage_json(), the body it sent before. HTTP = the API on gunicorn, JSON decoded by the client"
          f" ({'a sync worker, a new connection per request' if args.http_threads <= 1 else f'a gthread worker of {args.http_threads} threads, one kept-alive connection'}).")
    print(f"{'direction':<11} {'method':<10} {'p50 ms':>8} {'p95 ms':>8} {'CPU p50':>8} {'CPU p95':>8} {'mean nodes':>11}")
    for direction, rows in figures.items():
        for method, (times, sizes) in rows.items():
            p50, p95 = base._percentiles(times)
            cpu_cols = (" ".join(f"{v:8.2f}" for v in base._percentiles(cpu[method][direction]))
                        if method in cpu else f"{'':8} {'':8}")
            print(f"{direction:<11} {method:<10} {p50:8.2f} {p95:8.2f} {cpu_cols} {statistics.mean(sizes):11.1f}")
        if server_cpu is not None:
            theirs = statistics.mean(cpu["MLMD"][direction])
            parts = [f"MLMD {theirs:.2f} ms (all of it)"]
            for method in ("lineage()", "body", "JSON stmt"):
                ours = statistics.mean(cpu[method][direction])
                server = server_cpu[method][direction] * 1000 / len(cpu[method][direction])
                parts.append(f"{method} {ours:.2f} ms here + {server:.2f} ms in its PostgreSQL backend = "
                             f"{ours + server:.2f} ms")
            print(f"{direction:<11} mean CPU per query (backend from /proc, 10 ms ticks): " + "; ".join(parts))
        if direction in http_cpu:
            print(f"{direction:<11} {base.http_cpu_line(http_cpu[direction])}")
        p95 = {method: base._percentiles(times)[1] for method, (times, _sizes) in rows.items()}
        print(f"ratio: lineage_vs_mlmd_{direction} {p95['lineage()'] / p95['MLMD']:.2f} (goal <= 0.8)"
              f"   lineage() p95 {p95['lineage()']:.2f} ms (row objects) / MLMD p95 {p95['MLMD']:.2f} ms")
        print(f"ratio: lineage_body_vs_mlmd_{direction} {p95['body'] / p95['MLMD']:.2f} (goal <= 0.8)"
              f"   graph_answer.body() p95 {p95['body']:.2f} ms (the API's bytes, orjson) / MLMD p95 {p95['MLMD']:.2f} ms")
        if "HTTP" in p95:
            print(f"ratio: http_vs_mlmd_{direction} {p95['HTTP'] / p95['MLMD']:.2f} (goal <= 1.0)"
                  f"   HTTP p95 {p95['HTTP']:.2f} ms / MLMD in-process p95 {p95['MLMD']:.2f} ms")
        print(f"{direction:<11} the floor: walk only p95 {p95['walk only']:.2f} ms = {p95['walk only'] / p95['MLMD']:.2f}"
              " of MLMD p95 (the walk alone, ids only, nothing else fetched: no query layer over this store in"
              f" PostgreSQL can go below it); the previous JSON stmt p95 {p95['JSON stmt']:.2f} ms ="
              f" {p95['JSON stmt'] / p95['MLMD']:.2f} of MLMD")
    return 0 if same and not truncated else 1


if __name__ == "__main__":
    sys.exit(main())
