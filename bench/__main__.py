"""Run every benchmark module in bench/ with its default (small) size, or the ones named on the command line.

    python -m bench                 # all of them
    python -m bench lineage audit   # only these
Each module runs in its own process (each picks its own database and Django settings), prints its own
figures; this runner prints a header per module and carries on after a failure, exiting non-zero at the end
if any failed.
"""
from __future__ import annotations

import subprocess
import pkgutil
import sys
import time
from pathlib import Path


def _modules() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names = argv or _modules()
    failed = []
    for name in names:
        print(f"\n=== bench.{name}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=Path(__file__).parent.parent)
        if code != 0:
            failed.append(name)
        print(f"--- bench.{name} took {time.perf_counter() - started:.1f} s", flush=True)
    if failed:
        print("failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
