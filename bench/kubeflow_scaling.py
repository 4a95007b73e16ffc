"""Harvest of 10,000 KFP runs on 1 vs 2 Celery workers: do partitions spread a harvest over workers?

    python -m bench.kubeflow_scaling                     # 10,000 runs, 1 worker then 2 workers
    python -m bench.kubeflow_scaling --runs 500          # a short dev run
    python -m bench.kubeflow_scaling --worker-counts 1,2,3

The source is generated once (devtools.kubeflow.demo.generate_bulk through bench.kubeflow_harvest's
generator, kept in /dev/shm beside that benchmark's copy: ~40,000 ML Metadata executions, 40,000 artefacts,
90,000 events for 10,000 runs) and its KFP API served by the project's fake server in a thread of this
process, one server for every run (the API host is part of the harvested identity). For each worker count:
a fresh PostgreSQL database (`DATABASE_URL`, default postgres://postgres@127.0.0.1:5432/ll_scalebench_kfp_bench,
dropped, re-created, migrated), a Kubeflow ConnectorConfig, that many real `celery -A governance.celery
worker` processes (prefork, concurrency 1 each) on Redis db 12 with a queue of this run's own, then the
harvest is started exactly as beat starts it (a `connectors.harvest` task naming the connector): a worker
claims the lock, plans (lists the runs once and cuts them into `--partition-runs` chunks, lists the ML
Metadata executions' keysets once and cuts them into `--partition-executions` chunks, plus the `rest`
partition of experiments, pipelines, open runs and the ML Metadata artefacts stream) and queues the
partitions, which the workers share. Timed from sending the task to the Harvest row closing.
`LL_BENCH_BROKER_URL` names another Redis database than db 12 (e.g. when two people run it at once).

Checked, or the exit status is non-zero: every harvest succeeded and read every API run; every run leaves
the identical store (counts of nodes, edges, node revisions and raw records, and a SHA-256 over every node's
identity, names, final properties and first-seen time, every edge's ends, kind, validity and properties, every
raw record, and the number of revisions per node: see store_fingerprint for what is left out and why).

Printed per worker count: wall time, plan time, the partitions each worker ran, CPU seconds of the workers
and of their PostgreSQL backends; then the scaling ratio (1-worker time / n-worker time).

What bounds the ratio, honestly. Until ML Metadata was partitioned, (2) below was the bound: one `rest`
partition read both ML Metadata streams (70-80 s of a ~100 s harvest) on one worker while the other ran every
runs partition in ~32 s and sat idle (measured on the same machine and load: x1.15, 102.9 s -> 89.3 s, the
partitions allowing x1.30). Now the executions are partitions of their own and what is left is:
(1) the plan is serial, before any partition exists: listing all 10,000 runs through the KFP API, ~8-9 s
(the executions' keysets add ~0.6 s), a tenth of the 1-worker time; (2) the longest partition is the
`rest` one, ~3-4 s (experiments, pipelines, the artefacts stream, which skips the artefacts the executions
partitions map), so the partitions themselves allow ~x1.85; (3) on a 2-core machine the workers,
PostgreSQL and the fake KFP API (a Python thread here, answering every GET of a run) share the two cores,
with whatever else runs there: a second worker adds a process, not a core. Measured (2026-11-27, machine
shared with other jobs, load average 0.7-2.7 before the runs): 92.7 s -> 65.2 s, x1.42, each worker busy ~55 s
of partitions; the partitions' summed time grew from 83.4 s with one worker to 111.6 s with two (each
partition ran ~1.3x slower while two ran at once) for the same worker CPU, 59.1 s: the cores, not the plan
of partitions, are what is left between x1.42 and x2.

Two things of the fake KFP API are changed here so that the figure measures the harvest, not the fake: it
finds a run by id through an index (its own lookup walks the list of runs: 10,000 GETs x 10,000 runs), and
its sockets send without Nagle's delay, as KFP's Go server does (see _no_delay_handler: with it, each GET on
the kfp client's keep-alive connection stalls ~40 ms, which dominates the harvest and makes a second worker
look nearly twice as fast by waiting in parallel; `--keep-nagle` shows that).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ll_scalebench_kfp_bench"
BROKER = os.environ.get("LL_BENCH_BROKER_URL") or "redis://127.0.0.1:6379/12"
NAME = "bench-kfp-scaling"


# -- the source ---------------------------------------------------------------------------------------------
def ensure_source(runs: int, fresh: bool) -> tuple[Path, Path]:
    """(ML Metadata SQLite path, KFP API JSON path), generated in a child process unless already kept."""
    from bench.kubeflow_harvest import GENERATOR_VERSION, _generate

    shm = Path("/dev/shm")
    workdir = (shm if shm.is_dir() else Path(tempfile.gettempdir())) / f"ll_kubeflow_bench_source_{GENERATOR_VERSION}_{runs}"
    workdir.mkdir(parents=True, exist_ok=True)
    mlmd, api = workdir / "mlmd.sqlite", workdir / "api.json"
    if fresh or not (mlmd.exists() and api.exists()):
        api.unlink(missing_ok=True)
        started = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(target=_generate, args=(str(mlmd), runs, str(api)))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit("generating the source failed")
        print(f"source: {runs} runs generated with ml-metadata in {time.perf_counter() - started:.1f} s ({workdir})")
    else:
        print(f"source: {runs} runs, generated earlier, in {workdir} (--fresh-source to regenerate)")
    return mlmd, api


def _indexed_state_class():
    from devtools.kubeflow.fake_api import KfpState, RpcError

    class IndexedState(KfpState):
        """The fake API's state with runs found by id through a dict (see the module docstring)."""

        def run(self, run_id: str) -> dict:
            index = self.__dict__.get("_by_id")
            if index is None or len(index) != len(self.runs):
                index = self._by_id = {r["run_id"]: r for r in self.runs}
            try:
                return index[run_id]
            except KeyError:
                raise RpcError(5, f"Failed to get run: run {run_id} not found") from None

    return IndexedState


def _no_delay_handler():
    """The fake API's request handler with Nagle's algorithm off on its sockets.

    http.server writes a response's headers and its body in two sends; on a keep-alive connection (the
    kfp client keeps one) Nagle holds the body back until the client's delayed ACK of the headers, about
    40 ms later: every GET of a run then costs ~45 ms instead of ~1 ms (measured here), 10,000 runs ~7
    minutes of nothing, and a second worker "scales" by waiting in parallel. KFP's real API server (Go's
    net/http) sets TCP_NODELAY on every connection, so the fake does here too."""
    from devtools.kubeflow.fake_api import _Handler

    class NoDelayHandler(_Handler):
        disable_nagle_algorithm = True

    return NoDelayHandler


# -- workers ------------------------------------------------------------------------------------------------
class Worker:
    """One `celery worker` process, concurrency 1, in its own session (stopped as a group)."""

    def __init__(self, env: dict, queue: str, label: str, logdir: Path):
        self.log_path = logdir / f"worker-{label}.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "governance.celery", "worker", "-l", "INFO", "-P", "prefork",
             "-c", "1", "-Q", queue, "-n", f"{label}-{uuid.uuid4().hex[:6]}@%h", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while " ready." not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("celery worker did not start:\n" + self.output()[-3000:])
            time.sleep(0.2)

    def pids(self) -> list[int]:
        from bench.ingest import _server_pids

        return _server_pids(self.process.pid)

    def partitions(self) -> list[tuple[int, float]]:
        """(partition index, seconds) of every partition task this worker finished."""
        done = []
        for m in re.finditer(r"Task connectors\.harvest_partition\[[^\]]+\] succeeded in ([0-9.]+)s: (\{.*\})",
                             self.output()):
            found = re.search(r"'partition': (\d+)", m.group(2))
            if found:
                done.append((int(found.group(1)), float(m.group(1))))
        return done

    def stop(self) -> None:
        from bench._server import stop_process

        stop_process(self.process, kill_group=True)
        self.log.close()


# -- the store's fingerprint ----------------------------------------------------------------------------------
def store_fingerprint(dump: Path | None = None) -> dict:
    """Counts and a SHA-256 of the whole store, by natural keys. Left out, because they legitimately differ
    between runs: row ids, recording times, `last_seen` (when the harvest last saw a node or an edge: its
    clock) and what each revision holds (a KFP run node is built from its runs partition and from the
    ML Metadata executions partition holding its root DAG, in whichever order the workers finish them, so its intermediate
    revision is one or the other); the number of revisions per node is kept. Nodes' final properties,
    every edge (open and closed) and every raw record are compared whole. `dump`: also write the rows there, to diff."""
    from django.db import connection

    digest = hashlib.sha256()
    counts = {}
    queries = {
        "nodes": "SELECT source, kind, source_id, namespace, name, display_name, properties::text, first_seen "
                 "FROM lineage_node ORDER BY source, kind, source_id",
        "edges": "SELECT e.kind, s.source, s.kind, s.source_id, d.source, d.kind, d.source_id, e.source, "
                 "e.valid_from, e.valid_to, e.properties::text FROM lineage_edge e "
                 "JOIN lineage_node s ON s.id = e.src_id JOIN lineage_node d ON d.id = e.dst_id "
                 "ORDER BY s.source, s.kind, s.source_id, d.source, d.kind, d.source_id, e.kind, e.valid_from",
        "revised_nodes": "SELECT n.source, n.kind, n.source_id, count(*) FROM lineage_noderevision r "
                     "JOIN lineage_node n ON n.id = r.node_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        "raw": "SELECT source, kind, source_id, digest FROM lineage_rawrecord ORDER BY source, kind, source_id, digest",
    }
    out = open(dump, "w") if dump else None
    with connection.cursor() as cur:
        for name, sql in queries.items():
            part = hashlib.sha256()
            cur.execute(sql)
            n = 0
            while rows := cur.fetchmany(5000):
                for row in rows:
                    line = repr(row)
                    part.update(line.encode())
                    part.update(b"\n")
                    if out:
                        out.write(f"{name} {line}\n")
                n += len(rows)
            counts[name] = n
            digest.update(f"{name}:{n}:{part.hexdigest()}\n".encode())
        cur.execute("SELECT count(*) FROM lineage_noderevision")
        counts["revisions"] = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM lineage_node WHERE kind = 'run' AND source = 'kubeflow'")
        counts["kfp_run_nodes"] = cur.fetchone()[0]
    if out:
        out.close()
    return {"counts": counts, "sha256": digest.hexdigest()}


def _backends() -> list[int]:
    """PostgreSQL backends of this database but this process's own. Celery closes a task's database
    connection when the task ends, so a backend lives one partition: the harvest loop samples their CPU
    (/proc) every 0.1 s, and what a backend spends after its last sample is missed (a lower bound)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return [row[0] for row in cur.fetchall()]


# -- one harvest ----------------------------------------------------------------------------------------------
def harvest_with(workers: int, database_url: str, api_url: str, mlmd: Path, partition_runs: int, logdir: Path,
                 timeout: float, partition_executions: int) -> dict:
    import redis
    from celery import Celery
    from django.conf import settings as django_settings
    from django.db import connections

    from bench._server import fresh_migrated_database
    from bench.ingest import _cpu_seconds
    from connectors.models import ConnectorConfig, Harvest

    fresh_migrated_database(database_url)
    ConnectorConfig.objects.create(name=NAME, kind="kubeflow", settings={
        "kfp_host": api_url, "mlmd_sqlite": str(mlmd), "api_page_size": 200, "mlmd_page_size": 200,
        "instance": "bench"})
    connections.close_all()
    queue = f"ll-scalebench-{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "CELERY_BROKER_URL": BROKER, "CELERY_TASK_ALWAYS_EAGER": "0", "CELERY_QUEUE": queue,
           "DATABASE_URL": database_url, "DEBUG": "0", "HARVEST_PARTITION_RUNS": str(partition_runs),
           "HARVEST_PARTITION_EXECUTIONS": str(partition_executions),
           # the keys of this process: connector secrets decrypt and audit entries chain alike
           "SECRET_KEY": django_settings.SECRET_KEY, "CONNECTOR_SECRET_KEY": django_settings.CONNECTOR_SECRET_KEY,
           "AUDIT_HMAC_KEY": django_settings.AUDIT_HMAC_KEY,
           # workers keep their connection, as a deployment's would; its backend's CPU is then readable at the end
           "DB_CONN_MAX_AGE": "600", "LOG_LEVEL": "WARNING"}
    started_workers = [Worker(env, queue, f"w{i + 1}of{workers}", logdir) for i in range(workers)]
    client = Celery("ll-scalebench", broker=BROKER)
    client.conf.broker_connection_retry_on_startup = True
    try:
        for w in started_workers:
            w.wait_ready()
        cpu0 = sum(_cpu_seconds(w.pids()) for w in started_workers)
        backends0 = {pid: _cpu_seconds([pid]) for pid in _backends()}
        seen: dict[int, float] = {}
        t0, p0 = time.perf_counter(), time.process_time()
        client.send_task("connectors.harvest", args=[NAME, {"username": "bench", "request_id": queue}], queue=queue)
        planned_at = None
        while True:
            h = Harvest.objects.filter(connector__name=NAME).first()
            if h is not None and planned_at is None and h.counts.get("partitions", {}).get("state") != "planning":
                planned_at = time.perf_counter() - t0
            if h is not None and h.status != "running":
                break
            if time.perf_counter() - t0 > timeout:
                raise SystemExit(f"the harvest did not finish in {timeout:.0f} s")
            if any(w.process.poll() is not None for w in started_workers):
                raise SystemExit("a worker died:\n" + "\n".join(w.output()[-2000:] for w in started_workers))
            for pid in _backends():
                seen[pid] = _cpu_seconds([pid])
            time.sleep(0.1)
        wall, here_cpu = time.perf_counter() - t0, time.process_time() - p0
        time.sleep(1.0)  # the last task's "succeeded" line reaches the worker log just after the commit
        worker_cpu = sum(_cpu_seconds(w.pids()) for w in started_workers) - cpu0
        for pid in _backends():
            seen[pid] = _cpu_seconds([pid])
        db_cpu = sum(cpu - backends0.get(pid, 0.0) for pid, cpu in seen.items())
        per_worker = [w.partitions() for w in started_workers]
    finally:
        for w in started_workers:
            w.stop()
        client.close()
        try:
            redis.Redis.from_url(BROKER).delete(queue)
        except redis.RedisError:
            pass
    h.refresh_from_db()
    result = {"workers": workers, "wall": wall, "plan": planned_at, "status": h.status, "error": h.error,
              "server_wall": (h.finished_at - h.started_at).total_seconds() if h.finished_at else None,
              "read": h.counts.get("read") or {}, "partitions_total": h.counts.get("partitions", {}).get("total"),
              "per_worker": per_worker, "worker_cpu": worker_cpu, "db_cpu": db_cpu, "here_cpu": here_cpu}
    result.update(store_fingerprint(logdir / f"store-{workers}-workers.txt"))
    connections.close_all()
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kubeflow_scaling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000, help="KFP runs in the generated source (default 10000)")
    parser.add_argument("--worker-counts", default="1,2", help="Celery worker counts to compare (default 1,2)")
    parser.add_argument("--partition-runs", type=int, default=100, help="HARVEST_PARTITION_RUNS (default 100)")
    parser.add_argument("--partition-executions", type=int, default=None,
                        help="HARVEST_PARTITION_EXECUTIONS (default: the project's default)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for one harvest (default 3600)")
    parser.add_argument("--fresh-source", action="store_true", help="regenerate the source even if one is kept")
    parser.add_argument("--keep-nagle", action="store_true",
                        help="serve the fake API as fake_api does (Nagle on: ~40 ms stall per keep-alive GET)")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.worker_counts.split(",") if c.strip()]
    if (not counts or min(counts) < 1 or args.runs < 1 or args.partition_runs < 1
            or (args.partition_executions is not None and args.partition_executions < 1)):
        parser.error("worker counts, --runs, --partition-runs and --partition-executions must be at least 1")
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not database_url.startswith("postgres"):
        raise SystemExit("bench.kubeflow_scaling measures PostgreSQL: set DATABASE_URL to a postgres:// URL")
    sys.path.insert(0, str(ROOT))
    import redis

    try:
        redis.Redis.from_url(BROKER).ping()
    except redis.RedisError as exc:
        raise SystemExit(f"no Redis broker at {BROKER}: {exc}")
    mlmd, api_json = ensure_source(args.runs, args.fresh_source)
    from bench._server import database_name, setup_django

    setup_django(database_url)
    from devtools.kubeflow.fake_api import FakeKfpServer
    from connectors.tasks import PARTITION_EXECUTIONS_DEFAULT

    if args.partition_executions is None:
        args.partition_executions = PARTITION_EXECUTIONS_DEFAULT

    state = _indexed_state_class()()
    api = json.loads(api_json.read_text())
    state.experiments, state.pipelines, state.pipeline_versions, state.runs = (
        api["experiments"], api["pipelines"], api["versions"], api["runs"])
    del api
    logdir = Path(tempfile.mkdtemp(prefix="ll_scalebench_kfp_"))
    cpus = len(os.sched_getaffinity(0))
    print(f"Kubeflow harvest scaling: {len(state.runs)} API runs, partitions of {args.partition_runs} runs and "
          f"{args.partition_executions} ML Metadata executions, Celery "
          f"workers {counts} (concurrency 1 each) on {BROKER}, each run into a fresh PostgreSQL "
          f"{database_name(database_url)}  [{cpus} CPUs; worker logs in {logdir}]")
    results, failed = [], False
    server = FakeKfpServer(state)
    if not args.keep_nagle:
        server.RequestHandlerClass = _no_delay_handler()
    server.start()
    try:
        for workers in counts:
            load = os.getloadavg()[0]
            r = harvest_with(workers, database_url, server.url, mlmd, args.partition_runs, logdir, args.timeout,
                             args.partition_executions)
            results.append(r)
            ran = ", ".join(f"{len(p)} ({sum(s for _, s in p):.1f} s)" for p in r["per_worker"])
            rest = [s for p in r["per_worker"] for i, s in p if i == 0]
            print(f"  {workers} worker{'s' if workers > 1 else ' '}: {r['wall']:8.1f} s wall  (harvest row "
                  f"{r['server_wall']:.1f} s; plan {r['plan'] or 0:.1f} s; load average {load:.1f} before)  "
                  f"status {r['status']}")
            print(f"             partitions run per worker: {ran} of {r['partitions_total']}; the rest partition "
                  f"(experiments, pipelines, ML Metadata artefacts) {rest[0] if rest else float('nan'):.1f} s")
            print(f"             CPU: workers {r['worker_cpu']:.1f} s, PostgreSQL backends {r['db_cpu']:.1f} s (sampled), "
                  f"fake KFP API and this process {r['here_cpu']:.1f} s;  read {r['read']}")
            print(f"             store: {r['counts']}  sha256 {r['sha256'][:16]}")
            if r["status"] != "succeeded":
                failed = True
                print(f"    FAILED: harvest {r['status']}: {r['error']}")
            if r["read"].get("runs") != len(state.runs):
                failed = True
                print(f"    FAILED: {r['read'].get('runs')} runs read, the API has {len(state.runs)}")
    finally:
        server.stop()
    base = results[0]
    for r in results[1:]:
        same = r["sha256"] == base["sha256"] and r["counts"] == base["counts"]
        # The best n workers could do with these partitions: the plan, then either the longest partition
        # or an even share of all partition time, whichever is longer (each from the 1-worker run).
        times = [sec for p in base["per_worker"] for _, sec in p]
        floor = (base["plan"] or 0) + max(max(times, default=0), sum(times) / r["workers"])
        print(f"  scaling {base['workers']} -> {r['workers']} workers: x{base['wall'] / r['wall']:.2f} "
              f"({base['wall']:.1f} s -> {r['wall']:.1f} s); identical store: {'yes' if same else 'NO'}; "
              f"bound from the partitions: x{base['wall'] / floor:.2f} (plan + longest partition "
              f"{(base['plan'] or 0) + max(times, default=0):.1f} s)")
        if not same:
            failed = True
            a, b = logdir / f"store-{base['workers']}-workers.txt", logdir / f"store-{r['workers']}-workers.txt"
            diff = subprocess.run(["diff", str(a), str(b)], capture_output=True, text=True).stdout
            print("    first differences:\n" + "\n".join(diff.splitlines()[:12]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
