"""Marquez's `GET /api/v1/lineage?nodeId=…&depth=N` answer, computed from the lineage store.

Marquez shows a job/dataset graph; the store holds runs and dataset versions too. The job/dataset graph is
derived as lineage/ingest/mapping.py documents it (only edges that still hold count, like Marquez's
"current lineage"):
- job J outputs dataset D when J -instance_of-> R -produced-> V -version_of-> D, or R -produced-> D,
  or J -produced-> D (a JobEvent's design-time output);
- job J inputs dataset D when V -consumed-> R with V -version_of-> D, or D -consumed-> R, for a run R of
  J, or D -consumed-> J.

Why depth counts jobs: Marquez walks job to job through any dataset they share (as input or output) and
stops `depth` jobs away from the start; the datasets of every job reached are included. We do the same,
one level per step, each step one set-at-a-time indexed query, so the work follows the size of the answer,
not of the store. A dataset start begins at every job that reads or writes it (a dataset no job touches
is returned alone, as Marquez does).
"""
from __future__ import annotations

import datetime as dt

from django.db import connection

from lineage.kinds import EdgeKind, NodeKind, Source
from lineage.models import Edge, Node

DEFAULT_DEPTH = 20
MAX_DEPTH = 100
_TYPES = {"dataset": NodeKind.DATASET.value, "job": NodeKind.JOB.value}
# OpenLineage eventType -> Marquez RunState.
_RUN_STATES = {"START": "RUNNING", "RUNNING": "RUNNING", "COMPLETE": "COMPLETED", "FAIL": "FAILED",
               "ABORT": "ABORTED", "OTHER": "RUNNING"}


def _in(values) -> str:
    return ",".join(["%s"] * len(values))


def parse_node_id(node_id: str) -> tuple[str, str]:
    """'dataset:NS:NAME' -> ('dataset', 'NS:NAME'). The namespace may itself hold colons
    (postgres://db:5432), so the rest is kept whole and matched against the store, never split blindly."""
    if not isinstance(node_id, str) or ":" not in node_id:
        raise ValueError("nodeId must look like dataset:NAMESPACE:NAME or job:NAMESPACE:NAME")
    prefix, rest = node_id.split(":", 1)
    if prefix not in _TYPES:
        raise ValueError(f"nodeId type must be 'dataset' or 'job', not {prefix!r}")
    namespace, sep, name = rest.rpartition(":")
    if not sep or not namespace or not name:
        raise ValueError(f"nodeId {node_id!r} must name both a namespace and a name")
    return prefix, rest


def _resolve(prefix: str, rest: str) -> Node:
    kind = _TYPES[prefix]
    nodes = Node.objects.filter(source=Source.OPENLINEAGE, kind=kind)
    node = nodes.filter(source_id=rest).first()
    if node is None:
        # Any split of NS:NAME at a colon (namespaces hold colons, names rarely do).
        for i, ch in enumerate(rest):
            if ch == ":":
                node = nodes.filter(namespace=rest[:i], name=rest[i + 1:]).first()
                if node is not None:
                    break
    if node is None:
        raise LookupError(f"no {prefix} {rest!r} in the lineage store")
    return node


_JOB_IO_SQL = """
WITH runs(job_id, run_id) AS (
    SELECT src_id, dst_id FROM lineage_edge
    WHERE kind = 'instance_of' AND valid_to IS NULL AND src_id IN ({jobs})
),
touched(job_id, x_id, role) AS (
    SELECT r.job_id, e.dst_id, 'out' FROM runs r JOIN lineage_edge e ON e.src_id = r.run_id
    WHERE e.kind = 'produced' AND e.valid_to IS NULL
    UNION ALL
    SELECT r.job_id, e.src_id, 'in' FROM runs r JOIN lineage_edge e ON e.dst_id = r.run_id
    WHERE e.kind = 'consumed' AND e.valid_to IS NULL
    UNION ALL
    SELECT e.src_id, e.dst_id, 'out' FROM lineage_edge e
    WHERE e.kind = 'produced' AND e.valid_to IS NULL AND e.src_id IN ({jobs})
    UNION ALL
    SELECT e.dst_id, e.src_id, 'in' FROM lineage_edge e
    WHERE e.kind = 'consumed' AND e.valid_to IS NULL AND e.dst_id IN ({jobs})
)
SELECT DISTINCT t.job_id, COALESCE(v.dst_id, t.x_id), t.role
FROM touched t
JOIN lineage_node x ON x.id = t.x_id
LEFT JOIN lineage_edge v ON v.src_id = t.x_id AND v.kind = 'version_of' AND v.valid_to IS NULL
    AND x.kind = 'dataset_version'
WHERE x.source = 'openlineage' AND (x.kind = 'dataset' OR (x.kind = 'dataset_version' AND v.dst_id IS NOT NULL))
"""

_DATASET_IO_SQL = """
WITH xs(ds_id, x_id) AS (
    SELECT id, id FROM lineage_node WHERE id IN ({datasets})
    UNION ALL
    SELECT dst_id, src_id FROM lineage_edge
    WHERE kind = 'version_of' AND valid_to IS NULL AND dst_id IN ({datasets})
),
touched(holder_id, ds_id, role) AS (
    SELECT e.src_id, xs.ds_id, 'out' FROM xs JOIN lineage_edge e ON e.dst_id = xs.x_id
    WHERE e.kind = 'produced' AND e.valid_to IS NULL
    UNION ALL
    SELECT e.dst_id, xs.ds_id, 'in' FROM xs JOIN lineage_edge e ON e.src_id = xs.x_id
    WHERE e.kind = 'consumed' AND e.valid_to IS NULL
)
SELECT DISTINCT COALESCE(i.src_id, t.holder_id), t.ds_id, t.role
FROM touched t
JOIN lineage_node h ON h.id = t.holder_id
LEFT JOIN lineage_edge i ON i.dst_id = t.holder_id AND i.kind = 'instance_of' AND i.valid_to IS NULL
    AND h.kind = 'run'
LEFT JOIN lineage_node j ON j.id = i.src_id
WHERE (h.kind = 'job' AND h.source = 'openlineage')
   OR (h.kind = 'run' AND j.kind = 'job' AND j.source = 'openlineage')
"""


def _io(sql_template: str, placeholder: str, ids) -> set[tuple[int, int, str]]:
    """(job id, dataset id, 'in'|'out') pairs touching `ids`, chunked to stay under SQLite's variable limit."""
    found: set[tuple[int, int, str]] = set()
    ids = sorted(ids)
    for start in range(0, len(ids), 2000):
        chunk = ids[start:start + 2000]
        sql = sql_template.format(**{placeholder: _in(chunk)})
        with connection.cursor() as cur:
            cur.execute(sql, chunk * sql_template.count("{" + placeholder + "}"))
            found.update((row[0], row[1], row[2]) for row in cur.fetchall())
    return found


def _job_io(job_ids) -> set[tuple[int, int, str]]:
    return _io(_JOB_IO_SQL, "jobs", job_ids)


def _dataset_io(dataset_ids) -> set[tuple[int, int, str]]:
    return _io(_DATASET_IO_SQL, "datasets", dataset_ids)


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _ref(node: Node) -> dict:
    return {"namespace": node.namespace, "name": node.name}


def node_id_of(node: Node) -> str:
    return f"{'job' if node.kind == NodeKind.JOB else 'dataset'}:{node.namespace}:{node.name}"


def _facet(node: Node, name: str) -> dict:
    value = (node.properties or {}).get("facets", {}).get(name)
    return value if isinstance(value, dict) else {}


def _dataset_data(node: Node) -> dict:
    schema = _facet(node, "schema")
    fields = [
        {"name": f.get("name"), "type": f.get("type"), "tags": [], "description": f.get("description")}
        for f in schema.get("fields", []) if isinstance(f, dict)
    ]
    source = _facet(node, "dataSource")
    return {
        "id": _ref(node),
        "type": "DB_TABLE",
        "name": node.name,
        "physicalName": node.name,
        "createdAt": _iso(node.first_seen),
        "updatedAt": _iso(node.last_seen),
        "namespace": node.namespace,
        "sourceName": source.get("name") or node.namespace,
        "fields": fields,
        "tags": [],
        "lastModifiedAt": _iso(node.last_seen),
        "description": _facet(node, "documentation").get("description"),
        "facets": (node.properties or {}).get("facets", {}),
    }


def _run_data(run: Node) -> dict:
    props = run.properties or {}
    return {
        "id": props.get("run_id", run.source_id),
        "createdAt": _iso(run.first_seen),
        "updatedAt": _iso(run.last_seen),
        "nominalStartTime": props.get("nominal_start_time"),
        "nominalEndTime": props.get("nominal_end_time"),
        "state": _RUN_STATES.get(str(props.get("state", "")).upper(), "NEW"),
        "startedAt": props.get("started_at"),
        "endedAt": props.get("ended_at"),
        "facets": props.get("facets", {}),
    }


def _latest_runs(job_ids) -> dict[int, Node]:
    """Job id -> its latest run (greatest state_time, then last_seen), read for the answer's jobs only."""
    latest: dict[int, tuple] = {}
    ids = sorted(job_ids)
    for start in range(0, len(ids), 2000):
        edges = Edge.objects.filter(kind=EdgeKind.INSTANCE_OF, valid_to__isnull=True, src_id__in=ids[start:start + 2000],
                                    dst__kind=NodeKind.RUN).select_related("dst")
        for edge in edges:
            run = edge.dst
            rank = (str((run.properties or {}).get("state_time") or ""), run.last_seen, run.pk)
            if edge.src_id not in latest or rank > latest[edge.src_id][0]:
                latest[edge.src_id] = (rank, run)
    return {job: run for job, (_rank, run) in latest.items()}


def _job_data(node: Node, inputs: list[Node], outputs: list[Node], latest_run: Node | None) -> dict:
    job_type = _facet(node, "jobType")
    return {
        "id": _ref(node),
        "type": job_type.get("processingType") or "BATCH",
        "name": node.name,
        "simpleName": node.name.rsplit(".", 1)[-1],
        "parentJobName": None,
        "createdAt": _iso(node.first_seen),
        "updatedAt": _iso(node.last_seen),
        "namespace": node.namespace,
        "inputs": [_ref(n) for n in inputs],
        "outputs": [_ref(n) for n in outputs],
        "location": _facet(node, "sourceCodeLocation").get("url"),
        "description": _facet(node, "documentation").get("description"),
        "latestRun": _run_data(latest_run) if latest_run is not None else None,
        "facets": (node.properties or {}).get("facets", {}),
    }


def marquez_lineage(node_id: str, depth: int = DEFAULT_DEPTH) -> dict:
    """Marquez's lineage graph around `node_id` ('dataset:NS:NAME' or 'job:NS:NAME'), `depth` jobs deep.

    Raises ValueError for a malformed nodeId or depth, LookupError when the node is not in the store.
    """
    try:
        depth = int(depth)
    except (TypeError, ValueError):
        raise ValueError(f"depth must be an integer, not {depth!r}") from None
    if not 0 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be between 0 and {MAX_DEPTH}")
    start = _resolve(*parse_node_id(node_id))

    pairs: set[tuple[int, int, str]] = set()
    if start.kind == NodeKind.DATASET:
        pairs |= _dataset_io([start.pk])
        frontier = {job for job, _d, _r in pairs}
        seen_datasets = {start.pk}
    else:
        frontier = {start.pk}
        seen_datasets = set()
    seen_jobs = set(frontier)
    level = 0
    while frontier:
        found = _job_io(frontier)
        pairs |= found
        if level >= depth:
            break
        new_datasets = {d for _j, d, _r in found} - seen_datasets
        seen_datasets |= new_datasets
        if not new_datasets:
            break
        around = _dataset_io(new_datasets)
        frontier = {job for job, _d, _r in around} - seen_jobs
        seen_jobs |= frontier
        # Pairs of jobs one level further are completed by their own _job_io on the next step.
        pairs |= {p for p in around if p[0] in seen_jobs}
        level += 1

    ids = seen_jobs | {d for _j, d, _r in pairs} | {start.pk}
    nodes = Node.objects.in_bulk(sorted(ids))
    latest = _latest_runs(seen_jobs)
    inputs: dict[int, set[int]] = {}
    outputs: dict[int, set[int]] = {}
    in_edges: dict[int, set[tuple[str, str]]] = {i: set() for i in nodes}
    out_edges: dict[int, set[tuple[str, str]]] = {i: set() for i in nodes}
    for job, dataset, role in pairs:
        if job not in nodes or dataset not in nodes:
            continue
        j_id, d_id = node_id_of(nodes[job]), node_id_of(nodes[dataset])
        if role == "out":
            outputs.setdefault(job, set()).add(dataset)
            out_edges[job].add((j_id, d_id))
            in_edges[dataset].add((j_id, d_id))
        else:
            inputs.setdefault(job, set()).add(dataset)
            out_edges[dataset].add((d_id, j_id))
            in_edges[job].add((d_id, j_id))

    def ordered(ids_) -> list[Node]:
        return sorted((nodes[i] for i in ids_), key=lambda n: (n.namespace, n.name))

    graph = []
    for pk, node in nodes.items():
        if node.kind == NodeKind.JOB:
            data = _job_data(node, ordered(inputs.get(pk, ())), ordered(outputs.get(pk, ())), latest.get(pk))
            node_type = "JOB"
        else:
            data, node_type = _dataset_data(node), "DATASET"
        graph.append({
            "id": node_id_of(node),
            "type": node_type,
            "data": data,
            "inEdges": [{"origin": o, "destination": d} for o, d in sorted(in_edges[pk])],
            "outEdges": [{"origin": o, "destination": d} for o, d in sorted(out_edges[pk])],
        })
    graph.sort(key=lambda item: item["id"])
    return {"graph": graph}
