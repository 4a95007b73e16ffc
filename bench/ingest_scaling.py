"""OpenLineage ingest with 1 vs 2 gunicorn workers under the same client load: does a second API worker help?

    python -m bench.ingest_scaling                          # 8 clients x 1,000 events, 1 then 2 workers
    python -m bench.ingest_scaling --events 200             # a short dev run
    python -m bench.ingest_scaling --worker-counts 1,2,4

For each worker count: a fresh PostgreSQL database (`DATABASE_URL`, default
postgres://postgres@127.0.0.1:5432/ll_scalebench_scaling_bench, dropped, re-created, migrated), gunicorn with
that many worker processes of 4 threads (DEBUG off, as `make serve-prod` runs them), and the load of bench.load: `--clients` client
processes with a token each, posting their own distinct events one per request (`--batch-size` for batches),
each acknowledged before the next. No abandoned attempts or re-sends here (bench.load measures those): the
figure is plain ingest throughput. Every run is still checked as bench.load checks (each event stored exactly
once, the graph as the events name it, no 5xx); a failed check fails the benchmark.

Printed per worker count: events/s, p50/p95 latency, and the CPU milliseconds per event of the server
processes, of their PostgreSQL backends and of the clients (from /proc); then the ratio of the throughputs.

What bounds the ratio: one worker process runs Python on one core at a time (its threads share the
interpreter lock), and its requests spend part of their time waiting (on PostgreSQL, on the WAL flush of a
commit) rather than computing; a second process computes on the other core and fills those waits, so the ratio can approach 2 only while CPU is free. On a 2-core machine it is not: the clients,
the server and PostgreSQL share the same two cores, so throughput stops at about 2 cores / (server + database
+ client CPU per event), printed as "CPU ceiling". When the 1-worker figure is already near that ceiling the
ratio stays near 1 however well the server scales; on a shared machine other load lowers both figures.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ll_scalebench_scaling_bench"


def measure(database_url: str, workers: int, clients: int, per_client: int, batch_size: int, seed: int,
            analyze_every: float) -> dict:
    from bench._server import Autoanalyze, CpuMeter, Gunicorn, create_engineers, fresh_migrated_database, server_env
    from bench.load import DEFAULT_CACHE, client_events, percentile_ms, run_clients, verify

    events = client_events(seed, clients, per_client)
    flat = [e for own in events for e in own]
    fresh_migrated_database(database_url)
    tokens = create_engineers(f"scaling-{seed}-{workers}", clients)
    env = server_env(database_url, INGEST_RATE_LIMIT="1000000/minute", CACHE_URL=DEFAULT_CACHE)
    load = os.getloadavg()[0]
    with Gunicorn(env, workers) as server:
        meter = CpuMeter(server)
        with Autoanalyze(database_url, analyze_every):
            report = run_clients(server.base, tokens, events, batch_size=batch_size, resend_share=0.0,
                                 abort_share=0.0, seed=seed, on_start=meter.__enter__)
            meter.__exit__(None, None, None)
    problems = verify(flat, report, batch_size=batch_size)
    n = len(flat)
    return {
        "workers": workers, "events": n, "wall": report["wall"], "eps": n / report["wall"],
        "p50": percentile_ms(report["latencies"], 50), "p95": percentile_ms(report["latencies"], 95),
        "server_ms": meter.app_cpu * 1000 / n, "db_ms": meter.db_cpu * 1000 / n,
        "client_ms": report["client_cpu"] * 1000 / n, "statuses": dict(report["statuses"]),
        "problems": problems, "load": load,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_scaling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8, help="concurrent client processes (default 8)")
    parser.add_argument("--events", type=int, default=1000, help="distinct events per client per run (default 1000)")
    parser.add_argument("--worker-counts", default="1,2", help="gunicorn worker counts to compare (default 1,2)")
    parser.add_argument("--batch-size", type=int, default=1, help="events per request (default 1)")
    parser.add_argument("--analyze-every", type=float, default=30.0,
                        help="seconds between ANALYZEs standing in for autoanalyze (0: none; default 30)")
    parser.add_argument("--seed", type=int, default=None, help="event seed (default: time-based)")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.worker_counts.split(",") if c.strip()]
    if not counts or min(counts) < 1 or args.clients < 1 or args.events < 1 or args.batch_size < 1:
        parser.error("worker counts, --clients, --events and --batch-size must be at least 1")
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not database_url.startswith("postgres"):
        raise SystemExit("bench.ingest_scaling measures PostgreSQL: set DATABASE_URL to a postgres:// URL")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench._server import SERVE_THREADS, database_name, setup_django

    setup_django(database_url)
    seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000
    cpus = len(os.sched_getaffinity(0))
    mode = "one event per request" if args.batch_size == 1 else f"batches of {args.batch_size}"
    print(f"ingest scaling: {args.clients} client processes x {args.events} events ({mode}) per run, gunicorn "
          f"workers {counts} of {SERVE_THREADS} threads each, each run on a fresh PostgreSQL {database_name(database_url)}  [{cpus} CPUs]")
    results, failed = [], False
    for workers in counts:
        r = measure(database_url, workers, args.clients, args.events, args.batch_size, seed, args.analyze_every)
        results.append(r)
        total_ms = r["server_ms"] + r["db_ms"] + r["client_ms"]
        print(f"  {workers} worker{'s' if workers > 1 else ' '}: {r['eps']:8.1f} events/s  ({r['events']} events in "
              f"{r['wall']:.1f} s; p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms; load average {r['load']:.1f} before)")
        print(f"             CPU per event: server {r['server_ms']:.2f} ms, PostgreSQL {r['db_ms']:.2f} ms, clients "
              f"{r['client_ms']:.2f} ms -> CPU ceiling on {cpus} cores {cpus * 1000 / total_ms:.0f} events/s")
        if r["problems"]:
            failed = True
            print("    FAILED: " + "; ".join(r["problems"][:10]))
    base = results[0]
    for r in results[1:]:
        print(f"  scaling {base['workers']} -> {r['workers']} workers: x{r['eps'] / base['eps']:.2f} events/s "
              f"(server CPU per event x{r['server_ms'] / base['server_ms']:.2f})")
    statuses = {}
    for r in results:
        for s, n in r["statuses"].items():
            statuses[s] = statuses.get(s, 0) + n
    print("  status counts (all runs): " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
