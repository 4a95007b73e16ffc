"""p95 of the main lists (`GET /api/nodes/?page_size=50`, `GET /api/runs/`) before and after one
maximum-size OpenLineage event is ingested, in the same run (goal: after/before <= 1.5).

    python -m bench.list_bounds                      # 300 ordinary runs, 200 timed requests per list
    python -m bench.list_bounds --runs 2000 --requests 500

Database: `DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/ll_list_bounds_bench), dropped,
re-created and migrated. The server is production-shaped (bench._server.Gunicorn: gunicorn gthread, DEBUG
off) and the requests go over HTTP with an engineer's token, as a user's would.

Steps: `--runs` ordinary RunEvents (each a run, a job and two datasets, with small facets) are posted in
batches; each list is requested `--requests` times (after a warm-up) and its p95 taken; then one RunEvent of
INGEST_MAX_EVENT_BYTES less a small margin (run, job and output facets of the shapes Spark sends: a plan, the
SQL, a wide schema with column lineage) is POSTed and must be accepted (201); the same lists are timed again.
The big run is the newest node, so it is on the first page of both lists: the "after" figures time lists that
hold it. Checked, or the module exits non-zero: the big event was stored, both lists answer 200 with the big
run among their results, and no list answer after it exceeds 64 KB. For contrast (printed, not a goal) the
same list with `?expand=properties`, which does carry the facets.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid

from bench._server import Gunicorn, create_engineers, fresh_migrated_database, server_env, setup_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ll_list_bounds_bench"
LISTS = {"nodes": "/api/nodes/?page_size=50", "runs": "/api/runs/"}
GOAL = 1.5
MAX_LIST_BYTES = 64 * 1024


def _event(i: int, facets: dict | None = None, outputs: list | None = None) -> dict:
    return {
        "eventType": "COMPLETE", "eventTime": f"2024-01-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.9.0/integration/spark",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.UUID(int=i + 1)), "facets": facets or {"nominalTime": {"nominalStartTime": "2024-01-01T00:00:00Z"}}},
        "job": {"namespace": "bench", "name": f"job-{i % 50}"},
        "inputs": [{"namespace": "s3://bench", "name": f"in-{i % 80}"}],
        "outputs": outputs or [{"namespace": "s3://bench", "name": f"out-{i}"}],
    }


def max_size_event(limit: int) -> dict:
    """A RunEvent just under `limit` bytes: a wide schema with column lineage on its output, and the plan."""
    columns = []
    body = _event(10**6)
    size = len(json.dumps(body))
    i = 0
    while size < limit * 0.6:
        column = {"name": f"column_{i:06d}", "type": "struct<a:string,b:decimal(38,10),c:array<bigint>>",
                  "description": "a column of a wide fact table, described by the producer at some length"}
        columns.append(column)
        size += len(json.dumps(column)) + 2
        i += 1
    lineage = {c["name"]: {"inputFields": [{"namespace": "s3://bench", "name": "in-0", "field": c["name"]}]}
               for c in columns[: len(columns) // 3]}
    outputs = [{"namespace": "s3://bench", "name": "wide-output",
                "facets": {"schema": {"fields": columns}, "columnLineage": {"fields": lineage}}}]
    event = _event(10**6, outputs=outputs)
    plan_room = limit - len(json.dumps(event, separators=(",", ":"))) - 4096
    event["run"]["facets"] = {"spark.logicalPlan": {"plan": "P" * max(plan_room, 0)}}
    return event


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


def _time_list(session, base: str, path: str, requests: int) -> tuple[float, int, dict]:
    for _ in range(10):  # warm-up: connections, caches
        session.get(base + path)
    times, size, body = [], 0, {}
    for _ in range(requests):
        started = time.perf_counter()
        response = session.get(base + path)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}: {response.text[:200]}")
        size, body = len(response.content), response.json()
    return _p95(times), size, body


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.list_bounds", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="ordinary RunEvents stored first (default 300)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per list and phase (default 200)")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    setup_django(url)
    fresh_migrated_database(url)
    token = create_engineers("lists", 1)[0]

    from django.conf import settings
    import requests

    limit = settings.INGEST_MAX_EVENT_BYTES
    ok = True
    with Gunicorn(server_env(url), workers=1) as server, requests.Session() as session:
        session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        for start in range(0, args.runs, 100):
            batch = [_event(i) for i in range(start, min(start + 100, args.runs))]
            answer = session.post(server.base + "/api/v1/lineage/batch", data=json.dumps(batch))
            if answer.status_code != 200 or answer.json()["summary"]["failed"]:
                raise SystemExit(f"loading the ordinary runs failed: {answer.status_code} {answer.text[:300]}")
        before = {name: _time_list(session, server.base, path, args.requests) for name, path in LISTS.items()}

        big = json.dumps(max_size_event(limit), separators=(",", ":"))
        posted = session.post(server.base + "/api/v1/lineage", data=big)
        print(f"one event of {len(big):,} bytes (INGEST_MAX_EVENT_BYTES {limit:,}): {posted.status_code}")
        if posted.status_code != 201:
            print(f"WRONG: the maximum-size event was refused: {posted.text[:300]}")
            return 1
        big_run = str(uuid.UUID(int=10**6 + 1))
        after = {name: _time_list(session, server.base, path, args.requests) for name, path in LISTS.items()}
        expanded = _time_list(session, server.base, LISTS["runs"] + "?expand=properties", max(args.requests // 10, 20))

    for name, path in LISTS.items():
        p_before, size_before, _ = before[name]
        p_after, size_after, body = after[name]
        holds_big = any(item.get("source_id") == big_run or item.get("name") == big_run for item in body["results"])
        print(f"GET {path}: p95 before {p_before:.1f} ms ({size_before:,} bytes), after {p_after:.1f} ms "
              f"({size_after:,} bytes; the big run {'on' if holds_big else 'NOT on'} the page)")
        if not holds_big:
            print(f"WRONG: {path} does not list the big run, so 'after' did not time a list that holds it")
            ok = False
        if size_after > MAX_LIST_BYTES:
            print(f"WRONG: {path} answered {size_after:,} bytes after the big event (bound {MAX_LIST_BYTES:,})")
            ok = False
        print(f"ratio: list_p95_after_max_event_{name} {p_after / p_before:.2f} (goal <= {GOAL})")
    p_exp, size_exp, _ = expanded
    print(f"for contrast, GET /api/runs/?expand=properties after it: p95 {p_exp:.1f} ms, {size_exp:,} bytes")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
