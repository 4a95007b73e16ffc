"""Viya harvest: 1,000 models x 3 versions from the local fake Viya into PostgreSQL, then a no-op re-harvest.

    python -m bench.viya_harvest                      # 1000 models x 3 versions (goal: <= 30 s, no-op <= 3 s)
    python -m bench.viya_harvest --models 5000 --versions 5 --publish-every 4 --batch 200

The source is generated (devtools.viya.fake_state builders, not the recordings): `--models` models spread
over projects of 25, each with `--versions` versions (the current one plus immutable snapshots), three
files per version, and a completed publish for every `--publish-every`-th model. It is served over real
HTTP by devtools.viya.fake_server in a separate process (OAuth password grant, paged collections with
next links) and harvested by the real connector (4 per-model reads in flight) through run_harvest into
`DATABASE_URL` (default
postgres://postgres@127.0.0.1:5432/ll_viya_bench, dropped and created fresh each run). Figures are
wall-clock seconds for the whole harvest including HTTP, mapping, store writes and commits; the no-op
figure is a second harvest of the unchanged server, which must write nothing (checked).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from bench._db import fresh_database

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ll_viya_bench"


def generate(models: int, versions: int, publish_every: int):
    from devtools.viya.fake_state import ViyaState

    state = ViyaState()
    repo = state.add_repository("Bench", when="2026-01-01T00:00:00Z")
    state.add_destination("maslocal", when="2026-01-01T00:00:00Z")
    project = None
    for n in range(models):
        if n % 25 == 0:
            project = state.add_project(repo, f"bench-project-{n // 25:04d}", when="2026-01-02T00:00:00Z")
        model = state.add_model(project, f"bench-model-{n:05d}", versions=versions, when="2026-01-03T00:00:00.123456Z",
                                contents=(("score.py", "score"), ("model.pkl", "python pickle"), ("inputVar.json", "variables")))
        if publish_every and n % publish_every == 0:
            state.add_publish(model, "maslocal", state="completed", when="2026-01-04T00:00:00Z")
    return state


def _serve(models: int, versions: int, publish_every: int, queue, stop) -> None:
    """Child process: generate the source and serve it until told to stop (a real Viya is another process
    too; sharing our interpreter's GIL would charge the fake's JSON encoding to the connector)."""
    from devtools.viya.fake_server import FakeViya

    state = generate(models, versions, publish_every)
    with FakeViya(state) as fake:
        queue.put((fake.url, len(state.items("model")), len(state.items("model_version")), len(state.items("publish"))))
        stop.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.viya_harvest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--publish-every", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100, help="collection page size and models per stored page")
    parser.add_argument("--concurrency", type=int, default=4, help="per-model reads in flight")
    args = parser.parse_args(argv)

    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    os.environ.setdefault("LL_DATA_DIR", tempfile.mkdtemp(prefix="ll_viya_bench_"))
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    queue, stop = ctx.Queue(), ctx.Event()
    t0 = time.perf_counter()
    server = ctx.Process(target=_serve, args=(args.models, args.versions, args.publish_every, queue, stop), daemon=True)
    server.start()
    fake_url, n_models, n_snapshots, n_publishes = queue.get(timeout=600)
    print(f"source: {n_models} models, {args.versions} versions each ({n_snapshots} snapshots + current), "
          f"{n_publishes} publishes, generated and served by a separate process in {time.perf_counter() - t0:.1f} s")

    fresh_database(url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)

    from connectors.base import run_harvest
    from connectors.retry import RetryPolicy
    from connectors.viya import plugin
    from common.audit import context
    from lineage.models import Edge, Node

    try:
        with context.acting_as(context.AuditContext(username="bench", service="harvester:viya")):
            settings = {"url": fake_url, "username": "viya-user", "batch": args.batch, "instance": "bench-viya",
                        "concurrency": args.concurrency}
            secrets = {"password": "viya-password"}
            policy = RetryPolicy(attempts=3, base_delay=0.1)
            connector = plugin.build(settings, secrets, policy=policy)
            t0 = time.perf_counter()
            first = run_harvest(connector)
            full = time.perf_counter() - t0
            requests_full = connector.client.requests_sent
            connector = plugin.build(settings, secrets, policy=policy)
            t0 = time.perf_counter()
            second = run_harvest(connector)
            noop = time.perf_counter() - t0
            requests_noop = connector.client.requests_sent
    finally:
        stop.set()
        server.join(10)

    versions = Node.objects.filter(source="viya", kind="model_version").count()
    expected_versions = args.models * args.versions
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print(f"stored: {Node.objects.filter(source='viya', kind='model').count()} models, {versions} model versions, "
          f"{Node.objects.filter(source='viya', kind='deployment').count()} deployments, "
          f"{Edge.objects.filter(source='viya').count()} edges")
    if first.status != "succeeded" or versions != expected_versions:
        print(f"FAILED: harvest {first.status} {first.error}; {versions} versions stored, {expected_versions} expected")
        return 1
    writes = {k: v for k, v in second.counts.items() if k != "read"}
    if second.status != "succeeded" or any(writes.values()):
        print(f"FAILED: no-op re-harvest {second.status} wrote {writes}")
        return 1
    print(f"full harvest: {full:.2f} s ({requests_full} HTTP requests, {first.pages} pages) — goal <= 30 s")
    print(f"no-op re-harvest: {noop:.2f} s ({requests_noop} HTTP requests, nothing written) — goal <= 3 s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
