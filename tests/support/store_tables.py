"""Every stored row of the lineage tables by natural keys, and harvest-style fact sequences to write them.

`snapshot()` reads every column of every row but the id of the tables lineage.store.apply writes (and the
ingest's log), foreign keys as the natural key of the row they point at, JSON as sorted-key text, rows as
sorted lists: two stores that hold the same facts give equal snapshots whatever ids they handed out.
`digests()` is its SHA-256 per table, with row counts.

`harvest_calls(seed)` is a sequence of `store.apply` calls (lists of facts) the way connectors send them:
several sources, properties merged, replaced and changed (revisions), names changing, facts observed late
(`seen_at` older than what the node holds) with and without `older_never_overwrites` / `newer_by`, edges
restated later, restated earlier with another payload (their evidence moves), properties merged into
edges, closed, closed twice, reopened, closed in the call that opened them, edges to nodes no fact
describes yet (placeholders), raw payloads repeated within and across calls, missing times (`now`), and
calls large enough for the PostgreSQL fast path's COPY. Its `archive_after` call index says when to freeze
some nodes (`freeze()`), as an evidence bundle would, so that later calls meet archived nodes too.

Only the public API of lineage.store is used, so the same sequence can be run by another version of the
code (bench and review scripts load this file by path).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import random

from django.db import connection, models

from lineage import store
from lineage.store import EdgeClose, EdgeFact, NodeFact, NodeKey, RawPayload

T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
SOURCES = ("kubeflow", "viya", "mlflow")
KINDS = ("dataset", "model", "model_version", "run", "artifact")
EDGE_KINDS = ("produced", "consumed", "version_of", "instance_of")


def _tables() -> list:
    from django.apps import apps

    names = ["lineage.RawRecord", "lineage.Node", "lineage.NodeRevision", "lineage.Edge", "lineage.JobIO",
             "lineage.JobLatestRun", "ingest.IngestedEvent"]
    out = []
    for name in names:
        try:
            out.append(apps.get_model(name))
        except LookupError:
            pass
    return out


def snapshot() -> dict[str, list[tuple]]:
    from django.contrib.auth import get_user_model

    from lineage.models import Node, RawRecord

    keys = {
        RawRecord: {r[0]: r[1:] for r in RawRecord.objects.values_list("id", "source", "kind", "source_id", "digest")},
        Node: {r[0]: r[1:] for r in Node.objects.values_list("id", "source", "kind", "source_id")},
        get_user_model(): dict(get_user_model().objects.values_list("id", "username")),
    }
    out = {}
    for model in _tables():
        fields = [f for f in model._meta.concrete_fields if not (f.primary_key and not f.is_relation)]
        rows = []
        for values in model.objects.values_list(*[f.attname for f in fields]):
            row = []
            for f, value in zip(fields, values):
                if f.is_relation and value is not None:
                    value = keys[f.related_model][value]
                elif isinstance(f, models.JSONField):
                    value = json.dumps(value, sort_keys=True)
                elif isinstance(value, dt.datetime):
                    value = value.astimezone(dt.timezone.utc).isoformat()
                row.append((f.column, value))
            rows.append(tuple(row))
        out[model._meta.db_table] = sorted(rows, key=repr)
    return out


def digests(snap: dict | None = None) -> dict[str, tuple[int, str]]:
    snap = snapshot() if snap is None else snap
    return {table: (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()) for table, rows in snap.items()}


def first_difference(a: dict, b: dict) -> str:
    for table in a:
        only_a = [r for r in a[table] if r not in b.get(table, [])]
        only_b = [r for r in b.get(table, []) if r not in a[table]]
        if only_a or only_b:
            return f"{table}: first only {only_a[:2]}; second only {only_b[:2]}"
    return ""


def harvest_calls(seed: int = 1, calls: int = 40) -> tuple[list[list], int]:
    """(calls, archive_after): see the module docstring."""
    rng = random.Random(seed)
    # some ids with quotes, a backslash, a newline, a '%s' and non-ASCII text, as sources may send
    keys = [NodeKey(rng.choice(SOURCES), rng.choice(KINDS), f"obj-{i}" + ("'\\\"\n%s é" if i % 7 == 0 else ""))
            for i in range(60)]
    out: list[list] = []
    stated: list[tuple] = []  # (kind, src, dst) of the edges stated so far

    def when(hours: float) -> dt.datetime:
        return T0 + dt.timedelta(hours=hours)

    def payload(i: int) -> RawPayload:
        # a small pool of bodies: the same payload recurs within and across calls
        j = i % 23
        return RawPayload(SOURCES[j % 3], "harvest.object", f"obj-{j}", {"object": j, "v": j % 4, "text": "é\\'\"\n\t%s"})

    for c in range(calls):
        facts: list = []
        big = c % 10 == 3  # a call of hundreds of facts: the fast path's COPY
        n = 120 if big else rng.randint(1, 12)
        closed_here: set = set()
        for _ in range(n):
            r = rng.random()
            k = rng.choice(keys)
            t = when(rng.uniform(-48, 24 * 10))
            if r < 0.45:
                props = {f"p{rng.randint(0, 5)}": rng.choice([1, "x", None, [1, 2], {"a": rng.randint(0, 3)}, 2.5])
                         for _ in range(rng.randint(0, 3))}
                newer_by = ""
                if rng.random() < 0.15:
                    props["observed_at"] = t.isoformat() if rng.random() < 0.9 else "not a time"
                    newer_by = "observed_at"
                facts.append(NodeFact(
                    k, name=rng.choice([k.source_id, k.source_id + "-renamed", ""]) or k.source_id,
                    namespace=rng.choice(["", "ns-a", "ns-b"]), display_name=rng.choice(["", f"Display {k.source_id}"]),
                    properties=props, seen_at=None if rng.random() < 0.05 else t,
                    raw=payload(rng.randint(0, 200)) if rng.random() < 0.7 else None,
                    replace_properties=rng.random() < 0.2, older_never_overwrites=rng.random() < 0.3,
                    newer_by=newer_by))
            elif r < 0.8:
                if stated and rng.random() < 0.5:
                    # restated: later (last_seen), earlier (valid_from and evidence move), or after its close
                    # in an earlier call (closed and restated in one call: test_store_close_and_reopen)
                    kind, src, dst = rng.choice(stated)
                    if (kind, src, dst) in closed_here:
                        continue
                else:
                    (src, dst), kind = rng.sample(keys, 2), rng.choice(EDGE_KINDS)
                    stated.append((kind, src, dst))
                facts.append(EdgeFact(kind, src, dst, src.source,
                                      valid_from=None if rng.random() < 0.05 else t,
                                      properties={"w": rng.randint(0, 2)} if rng.random() < 0.3 else {},
                                      raw=payload(rng.randint(0, 200)) if rng.random() < 0.7 else None))
            elif r < 0.95:
                if stated and rng.random() < 0.8:
                    # close an edge stated before (or in this call), now or at a given time; perhaps again
                    kind, src, dst = rng.choice(stated[-40:])
                else:
                    (src, dst), kind = rng.sample(keys, 2), rng.choice(EDGE_KINDS)  # an edge never stated
                facts.append(EdgeClose(kind, src, dst, at=None if rng.random() < 0.2 else t))
                closed_here.add((kind, src, dst))
            else:
                facts.append(payload(rng.randint(0, 200)))
        out.append(facts)
    return out, calls // 2


def freeze(at: dt.datetime = T0) -> int:
    """Archive every third node, as an evidence bundle's restore does (later harvests never rewrite them)."""
    from lineage.models import Node

    # by natural key, not id: stores that handed out ids in another order freeze the same nodes
    ids = [row[-1] for row in sorted(Node.objects.values_list("source", "kind", "source_id", "id"))[::3]]
    return Node.objects.filter(pk__in=ids).update(archived_at=at)


def run_harvest(seed: int = 1, calls: int = 40, *, fact_at_a_time: bool = False) -> list[dict]:
    """Apply `harvest_calls(seed)` in order, each in its own call; the counts of each call.

    `fact_at_a_time`: each fact in a call of its own instead, in the order `apply` gives a call's facts
    their meaning (raw payloads, node facts, then edges and closes as given); the counts are then None."""
    sequence, archive_after = harvest_calls(seed, calls)
    counts = []
    for i, facts in enumerate(sequence):
        if i == archive_after:
            freeze()
        if not fact_at_a_time:
            counts.append(store.apply(facts).as_counts())
            continue
        payloads = [f for f in facts if isinstance(f, RawPayload)]
        nodes = [f for f in facts if isinstance(f, NodeFact)]
        edges = [f for f in facts if isinstance(f, (EdgeFact, EdgeClose))]
        for fact in payloads + nodes + edges:
            store.apply([fact])
        counts.append(None)
    return counts


def vendor() -> str:
    return connection.vendor


FROZEN = dt.datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone.utc)


def freeze_clock(monkeypatch) -> dt.datetime:
    """`django.utils.timezone.now` and every DateTimeField default return one fixed instant, so that the
    wall-clock columns (recorded_at, received_at, the `now` of facts without a time) compare too."""
    from django.apps import apps
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: FROZEN)
    for model in apps.get_models():
        for f in model._meta.concrete_fields:
            if isinstance(f, models.DateTimeField) and f.has_default():
                # Field.get_default goes through a cached property holding the default callable.
                monkeypatch.setattr(f, "_get_default", lambda: FROZEN)
    return FROZEN


def wipe() -> None:
    from lineage.models import Edge, Node, NodeRevision, RawRecord

    Edge.objects.all().delete()
    NodeRevision.objects.all().delete()
    Node.objects.all().delete()
    RawRecord.objects.all().delete()
