"""Audit trail benchmarks on PostgreSQL: append throughput and whole-chain verification speed.

    python -m bench.audit                      # small default sizes (a minute or two)
    python -m bench.audit --entries 1000000    # the 1M-entry verification goal (≤ 30 s)
    python -m bench.audit --appends 20000 --batch 500 --threads 8

Uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/ll_audit_bench), created and migrated when
missing. It empties the audit tables of that database (lifting the append-only triggers, as a table owner
can), so it refuses any database whose name does not end in "_bench".

Append: `record()` with one entry per transaction (the cost every audited request pays: advisory lock,
read of the tail, insert, commit), the same from several threads at once, and `record_many()` batches.
Periodic checkpoints (every AUDIT_CHECKPOINT_EVERY, default 1000) are written as in production.
Verify: a chain of --entries rows with a signed checkpoint every 1000, generated with real hashes and
loaded with COPY (fast to make, yet indistinguishable from a recorded one: it verifies), then walked by
`verify_chain()` exactly as `manage.py verify_audit` does. Goals: ≥ 2,000 appends/s, 1M verified ≤ 30 s.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import sys
import threading
import time
from urllib.parse import urlparse
from bench._db import ensure_database

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ll_audit_bench"
CHECKPOINT_EVERY = 1000


def _setup(url: str) -> None:
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    os.environ.setdefault("LL_DATA_DIR", "/tmp/ll_audit_bench")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.AUDIT_CHECKPOINT_EVERY = CHECKPOINT_EVERY
    call_command("migrate", verbosity=0, interactive=False)


def _reset() -> None:
    from django.db import connection

    from governance.audit import append_only

    with append_only.suspended(connection), connection.cursor() as cur:
        cur.execute("TRUNCATE audit_auditentry, audit_auditcheckpoint")


def _payload(i: int) -> dict:
    return {
        "action": "promotion.decide" if i % 3 else "harvest.run",
        "object_type": "model_version",
        "object_id": f"mv-{i % 997}",
        "before": {"stage": "staging", "version": i % 50},
        "after": {"stage": "production", "version": i % 50, "counts": {"runs": i % 7, "artifacts": i % 11}},
        "reason": "benchmark",
    }


def bench_append(appends: int, batch: int, threads: int) -> dict:
    from django.db import connections

    from common.audit import context
    from governance.audit import recorder
    from governance.audit.verify import verify_chain

    _reset()
    figures = {"commit_baseline_per_s": _commit_baseline(min(appends, 1000))}
    with context.acting_as(context.AuditContext(username="bench", request_id="bench-append")):
        recorder.record(**_payload(0))  # warm: connection, imports, first checkpoint state
        started = time.perf_counter()
        for i in range(appends):
            recorder.record(**_payload(i))
        elapsed = time.perf_counter() - started
        figures["record_single_per_s"] = appends / elapsed

        per_thread = max(1, appends // threads)
        barrier = threading.Barrier(threads + 1)
        errors = []

        def writer(n):
            try:
                with context.acting_as(context.AuditContext(username=f"bench-{n}", request_id=f"bench-{n}")):
                    barrier.wait()
                    for i in range(per_thread):
                        recorder.record(**_payload(i))
            except Exception as exc:
                errors.append(exc)
            finally:
                connections.close_all()

        workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        barrier.wait()
        started = time.perf_counter()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - started
        if errors:
            raise SystemExit(f"concurrent append failed: {errors[0]!r}")
        figures["record_threads"] = threads
        figures["record_threads_per_s"] = per_thread * threads / elapsed

        total = max(appends, batch) * 5
        items = [_payload(i) for i in range(total)]
        started = time.perf_counter()
        for i in range(0, total, batch):
            recorder.record_many(items[i:i + batch])
        elapsed = time.perf_counter() - started
        figures["record_many_batch"] = batch
        figures["record_many_per_s"] = total / elapsed
    result = verify_chain()
    if not result.ok:
        raise SystemExit(f"the chain written by the append benchmark does not verify: {result.first_break}")
    figures["append_entries_written"] = result.verified_to
    figures["append_checkpoints"] = result.checkpoints_verified
    return figures


_NEEDS_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _commit_baseline(n: int) -> float:
    """Bare one-row INSERT + COMMIT per transaction on this server: the ceiling for any audited write."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS audit_bench_baseline (id bigserial PRIMARY KEY, v text)")
        cur.execute("TRUNCATE audit_bench_baseline")
        started = time.perf_counter()
        for i in range(n):
            cur.execute("INSERT INTO audit_bench_baseline (v) VALUES (%s)", [f"row {i}"])
        elapsed = time.perf_counter() - started
    return n / elapsed


def _copy_escape(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return r"\N"
    if isinstance(value, int):
        return str(value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.translate(_NEEDS_ESCAPE)


def generate_chain(entries: int) -> float:
    """Write a valid chain of `entries` rows (checkpoint every 1000, each announced) with COPY; seconds taken."""
    from django.db import connection

    from governance.audit import chain, signing
    from governance.audit.models import iso

    _reset()
    signer = signing.current_signer()
    started = time.perf_counter()
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    entry_columns = (*chain.HASHED_FIELDS, "prev_hash", "hash")
    rows, cps = io.StringIO(), io.StringIO()
    prev = chain.GENESIS
    announce = None
    flushed = 0

    def flush():
        rows.seek(0)
        with connection.cursor() as cur:
            cur.copy_expert(f"COPY audit_auditentry ({', '.join(entry_columns)}) FROM STDIN", rows)
        rows.seek(0)
        rows.truncate()

    for seq in range(1, entries + 1):
        at = iso(t0 + dt.timedelta(milliseconds=seq))
        if announce is not None:
            spec = {"action": chain.CHECKPOINT_ACTION, "object_type": "audit_checkpoint", "object_id": str(announce["seq"]),
                    "before": None, "after": {**announce, "trigger": "periodic"}, "reason": ""}
            announce = None
        else:
            spec = _payload(seq)
            spec["object_id"] = str(spec["object_id"])
        fields = {
            "seq": seq, "at": at, "actor_id": seq % 40 or None, "actor_username": f"user{seq % 40}",
            "action": spec["action"], "object_type": spec["object_type"], "object_id": spec["object_id"],
            "before": spec["before"], "after": spec["after"], "request_id": f"req-{seq // 3:012x}",
            "client_ip": "10.0.0.7", "reason": spec["reason"],
        }
        digest = chain.entry_hash(prev, fields)
        rows.write("\t".join(_copy_escape(fields[c]) if c in fields else "" for c in chain.HASHED_FIELDS))
        rows.write(f"\t{prev}\t{digest}\n")
        prev = digest
        if seq % CHECKPOINT_EVERY == 0 and seq < entries:
            signed = {"seq": seq, "entry_hash": digest, "created_at": at, "key_id": signer.key_id, "algorithm": signer.algorithm}
            signed["signature"] = signer.sign(signed)
            cps.write("\t".join(_copy_escape(signed[c]) for c in ("seq", "entry_hash", "created_at", "algorithm", "key_id", "signature")) + "\n")
            announce = signed
        if seq - flushed >= 50_000:
            flush()
            flushed = seq
    flush()
    cps.seek(0)
    with connection.cursor() as cur:
        cur.copy_expert("COPY audit_auditcheckpoint (seq, entry_hash, created_at, algorithm, key_id, signature) FROM STDIN", cps)
        cur.execute("ANALYZE audit_auditentry")
    return time.perf_counter() - started


def bench_verify(entries: int) -> dict:
    from governance.audit.verify import verify_chain

    generated = generate_chain(entries)
    started, cpu = time.perf_counter(), time.process_time()
    result = verify_chain()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if not result.ok or result.verified_to != entries:
        raise SystemExit(f"generated chain did not verify: {result.summary()}")
    return {
        "verify_entries": entries,
        "verify_checkpoints": result.checkpoints_verified,
        "verify_generate_s": generated,
        "verify_s": elapsed,
        "verify_entries_per_s": entries / elapsed,
        "verify_cpu_s": cpu,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--appends", type=int, default=2000, help="single-entry appends (default 2000)")
    parser.add_argument("--batch", type=int, default=500, help="record_many batch size (default 500)")
    parser.add_argument("--threads", type=int, default=4, help="concurrent writers (default 4)")
    parser.add_argument("--entries", type=int, default=100_000, help="chain length to verify (default 100000)")
    parser.add_argument("--skip-append", action="store_true")
    parser.add_argument("--skip-verify", action="store_true")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    _setup(url)
    print(f"audit benchmark on {urlparse(url).hostname}/{urlparse(url).path.lstrip('/')}, checkpoint every {CHECKPOINT_EVERY}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    if not args.skip_append:
        f = bench_append(args.appends, args.batch, args.threads)
        print(f"append, baseline: bare INSERT+COMMIT (no audit):  {f['commit_baseline_per_s']:>9,.0f} rows/s (this server's commit rate)")
        print(f"append, record() one entry per transaction:      {f['record_single_per_s']:>9,.0f} entries/s ({args.appends} entries)")
        print(f"append, record() from {f['record_threads']} threads at once:        {f['record_threads_per_s']:>9,.0f} entries/s")
        print(f"append, record_many() batches of {f['record_many_batch']}:           {f['record_many_per_s']:>9,.0f} entries/s  (goal >= 2,000)")
        print(f"append chain afterwards: {f['append_entries_written']} entries, {f['append_checkpoints']} checkpoints, verifies OK")
    if not args.skip_verify:
        f = bench_verify(args.entries)
        projected = 1_000_000 / f["verify_entries_per_s"]
        print(f"verify: generated {f['verify_entries']:,} entries + {f['verify_checkpoints']} checkpoints by COPY in {f['verify_generate_s']:.1f} s")
        print(f"verify: {f['verify_entries']:,} entries in {f['verify_s']:.2f} s = {f['verify_entries_per_s']:,.0f} entries/s "
              f"(1M would take ~{projected:.1f} s at this rate; goal <= 30 s, measure with --entries 1000000)")
        print(f"verify: of which {f['verify_cpu_s']:.2f} s CPU in this process (hashing, JSON; the database serves rows meanwhile)")
    print(f"load average {os.getloadavg()[0]:.1f} at end (figures are wall-clock; a busy machine lowers them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
