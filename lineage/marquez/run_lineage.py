"""Marquez's `GET /api/v1/runlineage/upstream?runId=…&depth=N`: the runs a run depended on, through the
dataset versions it consumed and the runs that produced them, `depth` runs deep (the store's consumed and
produced edges, one indexed query per level; bounded like the other graph reads)."""
from __future__ import annotations

from lineage.graph import MAX_NODES
from lineage.marquez import shapes
from lineage.marquez.graph import MAX_DEPTH, props_at
from lineage.marquez.queries import jobs_of_runs, run
from lineage.marquez.sql import rows
from lineage.models import Node

_INPUTS_SQL = """
SELECT c.dst_id, c.src_id, p.src_id FROM lineage_edge c
JOIN lineage_node v ON v.id = c.src_id AND v.kind = 'dataset_version'
LEFT JOIN lineage_edge p ON p.dst_id = c.src_id AND p.kind = 'produced' AND {live:p}
WHERE c.kind = 'consumed' AND {live:c} AND c.dst_id IN ({ids})
"""


def upstream(run_id: str, depth: int = 20, *, as_of=None, max_nodes: int = MAX_NODES) -> dict:
    if not 0 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be between 0 and {MAX_DEPTH}")
    start = run(run_id, as_of)
    order = [start.pk]
    inputs: dict[int, list[tuple[int, int | None]]] = {}
    frontier = [start.pk]
    truncated = False
    for _level in range(depth + 1):
        if not frontier:
            break
        found = rows(_INPUTS_SQL, frontier, as_of)
        nxt = []
        for run_pk, version_pk, producer_pk in found:
            inputs.setdefault(run_pk, []).append((version_pk, producer_pk))
            if producer_pk is not None and producer_pk not in order and producer_pk not in nxt:
                nxt.append(producer_pk)
        if _level == depth:
            break
        room = max_nodes - len(order)
        if len(nxt) > room:
            truncated, nxt = True, sorted(nxt)[:max(room, 0)]
        order += nxt
        frontier = nxt
    runs = Node.objects.in_bulk(order)
    producers = Node.objects.in_bulk(sorted({p for items in inputs.values() for _v, p in items if p is not None}))
    versions = Node.objects.in_bulk(sorted({v for items in inputs.values() for v, _p in items}))
    props = props_at(runs.values(), as_of)
    jobs = jobs_of_runs(order, as_of)
    answer = []
    for pk in order:
        r, p = runs[pk], props[pk]
        job = jobs.get(pk)
        state = shapes.RUN_STATES.get(str(p.get("state", "")).upper(), "NEW")
        answer.append({
            "job": shapes.compact({"namespace": job.namespace if job else r.namespace,
                                   "name": job.name if job else None,
                                   "version": shapes.job_version_uuid(r)}),
            "run": shapes.compact({"id": shapes.run_uuid(p.get("run_id") or r.source_id),
                                   "start": shapes.iso(p.get("started_at")), "end": shapes.iso(p.get("ended_at")),
                                   "status": state}),
            "inputs": [shapes.compact({
                "namespace": versions[v].namespace, "name": versions[v].name,
                "version": shapes.dataset_version_uuid(versions[v]),
                "producedByRunId": shapes.run_uuid(producers[prod].source_id) if prod in producers else None,
            }) for v, prod in sorted(inputs.get(pk, []), key=lambda item: item[0])],
        })
    return {"runs": answer, **({"truncated": True} if truncated else {})}
