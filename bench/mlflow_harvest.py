"""MLflow harvest of a real MLflow server, beside MLflow's own client reading the same objects.

    python -m bench.mlflow_harvest                        # 1,000 runs, 300 model versions
    python -m bench.mlflow_harvest --runs 5000 --versions 1000

A real `mlflow server` (SQLite backend store, local artefact root; tests/support/mlflow_server.py, its own
virtualenv) is filled with MLflow's client: `--runs` finished runs over 10 experiments, each with 4
parameters, a 5-step `loss` history and an `auc`, git/source tags and a dataset input; `--versions`
of them also log a model (MLflow 3 logged model) registered as a version of one of 30 registered models,
with aliases on some. Then, in the same run, with the same server:

- client: MLflow's own client (MlflowClient) lists the same objects the harvest reads — experiments, runs
  (all, deleted too), every metric's step history, logged models, registered models, model versions;
- harvest: `manage.py harvest mlflow`'s path (connectors.service.start_harvest, in-process, ad hoc) into
  `DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/ll_mlflow_bench, made fresh): the same reads
  plus mapping, store writes, commits and the after-harvest hooks;
- no-op: a second harvest of the unchanged server, which must write nothing (checked), beside the
  client's listings without the histories (what a no-op harvest still has to read).

Each client figure is the faster of two timings (one before, one after the harvests), so the ratios are
not flattered by a cold server.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from bench._db import fresh_database

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ll_mlflow_bench"
EXPERIMENTS = 10
REGISTERED = 30


def populate(url: str, runs: int, versions: int) -> dict:
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, InputTag, LoggedModelOutput, Metric, Param, RunTag

    c = MlflowClient(tracking_uri=url, registry_uri=url)
    experiments = [c.create_experiment(f"bench-{i:02d}") for i in range(EXPERIMENTS)]
    for i in range(REGISTERED):
        c.create_registered_model(f"bench-model-{i:02d}", description="benchmark model")
    every = max(1, runs // max(1, versions)) if versions else 0

    def one(n: int):
        exp = experiments[n % EXPERIMENTS]
        run = c.create_run(exp, run_name=f"run-{n:05d}", tags={"mlflow.source.git.commit": f"{n:07x}",
                                                                 "mlflow.source.name": "train.py"})
        rid = run.info.run_id
        now = int(time.time() * 1000)
        c.log_batch(rid, metrics=[Metric("loss", 1.0 / (s + 1), now + s, s) for s in range(5)]
                    + [Metric("auc", 0.7 + (n % 30) / 100, now, 4)],
                    params=[Param(k, str(v)) for k, v in (("lr", 0.1), ("depth", n % 8), ("seed", n), ("opt", "adam"))],
                    tags=[RunTag("team", "bench")])
        ds = Dataset(name=f"table-{n % 20}", digest=f"{n % 20:08x}", source_type="s3",
                     source=f'{{"uri": "s3://lake/table-{n % 20}.parquet"}}')
        c.log_inputs(rid, [DatasetInput(ds, [InputTag("mlflow.data.context", "training")])])
        registered = None
        if every and n % every == 0 and n // every < versions:
            model = c.create_logged_model(exp, name="model", source_run_id=rid, model_type="sklearn")
            c.finalize_logged_model(model.model_id, "READY")
            c.log_outputs(rid, [LoggedModelOutput(model.model_id, 4)])
            name = f"bench-model-{(n // every) % REGISTERED:02d}"
            mv = c.create_model_version(name, f"models:/{model.model_id}", run_id=rid, model_id=model.model_id)
            registered = (name, mv.version)
        c.set_terminated(rid)
        return registered

    with ThreadPoolExecutor(4) as pool:
        registered = [r for r in pool.map(one, range(runs)) if r]
    for name, version in registered[::10]:
        c.set_registered_model_alias(name, "champion", version)
    return {"runs": runs, "versions": len(registered)}


def client_reads(url: str, histories: bool) -> tuple[float, dict]:
    """MLflow's own client reading the objects the harvest reads, paged as its searches page."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    c = MlflowClient(tracking_uri=url, registry_uri=url)

    def every(fn):
        token, out = None, []
        while True:
            page = fn(token)
            out += list(page)
            token = page.token
            if not token:
                return out

    t0 = time.perf_counter()
    exps = every(lambda t: c.search_experiments(view_type=ViewType.ALL, max_results=1000, page_token=t))
    ids = [e.experiment_id for e in exps]
    runs = every(lambda t: c.search_runs(ids, run_view_type=ViewType.ALL, max_results=1000, page_token=t))
    points = 0
    if histories:
        for run in runs:
            for key in run.data.metrics:
                points += len(c.get_metric_history(run.info.run_id, key))
    logged = every(lambda t: c.search_logged_models(ids, max_results=100, page_token=t))
    models = every(lambda t: c.search_registered_models(max_results=1000, page_token=t))
    versions = every(lambda t: c.search_model_versions(max_results=10000, page_token=t))
    took = time.perf_counter() - t0
    return took, {"experiments": len(exps), "runs": len(runs), "metric points": points, "logged models": len(logged),
                  "registered models": len(models), "model versions": len(versions)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mlflow_harvest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=300)
    args = parser.parse_args(argv)

    db_url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # a line per run otherwise
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    os.environ.setdefault("LL_DATA_DIR", tempfile.mkdtemp(prefix="ll_mlflow_bench_"))
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from tests.support.mlflow_server import start_server

    t0 = time.perf_counter()
    server = start_server()
    try:
        print(f"mlflow server {server.url} (SQLite backend store) up in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        made = populate(server.url, args.runs, args.versions)
        print(f"source: {made['runs']} runs, {made['versions']} model versions, logged with MLflow's client in "
              f"{time.perf_counter() - t0:.1f} s")
        return _measure(server.url, db_url, made)
    finally:
        server.stop()


def _measure(url: str, db_url: str, made: dict) -> int:
    fresh_database(db_url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    from connectors.mlflow import plugin
    from connectors.service import start_harvest
    from lineage.models import Node

    client_full_1, seen = client_reads(url, histories=True)
    client_list_1, _ = client_reads(url, histories=False)
    connector = plugin.build({"tracking_uri": url, "instance": "bench-mlflow"}, {})
    t0 = time.perf_counter()
    first = start_harvest(connector, requester="bench").harvest
    full = time.perf_counter() - t0
    calls_full = connector.reader.calls
    connector = plugin.build({"tracking_uri": url, "instance": "bench-mlflow"}, {})
    t0 = time.perf_counter()
    second = start_harvest(connector, requester="bench").harvest
    noop = time.perf_counter() - t0
    calls_noop = connector.reader.calls
    client_full_2, _ = client_reads(url, histories=True)
    client_list_2, _ = client_reads(url, histories=False)
    client_full, client_list = min(client_full_1, client_full_2), min(client_list_1, client_list_2)

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print("client read: " + ", ".join(f"{v} {k}" for k, v in seen.items()))
    runs = Node.objects.filter(source="mlflow", kind="run").count()
    versions = Node.objects.filter(source="mlflow", kind="model_version").count()
    print(f"stored: {runs} runs, {versions} model versions, "
          f"{Node.objects.filter(source='mlflow').count()} MLflow nodes in all")
    if first.status != "succeeded" or runs != made["runs"] or versions != made["versions"]:
        print(f"FAILED: harvest {first.status} {first.error}; {runs} runs / {versions} versions stored, "
              f"{made['runs']} / {made['versions']} expected")
        return 1
    writes = {k: v for k, v in second.counts.items() if k in ("raw_created", "nodes_created", "nodes_updated",
                                                              "edges_created", "edges_closed")}
    if second.status != "succeeded" or any(writes.values()):
        print(f"FAILED: no-op re-harvest {second.status} wrote {writes}")
        return 1
    print(f"MLflow client, same reads (histories included): {client_full:.2f} s; listings only: {client_list:.2f} s")
    print(f"full harvest: {full:.2f} s ({calls_full} MLflow calls, {first.pages} pages)")
    print(f"no-op re-harvest: {noop:.2f} s ({calls_noop} MLflow calls, nothing written)")
    print(f"ratio: mlflow_harvest_vs_client_reads {full / client_full:.2f} (goal <= 3)")
    print(f"ratio: mlflow_noop_reharvest_vs_client_listings {noop / client_list:.2f} (goal <= 2)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
