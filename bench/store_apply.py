"""App CPU per OpenLineage event in-process, this code beside another checkout, alternating rounds.

    python -m bench.store_apply                        # this code beside 170e77e (a git worktree of it): 8
                                                       # rounds of 150 single events and 500 batched per side
    python -m bench.store_apply --baseline-ref main    # a branch beside main
    python -m bench.store_apply --baseline-ref d357a95 # beside another git ref
    python -m bench.store_apply --baseline /path --rounds 12 --per-round 200 --history 1500 --batched 0

Why in-process: over HTTP (bench.ingest) a single POST's server CPU includes gunicorn, the request
parsing and authentication, and its spread between runs on this shared 2-core machine is wider than
what one change to the write path saves. Here each side is a Python process of its own (this checkout,
and `--baseline`'s checkout, or a detached `git worktree` of `--baseline-ref` made for the run and
removed afterwards, each on its own fresh PostgreSQL database: `--database-url` + "_a" / "_b") that
stores `--history` events in batches untimed, then, round by round — the sides alternating, so machine
load falls on both alike — ingests `--per-round` single events through lineage.ingest.service.ingest_event
(the path a single POST takes after authentication: parse, strict judgement, mapping, lineage.store.apply,
audit entry, commit and WAL flush), the same events on both sides, then `--batched` events through
lineage.ingest.service.ingest_batch, 250 per batch. Per side it reports, per event, medians over rounds:
the process's CPU (time.process_time), its PostgreSQL backend's CPU (/proc, in clock ticks: 10 ms over a
round), and the CPU spent inside lineage.store.apply (thread CPU time around each call). Prints
`ratio: store_apply_app_cpu_per_baseline VALUE` (this side / baseline, app CPU per single event; the
median of the rounds' ratios) and the same for store.apply alone and for the backend, then the same
three for batched events (`store_apply_batch_…`), the absolute figures (this machine's) beside them.

The default baseline is 170e77e, main before store.apply held plain rows instead of model instances and
quoted its own array literals (issue 18): beside `main` itself, `make bench` on main would compare the code
with itself.

Environment: SECRET_KEY, AUDIT_HMAC_KEY as for any benchmark (bench env of the Makefile).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ll_store_apply_bench"
BEFORE_ROWS = "170e77e"  # main before store.apply's rows (see the docstring)
BATCH = 250  # events per batch in the batch rounds


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _events(seed: int, count: int) -> list[dict]:
    """bench.ingest's event draw, kept here on purpose: this file runs in both checkouts (PYTHONPATH is the
    side's root), and importing it from bench.ingest would take each side's own copy, which another ref may
    draw differently; both sides must ingest the same events."""
    from devtools.ingest_demo import generate_events

    events: list[dict] = []
    pipelines = max(1, count // 10 + 1)
    while len(events) < count:
        events.extend(e for e in generate_events(seed=seed, n_pipelines=pipelines) if "run" in e)
        seed += 1
    return events[:count]


def child() -> None:
    """One side: reads commands from stdin ("history N", "round N", "batch N", "quit"), answers one JSON
    line each."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from common.audit import context
    from lineage import store
    from lineage.ingest import service

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench-store-apply")
    seed = int(os.environ["STORE_APPLY_SEED"])
    spent = [0.0]
    real_apply = store.apply

    def timed_apply(*args, **kwargs):
        start = time.thread_time()
        try:
            return real_apply(*args, **kwargs)
        finally:
            spent[0] += time.thread_time() - start

    store.apply = timed_apply
    single = iter(_events(seed, int(os.environ["STORE_APPLY_SINGLES"])))
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    print(json.dumps({"ready": True}), flush=True)
    ctx = context.for_user(user, service="bench:store_apply")
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "quit":
            break
        n = int(arg)
        if command == "history":
            events = _events(seed + 50_000, n)
            with context.acting_as(ctx):
                for start in range(0, n, 250):
                    answer = service.ingest_batch(events[start:start + 250], user)
                    assert answer["summary"]["failed"] == 0, answer["summary"]
            with connection.cursor() as cur:
                cur.execute("ANALYZE")
            print(json.dumps({"done": n}), flush=True)
            continue
        events = [next(single) for _ in range(n)]
        spent[0] = 0.0
        db0, me0, wall0 = _backend_cpu(backend), time.process_time(), time.perf_counter()
        with context.acting_as(ctx):
            if command == "batch":
                for start in range(0, n, BATCH):
                    answer = service.ingest_batch(events[start:start + BATCH], user)
                    assert answer["summary"]["failed"] == 0 and not answer["summary"]["duplicates"], answer["summary"]
            else:
                for event in events:
                    p = service.ingest_event(event, user)
                    assert not p.duplicate
        me, wall, db = time.process_time() - me0, time.perf_counter() - wall0, _backend_cpu(backend) - db0
        print(json.dumps({"app": me / n, "db": db / n, "apply": spent[0] / n, "wall": wall / n}), flush=True)


def _start(root: Path, url: str, seed: int, singles: int) -> subprocess.Popen:
    from bench._db import fresh_database

    fresh_database(url)
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(root), "STORE_APPLY_SEED": str(seed),
           "STORE_APPLY_SINGLES": str(singles), "DJANGO_SETTINGS_MODULE": "governance.settings"}
    # This file runs from this checkout in both; the code under test is the one PYTHONPATH names, and the
    # working directory (not a checkout) adds none of its own.
    # Run as -c (sys.path[0] the working directory), not by path: bench/ on sys.path would shadow packages
    # (bench/lineage.py).
    code = f"import runpy; runpy.run_path({str(Path(__file__).resolve())!r}, run_name='__child__')"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd="/tmp", env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return proc


def _ask(proc: subprocess.Popen, command: str) -> dict:
    proc.stdin.write(command + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"a side stopped (exit {proc.wait()})")
    return json.loads(line)


def run(baseline: Path, url: str, rounds: int, per_round: int, history: int, seed: int, batched: int = 0) -> None:
    sides = {"this": ROOT, "baseline": baseline}
    procs = {name: _start(root, f"{url}_{'a' if name == 'this' else 'b'}", seed,
                          rounds * (per_round + batched) + 10) for name, root in sides.items()}
    try:
        for proc in procs.values():
            proc.stdout.readline()
        for proc in procs.values():
            _ask(proc, f"history {history}")
        for proc in procs.values():
            _ask(proc, "round 10")  # warm-up: imports, prepared statements, caches
        figures: dict[str, list[dict]] = {name: [] for name in sides}
        batches: dict[str, list[dict]] = {name: [] for name in sides}
        for r in range(rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            for name in order:
                figures[name].append(_ask(procs[name], f"round {per_round}"))
            for name in order if batched else ():
                batches[name].append(_ask(procs[name], f"batch {batched}"))
        for proc in procs.values():
            proc.stdin.write("quit\n")
            proc.stdin.flush()
            proc.wait(timeout=60)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()

    print(f"# {rounds} rounds x {per_round} single events (and {batched} in batches of {BATCH}) per side, "
          f"{history} events of history; this = {ROOT}, baseline = {baseline}; ms per event, medians over rounds "
          "(this machine)")
    for label, data in (("single", figures), ("batch", batches)):
        if not data["this"]:
            continue

        def med(name, key):
            return statistics.median(f[key] for f in data[name]) * 1000

        for key in ("app", "apply", "db", "wall"):
            print(f"{label} {key:>6}: this {med('this', key):.3f}  baseline {med('baseline', key):.3f}")
        prefix = "store_apply" if label == "single" else "store_apply_batch"
        for key, name in (("app", "app_cpu"), ("apply", "apply_cpu"), ("db", "db_cpu")):
            ratios = [a[key] / b[key] for a, b in zip(data["this"], data["baseline"]) if b[key]]
            print(f"ratio: {prefix}_{name}_per_baseline {statistics.median(ratios):.3f} "
                  f"(this {med('this', key):.3f} ms / baseline {med('baseline', key):.3f} ms per event)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, help="another checkout of this project (instead of --baseline-ref)")
    parser.add_argument("--baseline-ref", default=BEFORE_ROWS,
                        help=f"git ref to compare with (default {BEFORE_ROWS}, before the rows change)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_URL,
                        help="base URL: the sides use it with _a / _b appended (re-created empty)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--per-round", type=int, default=150)
    parser.add_argument("--history", type=int, default=1000)
    parser.add_argument("--batched", type=int, default=500,
                        help=f"events per round also sent in batches of {BATCH} (0: single events only)")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        raise SystemExit("PostgreSQL only: the single-event fast path is what this measures")
    with contextlib.ExitStack() as stack:
        baseline = args.baseline.resolve() if args.baseline else stack.enter_context(_worktree(args.baseline_ref))
        run(baseline, args.database_url, args.rounds, args.per_round, args.history, args.seed, args.batched)


@contextlib.contextmanager
def _worktree(ref: str):
    """A detached `git worktree` of `ref`, removed afterwards (as bench.ingest's baseline)."""
    where = Path(tempfile.mkdtemp(prefix="ll_bench_ref_")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(where), ref], cwd=ROOT, check=True)
    try:
        yield where
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(where)], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
elif __name__ == "__child__":
    child()
