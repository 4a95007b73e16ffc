"""Evidence bundle build and verification time for a model version with 1,000 upstream nodes, on PostgreSQL.

    python -m bench.archive                       # 1,000 upstream nodes, 3 builds
    python -m bench.archive --upstream 5000 --repeat 5

Uses `DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/ll_archive_bench, created and migrated when
missing) and a temporary LL_DATA_DIR for the bundle store. Generates a fresh lineage each run through the
store write path (devtools.archive_sample: runs consuming 3 datasets each, jobs, OpenLineage-shaped raw
payloads on every fact, a model and a deployment downstream), then:
- build: `services.build_bundle(model_version, auditor, depth=50)`, the whole thing the API does: the
  recursive closure query, reading nodes, revisions, edges and raw payloads, the approvals and audit
  excerpt with an on-demand signed checkpoint, report.html, the ZIP, the content-addressed write, the
  bundle and member rows, freezing the nodes and the audit entry. Checked: the closure really holds at
  least `--upstream` upstream nodes.
- verify: `governance.archive.verify.verify_path(bundle, keys=...)`, the stdlib verifier the offline
  command runs (every hash, the manifest, graph closure, raw digests, audit chain and checkpoint
  signature), in-process; and the same as a fresh `python -m governance.archive.verify` process.
Prints the median and the worst of `--repeat` runs.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from bench._db import ensure_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ll_archive_bench"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.archive", description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", type=int, default=1000, help="upstream nodes of the model version")
    parser.add_argument("--repeat", type=int, default=3, help="bundles built (and verified) per run")
    args = parser.parse_args(argv)

    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    ensure_database(url)
    data_dir = tempfile.mkdtemp(prefix="ll_archive_bench_")
    os.environ["LL_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from common.roles import AUDITOR, ensure_groups
    from governance.archive import services, verify
    from devtools.archive_sample import make_model_lineage
    from governance.audit.offline_verify import keys_from
    from lineage import graph

    ensure_groups()
    from django.contrib.auth.models import Group

    auditor, _ = get_user_model().objects.get_or_create(username="bench-auditor")
    auditor.groups.add(Group.objects.get(name=AUDITOR))

    prefix = f"bench{int(time.time() * 1000)}"
    started = time.perf_counter()
    mv = make_model_lineage(prefix, upstream=args.upstream, fan_in=3)
    generated = time.perf_counter() - started
    upstream = len(graph.reachable([mv.pk], direction="upstream", depth=graph.MAX_DEPTH)) - 1
    if upstream < args.upstream:
        raise SystemExit(f"generator made only {upstream} upstream nodes, wanted {args.upstream}")
    keys = keys_from([settings.AUDIT_HMAC_KEY], [])
    vendor = django.db.connection.vendor
    print(f"database {vendor}; model version with {upstream} upstream nodes generated in {generated:.1f} s")

    builds, verifies, commands = [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        bundle = services.build_bundle(mv, auditor, depth=graph.MAX_DEPTH)
        builds.append(time.perf_counter() - t0)
        path = Path(data_dir) / "archive" / bundle.storage_key
        t0 = time.perf_counter()
        report = verify.verify_path(str(path), expected_sha256=bundle.sha256, keys=keys)
        verifies.append(time.perf_counter() - t0)
        if report.nodes - 1 < upstream or not any("signature verified" in n for n in report.notes):
            raise SystemExit(f"bundle verified with {report.nodes} nodes and notes {report.notes}")
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "governance.archive.verify", str(path), "--sha256", bundle.sha256,
                               "--hmac-key", settings.AUDIT_HMAC_KEY], cwd=ROOT, capture_output=True, text=True)
        commands.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise SystemExit(f"offline verify failed: {done.stdout}{done.stderr}")

    print(f"bundle: {bundle.node_count} nodes, {bundle.edge_count} edges, {bundle.raw_count} raw payloads, "
          f"{bundle.size / 1e6:.2f} MB ZIP")
    print(f"build seconds:  median {statistics.median(builds):.3f}  worst {max(builds):.3f}  (goal <= 3 s)  n={len(builds)}")
    print(f"verify seconds: median {statistics.median(verifies):.3f}  worst {max(verifies):.3f}  (goal <= 1 s, in-process)")
    print(f"verify command seconds (new python process incl. start-up): median {statistics.median(commands):.3f}  "
          f"worst {max(commands):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
