"""Load test (R1): many producers post OpenLineage events at once; every event must be stored exactly once.

    python -m bench.load                                   # 8 clients x 5,000 events, gunicorn as `make serve-prod`
    python -m bench.load --clients 8 --events 200          # a short dev run
    python -m bench.load --batch-size 50                   # the same through /api/v1/lineage/batch

Starts gunicorn (`--workers` processes of `--threads` threads, DEBUG off, as `make serve-prod`) on a fresh PostgreSQL database
(`DATABASE_URL`, default postgres://postgres@127.0.0.1:5432/ll_scalebench_load_bench, dropped, re-created
and migrated), makes one engineer per client with `manage.py create_user` (each client its own token), then
runs the clients as separate processes: they cost ~1.3 ms CPU per event (requests, JSON), a quarter of a
core at this machine's ceiling, which threads would serialise on one GIL; as processes they never hold the
server back, and their CPU is printed beside the server's (measured: 0.1 CPU at ~85 events/s). Each client posts
its own distinct generated events (devtools.ingest_demo through bench.ingest's generator), one per request
by default, and behaves as a careful producer does:
- it retries a request that failed on a connection error or a timeout, and after a 5xx or a 429 (waiting
  Retry-After), until it is acknowledged;
- `--abort-share` of its first attempts are deliberately given up after `--abort-timeout` seconds, before
  the answer comes: the server still stores the event, and the client's retry then races it on another
  worker or finds it stored. That is the case where at-least-once delivery turns into duplicates;
- it re-sends `--resend-share` of what was already acknowledged (a producer replaying its buffer), and
  each re-send must be answered as a duplicate.
The per-token ingest rate limit is switched on as production would have it, shared across workers through
Redis (`CACHE_URL` db 12), but at `--rate-limit` (default 1000000/minute), far above what a client posts,
so that it never refuses; any 429 is counted and waited out.

Then the database is checked, and any failure makes the exit status non-zero:
- exactly clients x events IngestedEvent rows, one per distinct event (SHA-256 of the canonical event, the
  ledger's identity of an event), and the same number of OpenLineage RawRecords;
- every event was created exactly once: the "created" answers plus the events whose creating attempt was
  the abandoned one (its retry answered "duplicate") make the total; audit entries of created events (not
  duplicates) make the same total; every re-send was answered as a duplicate;
- the graph holds exactly the runs, jobs, datasets and dataset versions the events name, with one
  instance_of edge per run, one parent_of per task run, one produced and one version_of per version;
- no response was a 5xx, no event was lost (every one acknowledged).
Printed: events/s (distinct events stored per wall-clock second), requests/s, p50/p95/p99 latency of the
acknowledged requests, status counts, and the CPU seconds per event of the server processes, of the
PostgreSQL backends and of the clients (on a shared machine wall-clock mostly measures the load).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ll_scalebench_load_bench"
DEFAULT_CACHE = "redis://127.0.0.1:6379/12"
MAX_ATTEMPTS = 30
MAX_ERRORS_KEPT = 20


# -- events ---------------------------------------------------------------------------------------------
def client_events(seed: int, clients: int, per_client: int) -> list[list[dict]]:
    """Each client's own events: distinct DAG runs of the demo platform (bench.ingest's generator), with
    seeds far apart so no two clients share a run."""
    from bench.ingest import _events

    return [_events(seed + 1000 * i, per_client) for i in range(clients)]


def expected_graph(events: list[dict]) -> dict:
    """What the events name, read from the events themselves (not through the ingest mapping), as
    lineage/ingest/mapping.py documents the graph: node counts per kind and open edge counts per kind."""
    jobs, runs, datasets, versions, parents, consumed = set(), set(), set(), set(), set(), set()
    for e in events:
        if "run" not in e:
            raise ValueError("the load test posts RunEvents only")
        run_id, job = e["run"]["runId"], (e["job"]["namespace"], e["job"]["name"])
        runs.add(run_id)
        jobs.add(job)
        parent = (e["run"].get("facets") or {}).get("parent")
        if parent and parent["run"]["runId"] != run_id:
            runs.add(parent["run"]["runId"])
            jobs.add((parent["job"]["namespace"], parent["job"]["name"]))
            parents.add((parent["run"]["runId"], run_id))
        for d in e.get("inputs") or []:
            datasets.add((d["namespace"], d["name"]))
            consumed.add((d["namespace"], d["name"], run_id))
        for d in e.get("outputs") or []:
            datasets.add((d["namespace"], d["name"]))
            versions.add((d["namespace"], d["name"], run_id))
    return {
        "nodes": {"job": len(jobs), "run": len(runs), "dataset": len(datasets), "dataset_version": len(versions)},
        "edges": {"instance_of": len(runs), "parent_of": len(parents), "produced": len(versions),
                  "version_of": len(versions)},
        "consumed_at_least": len(consumed),  # one per (input, run); which version it names depends on arrival order
    }


# -- one client ---------------------------------------------------------------------------------------------
def _client(index: int, base: str, token: str, bodies: list[str], options: dict, barrier, results) -> None:
    """One producer process: post every body, retrying until acknowledged; report what it saw."""
    try:
        results.put(_client_run(index, base, token, bodies, options, barrier))
    except BaseException as exc:
        results.put({"index": index, "crashed": f"{exc.__class__.__name__}: {exc}"})


def _client_run(index, base, token, bodies, options, barrier) -> dict:
    import requests

    batch = options["batch_size"]
    url = base + ("/api/v1/lineage" if batch == 1 else "/api/v1/lineage/batch")
    units = [bodies[i:i + batch] for i in range(0, len(bodies), batch)]
    rng = random.Random(options["seed"] * 1009 + index)
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    statuses: Counter = Counter()
    latencies: list[float] = []
    errors: list[str] = []
    tally = Counter()

    def error(text: str) -> None:
        tally["errors"] += 1
        if len(errors) < MAX_ERRORS_KEPT:
            errors.append(f"client {index}: {text}")

    def send(unit: list[str], abort: bool):
        """(created, duplicates, uncertain) once acknowledged, or None when given up. `uncertain`: an
        earlier attempt of this unit may have reached the database."""
        data = unit[0] if batch == 1 else "[" + ",".join(unit) + "]"
        uncertain = False
        for attempt in range(1, MAX_ATTEMPTS + 1):
            deliberate = abort and attempt == 1
            read_timeout = options["abort_timeout"] if deliberate else options["timeout"]
            started = time.perf_counter()
            try:
                response = session.post(url, data=data, timeout=(10, read_timeout))
            except requests.Timeout:
                statuses["timeout (deliberate)" if deliberate else "timeout"] += 1
                uncertain = True
                session.close()  # the abandoned connection is not reused
                continue
            except requests.ConnectionError:
                statuses["connection error"] += 1
                uncertain = True
                session.close()
                time.sleep(min(2.0, 0.05 * attempt))
                continue
            elapsed = time.perf_counter() - started
            statuses[str(response.status_code)] += 1
            if response.status_code == 429:
                time.sleep(float(response.headers.get("Retry-After") or 1))
                continue
            if response.status_code >= 500:
                uncertain = True  # the transaction rolled back, but a producer cannot know that
                time.sleep(min(2.0, 0.05 * attempt))
                continue
            if batch == 1:
                if response.status_code != 201:
                    error(f"{response.status_code} {response.text[:300]}")
                    return None
                answer = response.json()["status"]
                latencies.append(elapsed)
                return (answer == "created", answer == "duplicate", uncertain)
            if response.status_code != 200:
                error(f"batch {response.status_code} {response.text[:300]}")
                return None
            summary = response.json()["summary"]
            if summary["failed"]:
                if summary["non_retriable"]:
                    error(f"batch refused events: {response.text[:300]}")
                    return None
                uncertain = True  # retriable failures: the whole batch again (events are idempotent)
                continue
            latencies.append(elapsed)
            return (summary["successful"] - summary["duplicates"], summary["duplicates"], uncertain)
        error(f"gave up after {MAX_ATTEMPTS} attempts")
        return None

    barrier.wait()
    cpu0, wall0 = os.times(), time.perf_counter()
    acked: list[list[str]] = []
    for unit in units:
        result = send(unit, rng.random() < options["abort_share"])
        if result is None:
            tally["lost_events"] += len(unit)
            continue
        created, duplicates, uncertain = result
        tally["created"] += created
        if duplicates and not uncertain:
            error(f"a first, clean send was answered duplicate ({duplicates} events)")
        if uncertain:
            tally["created_by_abandoned_attempt"] += duplicates
            tally["uncertain_sends"] += 1
        acked.append(unit)
        if rng.random() < options["resend_share"]:
            again = rng.choice(acked)
            tally["resent"] += len(again)
            result = send(again, False)
            if result is None:
                continue
            created, duplicates, _ = result
            tally["resent_duplicate"] += duplicates
            if created:
                error(f"a re-send of acknowledged events was stored again ({created} created)")
    cpu1 = os.times()
    return {"index": index, "statuses": dict(statuses), "latencies": latencies, "errors": errors,
            "tally": dict(tally), "wall": time.perf_counter() - wall0,
            "cpu": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)}


def run_clients(base: str, tokens: list[str], events: list[list[dict]], *, batch_size: int = 1,
                resend_share: float = 0.05, abort_share: float = 0.01, abort_timeout: float = 0.005,
                timeout: float = 60.0, seed: int = 0, on_start=None) -> dict:
    """Run one client process per token, all released at once; (wall seconds, merged client reports)."""
    ctx = multiprocessing.get_context("spawn")  # no inherited database connections or threads
    barrier, results = ctx.Barrier(len(tokens) + 1), ctx.Queue()
    options = {"batch_size": batch_size, "resend_share": resend_share, "abort_share": abort_share,
               "abort_timeout": abort_timeout, "timeout": timeout, "seed": seed}
    procs = [ctx.Process(target=_client, name=f"load-client-{i}",
                         args=(i, base, token, [json.dumps(e) for e in own], options, barrier, results))
             for i, (token, own) in enumerate(zip(tokens, events))]
    for p in procs:
        p.start()
    try:
        barrier.wait(timeout=300)
        if on_start:
            on_start()
        started = time.perf_counter()
        reports = []
        while len(reports) < len(procs):
            try:
                reports.append(results.get(timeout=5))
                finished = time.perf_counter()
            except queue.Empty:
                # a client that died without a word (killed) would leave us waiting for ever
                if sum(1 for p in procs if p.exitcode is not None) > len(reports):
                    time.sleep(5)  # its report may still be in the pipe
                    if results.empty():
                        raise SystemExit("a client process died without reporting") from None
        for p in procs:
            p.join(timeout=30)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
    merged = {"wall": finished - started, "statuses": Counter(), "latencies": [], "errors": [], "tally": Counter(),
              "client_cpu": 0.0, "clients": len(procs)}
    for r in reports:
        if "crashed" in r:
            merged["errors"].append(f"client {r['index']} crashed: {r['crashed']}")
            merged["tally"]["errors"] += 1
            continue
        merged["statuses"].update(r["statuses"])
        merged["latencies"] += r["latencies"]
        merged["errors"] += r["errors"]
        merged["tally"].update(r["tally"])
        merged["client_cpu"] += r["cpu"]
    return merged


# -- checks -------------------------------------------------------------------------------------------------
def verify(events: list[dict], report: dict, *, batch_size: int = 1) -> list[str]:
    """Problems found in this process's database after the load (empty when everything held). The
    database must have started empty."""
    from django.db.models import Count

    from governance.audit.models import AuditEntry
    from lineage.ingest.models import IngestedEvent
    from lineage.models import Edge, Node, RawRecord
    from lineage.store import canonical_digest

    problems: list[str] = []
    total = len(events)
    expected = {canonical_digest(e) for e in events}
    if len(expected) != total:
        problems.append(f"the generated events are not distinct: {total - len(expected)} repeats (bench bug)")
    tally, statuses = report["tally"], report["statuses"]

    stored = IngestedEvent.objects.count()
    digests = set(IngestedEvent.objects.values_list("digest", flat=True))
    if stored != total:
        problems.append(f"{stored} ingested events stored, expected exactly {total}")
    if digests != expected:
        problems.append(f"stored events differ from those sent: {len(expected - digests)} missing, "
                        f"{len(digests - expected)} unknown")
    raws = RawRecord.objects.filter(source="openlineage").count()
    if raws != total:
        problems.append(f"{raws} OpenLineage raw records, expected {total}")

    created = tally.get("created", 0) + tally.get("created_by_abandoned_attempt", 0)
    if created != total:
        problems.append(f"answers account for {created} creations ({tally.get('created', 0)} answered created, "
                        f"{tally.get('created_by_abandoned_attempt', 0)} by an abandoned attempt), expected {total}")
    if tally.get("resent_duplicate", 0) != tally.get("resent", 0):
        problems.append(f"{tally.get('resent', 0)} events re-sent, only {tally.get('resent_duplicate', 0)} "
                        f"answered as duplicates")
    # A batch is audited as one ingest.batch entry, or, when the database refused it as a whole (a race with
    # a concurrent writer), replayed one event per transaction with an ingest.event entry each.
    audited = AuditEntry.objects.filter(action="ingest.event", after__duplicate=False).count()
    audited += sum((after or {}).get("stored", 0) for after in
                   AuditEntry.objects.filter(action="ingest.batch").values_list("after", flat=True))
    if batch_size == 1:
        answered = sum(int(n) for s, n in statuses.items() if s == "201")
        audited_all = AuditEntry.objects.filter(action="ingest.event").count()
        if audited_all < answered:
            problems.append(f"{audited_all} ingest audit entries for {answered} acknowledged requests")
    if audited != total:
        problems.append(f"the audit trail records {audited} events created, expected {total}")

    graph = expected_graph(events)
    nodes = dict(Node.objects.filter(source="openlineage").values_list("kind").annotate(n=Count("id")))
    for kind, n in graph["nodes"].items():
        if nodes.get(kind, 0) != n:
            problems.append(f"{nodes.get(kind, 0)} {kind} nodes, expected {n}")
    extra = set(nodes) - set(graph["nodes"])
    if extra:
        problems.append(f"unexpected node kinds: {sorted(extra)}")
    edges = dict(Edge.objects.filter(valid_to__isnull=True).values_list("kind").annotate(n=Count("id")))
    for kind, n in graph["edges"].items():
        if edges.get(kind, 0) != n:
            problems.append(f"{edges.get(kind, 0)} open {kind} edges, expected {n}")
    if edges.get("consumed", 0) < graph["consumed_at_least"]:
        problems.append(f"{edges.get('consumed', 0)} consumed edges, expected at least {graph['consumed_at_least']}")

    five_xx = sum(n for s, n in statuses.items() if s.isdigit() and int(s) >= 500)
    if five_xx:
        problems.append(f"{five_xx} responses were 5xx")
    if tally.get("lost_events"):
        problems.append(f"{tally['lost_events']} events never acknowledged")
    problems += report["errors"][:MAX_ERRORS_KEPT]
    if tally.get("errors", 0) > len(report["errors"][:MAX_ERRORS_KEPT]):
        problems.append(f"... {tally['errors']} client errors in all")
    return problems


def percentile_ms(latencies: list[float], q: int) -> float:
    if len(latencies) < 2:
        return (latencies[0] if latencies else 0.0) * 1000
    return statistics.quantiles(latencies, n=100, method="inclusive")[q - 1] * 1000


def summary_lines(report: dict, events: int, server_cpu: tuple[float, float] | None) -> list[str]:
    wall, lat = report["wall"], report["latencies"]
    requests = sum(n for s, n in report["statuses"].items())
    tally = report["tally"]
    lines = [
        f"throughput: {events / wall:8.1f} events/s  ({events} distinct events stored in {wall:.1f} s wall; "
        f"{requests / wall:.1f} requests/s incl. {tally.get('resent', 0)} re-sent and retried)",
        f"latency of acknowledged requests: p50 {percentile_ms(lat, 50):.1f} ms, p95 {percentile_ms(lat, 95):.1f} ms, "
        f"p99 {percentile_ms(lat, 99):.1f} ms, max {max(lat, default=0) * 1000:.1f} ms  ({len(lat)} requests)",
        "status counts: " + ", ".join(f"{s}: {n}" for s, n in sorted(report["statuses"].items())),
        f"exactly once: {tally.get('created', 0)} answered created + {tally.get('created_by_abandoned_attempt', 0)} "
        f"created by an abandoned attempt (its retry answered duplicate) = "
        f"{tally.get('created', 0) + tally.get('created_by_abandoned_attempt', 0)}; "
        f"{tally.get('resent_duplicate', 0)}/{tally.get('resent', 0)} re-sent events answered duplicate",
    ]
    if server_cpu is not None:
        lines.append(f"CPU per event: server {server_cpu[0] * 1000 / events:.2f} ms, PostgreSQL "
                     f"{server_cpu[1] * 1000 / events:.2f} ms, clients {report['client_cpu'] * 1000 / events:.2f} ms  "
                     f"(clients used {report['client_cpu'] / wall:.2f} CPUs on average)")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8, help="concurrent client processes (default 8)")
    parser.add_argument("--events", type=int, default=5000, help="distinct events per client (default 5000)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="gunicorn worker processes (default: one per CPU, as `make serve-prod`)")
    parser.add_argument("--threads", type=int, default=4,
                        help="threads per worker (default 4, as `make serve-prod`; 1 = sync workers)")
    parser.add_argument("--batch-size", type=int, default=1,
                        help="events per request; 1 posts to /api/v1/lineage, more to /api/v1/lineage/batch")
    parser.add_argument("--resend-share", type=float, default=0.05,
                        help="share of acknowledged sends re-sent later, to be answered duplicate (default 0.05)")
    parser.add_argument("--abort-share", type=float, default=0.01,
                        help="share of first attempts abandoned before the answer, then retried (default 0.01)")
    parser.add_argument("--abort-timeout", type=float, default=0.005, help="seconds before abandoning (default 0.005)")
    parser.add_argument("--rate-limit", default="1000000/minute",
                        help="INGEST_RATE_LIMIT per token for the server (default 1000000/minute: on, never refusing)")
    parser.add_argument("--analyze-every", type=float, default=30.0,
                        help="seconds between ANALYZEs standing in for autoanalyze (0: none; default 30)")
    parser.add_argument("--seed", type=int, default=None, help="event seed (default: time-based)")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.events < 1 or args.workers < 1 or args.batch_size < 1:
        parser.error("--clients, --events, --workers and --batch-size must be at least 1")

    database_url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not database_url.startswith("postgres"):
        raise SystemExit("bench.load measures PostgreSQL: set DATABASE_URL to a postgres:// URL")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench._server import (Autoanalyze, CpuMeter, Gunicorn, create_engineers, database_name,
                               fresh_migrated_database, server_env, setup_django)

    setup_django(database_url)
    seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000
    t0 = time.perf_counter()
    events = client_events(seed, args.clients, args.events)
    flat = [e for own in events for e in own]
    fresh_migrated_database(database_url)
    tokens = create_engineers(f"load-{seed}", args.clients)
    env = server_env(database_url, INGEST_RATE_LIMIT=args.rate_limit, CACHE_URL=DEFAULT_CACHE)
    prepared = time.perf_counter() - t0
    load_before = os.getloadavg()[0]
    with Gunicorn(env, args.workers, threads=args.threads) as server:
        meter = CpuMeter(server)
        with Autoanalyze(database_url, args.analyze_every) as analyze:
            report = run_clients(server.base, tokens, events, batch_size=args.batch_size,
                                 resend_share=args.resend_share, abort_share=args.abort_share,
                                 abort_timeout=args.abort_timeout, seed=seed, on_start=meter.__enter__)
            meter.__exit__(None, None, None)
    load_after = os.getloadavg()[0]
    checked = time.perf_counter()
    problems = verify(flat, report, batch_size=args.batch_size)
    checked = time.perf_counter() - checked

    mode = "one event per request" if args.batch_size == 1 else f"batches of {args.batch_size}"
    print(f"load test R1: {args.clients} client processes x {args.events} events ({mode}), gunicorn {args.workers} "
          f"workers x {args.threads} threads, PostgreSQL {database_name(database_url)}  [{len(os.sched_getaffinity(0))} CPUs, load "
          f"average {load_before:.1f} before, {load_after:.1f} after; INGEST_RATE_LIMIT={args.rate_limit} per token "
          f"shared through Redis, so it never refuses]")
    for line in summary_lines(report, len(flat), (meter.app_cpu, meter.db_cpu)):
        print("  " + line)
    print(f"  setup {prepared:.1f} s (generate, migrate, tokens); checks {checked:.1f} s; "
          f"{analyze.count} ANALYZEs during the load")
    if problems:
        print("FAILED:")
        for p in problems:
            print("  - " + p)
        return 1
    print(f"  checks passed: {len(flat)} events stored exactly once, one per event digest; graph as expected; no 5xx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
