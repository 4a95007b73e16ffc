"""The strict 2-0-2 judgement every ingested event gets: the compiled schema beside the walk it replaced.

    python -m bench.strict_judgement              # demo events of 40 pipelines (+ the shared corpus when present)
    python -m bench.strict_judgement --rounds 20

Both judge the same events in this one process, alternately, round after round (the figure is the median
of the per-round CPU times per event): `lineage.ingest.strict.judge` (jsonschema-rs on the shipped
2-0-2 schema; the walk runs only for events it rejects) and `lineage.ingest.strict.walk` (openlineage-
python's classes, what judged every event before). The verdicts are compared event by event and a
difference aborts the benchmark. Needs no database.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _events() -> tuple[list[dict], str]:
    from devtools.ingest_demo import generate_events

    events = generate_events(11, 40)
    corpus = ROOT.parent / "shared" / "fixtures" / "openlineage" / "events"
    where = "demo events"
    if corpus.is_dir():
        found = [json.loads(p.read_text()) for p in sorted(corpus.glob("*.json"))]
        events += [e for e in found if isinstance(e, dict)]
        where += " + the shared OpenLineage corpus"
    return events, where


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    from lineage.ingest import strict
    from lineage.ingest.events import kind_from_schema_url

    events, where = _events()
    judged = [(e, kind_from_schema_url(e.get("schemaURL"))) for e in events]
    for event, kind in judged:
        if (strict.judge(event, kind) == []) != (strict.walk(event, kind) == []):
            print(f"verdicts differ for an event of kind {kind}", file=sys.stderr)
            return 1
    compiled_us, walk_us = [], []
    for _ in range(args.rounds):
        for name, fn, out in (("compiled", strict.judge, compiled_us), ("walk", strict.walk, walk_us)):
            started = time.process_time()
            for event, kind in judged:
                fn(event, kind)
            out.append((time.process_time() - started) / len(judged) * 1e6)
    compiled, walked = statistics.median(compiled_us), statistics.median(walk_us)
    rejected = sum(1 for e, k in judged if strict.judge(e, k))
    print(f"strict judgement of {len(judged)} events ({where}; {rejected} rejected), median of {args.rounds} rounds, "
          f"CPU per event: compiled {compiled:.1f} µs, walk {walked:.1f} µs  [this machine's]")
    print(f"ratio: strict_compiled_per_walk {compiled / walked:.2f} (printed)  [{compiled:.1f} / {walked:.1f} µs per event; same verdict for every event]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
