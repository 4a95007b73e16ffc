"""p95 of the main lists (`GET /api/nodes/?page_size=50`, `GET /api/runs/`) before and after one
maximum-size OpenLineage event is ingested, in the same run (goal: after/before <= 1.5).

    python -m bench.list_bounds                      # 300 ordinary runs, 200 timed requests per list
    python -m bench.list_bounds --runs 2000 --requests 500

Database: `DATABASE_URL` (PostgreSQL; default postgres://postgres@127.0.0.1:5432/ll_list_bounds_bench),
dropped, re-created and migrated, plus its twin `<name>_twin`. Servers are production-shaped
(bench._server.Gunicorn: gunicorn gthread, DEBUG off); requests go over HTTP with an engineer's token.

Why a twin: on a machine shared with other work, two p95s taken a minute apart differ by ±50% from the
load of the moment alone (seen here: 0.7 to 2.2 for the same code). So the store is built once (`--runs`
ordinary RunEvents, each a run, a job and two datasets with small facets), copied byte for byte
(CREATE DATABASE … TEMPLATE), and each copy served by its own gunicorn. Every timed request goes to both
servers back to back (alternating which goes first), so both samples see the same moment's load:

  1. before: both stores as built; their p95s must agree (printed: the calibration ratio);
  2. one RunEvent of INGEST_MAX_EVENT_BYTES less a small margin (run, job and output facets of the shapes
     Spark sends: a plan, a wide schema with column lineage) is POSTed to the second server (201);
  3. after: the same interleaved timing. The second store is now "after", the first is still exactly
     "before": `ratio: list_p95_after_max_event_<list>` is after / before from this same window.
The sequential before -> after of the second server alone is printed too, for the record.

Checked, or the module exits non-zero: the big event was stored, both lists answer 200 with the big run
among their results on the second server, and no list answer after it exceeds 64 KB. For contrast (printed,
not a goal) the runs list with `?expand=properties`, which does carry the facets.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from urllib.parse import urlparse, urlunparse

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


def _twin_of(url: str) -> str:
    parts = urlparse(url)
    return urlunparse(parts._replace(path=parts.path.rstrip("/") + "_twin"))


def _copy_database(url: str, twin: str) -> None:
    """`twin` as a byte-for-byte copy of `url` (no connection to `url` may be open)."""
    from psycopg2 import sql

    from bench._db import _admin

    source, target = urlparse(url).path.lstrip("/"), urlparse(twin).path.lstrip("/")
    admin = _admin(url)
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target)))
        cur.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(target), sql.Identifier(source)))
    admin.close()


def _time_pair(sessions, bases, path: str, requests: int) -> list[tuple[float, int, dict]]:
    """p95 (ms), last answer size and body of `path` on each server, timed back to back."""
    for _ in range(10):  # warm-up: connections, caches
        for session, base in zip(sessions, bases):
            session.get(base + path)
    times = [[], []]
    last = [(0, {}), (0, {})]
    for i in range(requests):
        order = (0, 1) if i % 2 == 0 else (1, 0)
        for k in order:
            started = time.perf_counter()
            response = sessions[k].get(bases[k] + path)
            times[k].append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"GET {path} answered {response.status_code}: {response.text[:200]}")
            last[k] = (len(response.content), response.json() if i == requests - 1 else last[k][1])
    return [(_p95(times[k]), last[k][0], last[k][1]) for k in (0, 1)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.list_bounds", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="ordinary RunEvents stored first (default 300)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per list and phase (default 200)")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not url.startswith("postgres"):
        raise SystemExit("bench.list_bounds needs PostgreSQL (DATABASE_URL=postgres://…): it copies the database")
    setup_django(url)
    fresh_migrated_database(url)
    token = create_engineers("lists", 1)[0]

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connections
    import requests

    from lineage.ingest import service

    engineer = get_user_model().objects.get(username="lists-0")
    for start in range(0, args.runs, 100):
        answer = service.ingest_batch([_event(i) for i in range(start, min(start + 100, args.runs))], engineer)
        if answer["summary"]["failed"]:
            raise SystemExit(f"loading the ordinary runs failed: {answer}")
    connections.close_all()
    twin = _twin_of(url)
    _copy_database(url, twin)
    limit = settings.INGEST_MAX_EVENT_BYTES
    ok = True
    with Gunicorn(server_env(url), workers=1) as same, Gunicorn(server_env(twin), workers=1) as changed, \
            requests.Session() as s_same, requests.Session() as s_changed:
        sessions, bases = (s_same, s_changed), (same.base, changed.base)
        for session in sessions:
            session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        before = {name: _time_pair(sessions, bases, path, args.requests) for name, path in LISTS.items()}

        big = json.dumps(max_size_event(limit), separators=(",", ":"))
        posted = s_changed.post(changed.base + "/api/v1/lineage", data=big)
        print(f"one event of {len(big):,} bytes (INGEST_MAX_EVENT_BYTES {limit:,}) posted to the second store: "
              f"{posted.status_code}")
        if posted.status_code != 201:
            print(f"WRONG: the maximum-size event was refused: {posted.text[:300]}")
            return 1
        big_run = str(uuid.UUID(int=10**6 + 1))
        after = {name: _time_pair(sessions, bases, path, args.requests) for name, path in LISTS.items()}
        expanded = s_changed.get(changed.base + LISTS["runs"] + "?expand=properties")

    for name, path in LISTS.items():
        (b_same, _, _), (b_changed, size_before, _) = before[name]
        (a_same, _, _), (a_changed, size_after, body) = after[name]
        holds_big = any(item.get("source_id") == big_run or item.get("name") == big_run for item in body["results"])
        print(f"GET {path}: before p95 {b_same:.1f} / {b_changed:.1f} ms (calibration, the two identical stores: "
              f"{b_changed / b_same:.2f}); after p95 {a_same:.1f} ms without the event, {a_changed:.1f} ms with it "
              f"({size_after:,} bytes, was {size_before:,}; the big run {'on' if holds_big else 'NOT on'} the page); "
              f"sequential before -> after on the second store: {a_changed / b_changed:.2f}")
        if not holds_big:
            print(f"WRONG: {path} does not list the big run, so 'after' did not time a list that holds it")
            ok = False
        if size_after > MAX_LIST_BYTES:
            print(f"WRONG: {path} answered {size_after:,} bytes after the big event (bound {MAX_LIST_BYTES:,})")
            ok = False
        print(f"ratio: list_p95_after_max_event_{name} {a_changed / a_same:.2f} (goal <= {GOAL})")
    print(f"for contrast, GET /api/runs/?expand=properties after it: {len(expanded.content):,} bytes")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
