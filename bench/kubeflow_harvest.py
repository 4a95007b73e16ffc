"""Benchmark: harvest a KFP install (ML Metadata SQLite store + KFP API) into PostgreSQL.

    python -m bench.kubeflow_harvest                 # 1,000 runs (~4,000 executions, 4,000 artefacts, 9,000 events)
    python -m bench.kubeflow_harvest --runs 5000     # bigger
Goals: full harvest <= 20 s, no-op re-harvest <= 2 s, peak RSS <= 300 MB whatever the source size.

The source is generated in a child process (so its memory is not counted), the KFP API is the project's
fake server on 127.0.0.1 in a thread of this process (its objects ARE counted), and the harvest runs the
real connector: kfp.Client over HTTP and ml-metadata over the SQLite file, writing into a fresh database
`DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/ll_kubeflow_bench, dropped and recreated).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from bench._db import fresh_database

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ll_kubeflow_bench"
GENERATOR_VERSION = 1  # bump when demo.generate_bulk changes, so a cached source is not reused


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _generate(path: str, runs: int, api_json: str) -> None:
    from devtools.kubeflow import demo

    source = demo.generate_bulk(path, runs)
    Path(api_json).write_text(json.dumps({"experiments": source.experiments, "pipelines": source.pipelines,
                                          "versions": source.versions, "runs": source.runs}))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kubeflow_harvest", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="KFP runs in the generated source (default 1000)")
    parser.add_argument("--page-size", type=int, default=200, help="ML Metadata executions per page")
    parser.add_argument("--fresh-source", action="store_true",
                        help="Regenerate the source even when a cached one of this size exists")
    args = parser.parse_args(argv)

    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    os.environ.setdefault("LL_DATA_DIR", tempfile.mkdtemp(prefix="ll_kubeflow_bench_"))
    # The generator commits every ml-metadata call; on tmpfs that costs no fsync. Harvest reads are unaffected.
    # Generating 1,000 runs takes about a minute, so the source is kept for the next run of this benchmark.
    shm = Path("/dev/shm")
    workdir = (shm if shm.is_dir() else Path(tempfile.gettempdir())) / f"ll_kubeflow_bench_source_{GENERATOR_VERSION}_{args.runs}"
    workdir.mkdir(parents=True, exist_ok=True)
    mlmd_path, api_json = workdir / "mlmd.sqlite", workdir / "api.json"

    if args.fresh_source or not (mlmd_path.exists() and api_json.exists()):
        api_json.unlink(missing_ok=True)
        started = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(target=_generate, args=(str(mlmd_path), args.runs, str(api_json)))
        child.start()
        child.join()
        if child.exitcode != 0:
            print("generating the source failed", file=sys.stderr)
            return 1
        print(f"source: {args.runs} runs generated with ml-metadata in {time.perf_counter() - started:.1f} s "
              f"({mlmd_path.stat().st_size / 1e6:.1f} MB SQLite, kept in {workdir})")
    else:
        print(f"source: {args.runs} runs, generated earlier, in {workdir} (--fresh-source to regenerate)")

    fresh_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connection

    from devtools.kubeflow.fake_api import FakeKfpServer, KfpState
    from devtools.kubeflow.testing import harvest
    from lineage.models import Edge, Node

    state = KfpState()
    api = json.loads(api_json.read_text())
    state.experiments, state.pipelines, state.pipeline_versions, state.runs = (
        api["experiments"], api["pipelines"], api["versions"], api["runs"])
    del api

    import sqlite3

    with sqlite3.connect(mlmd_path) as db:
        counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("Execution", "Artifact", "Event")}
    print(f"source contents: {len(state.runs)} API runs, {counts['Execution']} executions, "
          f"{counts['Artifact']} artifacts, {counts['Event']} events")

    settings = {"kfp_host": None, "mlmd_sqlite": str(mlmd_path), "instance": "bench", "mlmd_page_size": args.page_size,
                "api_page_size": 200}
    server = FakeKfpServer(state).start()
    settings["kfp_host"] = server.url
    try:
        rss_before = _rss_mb()
        load_before = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        first = harvest(settings)
        full, full_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        second = harvest(settings)
        noop, noop_cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        server.stop()
    peak = _peak_mb()
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print(f"machine: {os.cpu_count()} CPUs, load average {load_before:.1f} before the harvest (other processes share them)")
    print(f"full harvest: {full:.2f} s wall  (goal <= 20 s); this process's CPU {full_cpu:.2f} s (the database "
          f"server's work is not in that figure)  pages={first.pages} read={first.counts['read']}")
    print(f"  -> nodes {Node.objects.count()}, edges {Edge.objects.count()}, "
          f"created nodes {first.counts['nodes_created']} edges {first.counts['edges_created']}")
    print(f"no-op re-harvest: {noop:.2f} s wall, CPU {noop_cpu:.2f} s  (goal <= 2 s)  created nodes {second.counts['nodes_created']} "
          f"edges {second.counts['edges_created']} updated {second.counts['nodes_updated']}")
    print(f"peak RSS: {peak:.0f} MB (goal <= 300 MB; RSS before harvesting {rss_before:.0f} MB, after {_rss_mb():.0f} MB)")
    ok = first.status == second.status == "succeeded" and second.counts["nodes_created"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
