"""Marquez's `GET /api/v1/lineage?nodeId=…&depth=N` answer, computed from the lineage store.

Marquez shows a job/dataset graph; the store holds runs and dataset versions too. The job/dataset graph is
derived as lineage/ingest/mapping.py documents it (only edges that still hold count, like Marquez's
"current lineage"; with `as_of`, the edges that held then):
- job J outputs dataset D when R -produced-> V -version_of-> D, or R -produced-> D, for J's latest run R
  (J -instance_of-> R, ranked as latestRun is: see Dataflow), or J -produced-> D (a JobEvent's design-time
  output);
- job J inputs dataset D when V -consumed-> R with V -version_of-> D, or D -consumed-> R, for J's latest
  run R, or D -consumed-> J.

Why depth counts jobs: Marquez walks job to job through any dataset they share (as input or output) and
stops `depth` jobs away from the start; the datasets of every job reached are included. We do the same,
one level per step, each step set-at-a-time indexed queries, so the work follows the size of the answer,
not of the store. Now (no `as_of`) a step reads the rows lineage.store.apply keeps of each job's current io
and latest run (lineage.job_io): no run is ranked during a read. As of a time it derives them from runs and
edges as described above (Dataflow). A dataset start begins at every job that reads or writes it (a dataset no job touches
is returned alone, as Marquez does).

Why there is a node bound: Marquez has none and its lineage read takes seconds on large stores
(MarquezProject/marquez#3058). Like our own graph reads (lineage.graph.MAX_NODES), an answer stops growing
once `max_nodes` jobs and datasets are known; the nearest levels are kept and `truncated` says so.
"""
from __future__ import annotations

import json
import re

import orjson
from django.db import connection

from lineage.graph import MAX_NODES, _id_set
from lineage.kinds import NodeKind, Source
from lineage.marquez import shapes
from lineage.marquez.sql import rows
from lineage.models import Node, NodeRevision

DEFAULT_DEPTH = 20
MAX_DEPTH = 100
_TYPES = {"dataset": NodeKind.DATASET.value, "job": NodeKind.JOB.value}
node_id_of = shapes.node_id_of


def parse_node_id(node_id: str, prefixes=tuple(_TYPES)) -> tuple[str, str]:
    """'dataset:NS:NAME' -> ('dataset', 'NS:NAME'). The namespace may itself hold colons
    (postgres://db:5432), so the rest is kept whole and matched against the store, never split blindly."""
    if not isinstance(node_id, str) or ":" not in node_id:
        raise ValueError("nodeId must look like dataset:NAMESPACE:NAME or job:NAMESPACE:NAME")
    prefix, rest = node_id.split(":", 1)
    if prefix not in prefixes:
        raise ValueError(f"nodeId type must be one of {', '.join(prefixes)}, not {prefix!r}")
    namespace, sep, name = rest.rpartition(":")
    if not sep or not namespace or not name:
        raise ValueError(f"nodeId {node_id!r} must name both a namespace and a name")
    return prefix, rest


def resolve(kind: str, rest: str, as_of=None) -> Node:
    """The OpenLineage node of `kind` named 'NS:NAME' (existing at `as_of`)."""
    nodes = Node.objects.filter(source=Source.OPENLINEAGE, kind=kind)
    if as_of is not None:
        nodes = nodes.filter(first_seen__lte=as_of)
    node = nodes.filter(source_id=rest).first()
    if node is None:
        # Any split of NS:NAME at a colon (namespaces hold colons, names rarely do).
        for i, ch in enumerate(rest):
            if ch == ":":
                node = nodes.filter(namespace=rest[:i], name=rest[i + 1:]).first()
                if node is not None:
                    break
    if node is None:
        label = "job" if kind == NodeKind.JOB else "dataset"
        raise LookupError(f"no {label} {rest!r} in the lineage store" + (" at that time" if as_of else ""))
    return node


# A job's inputs and outputs are those of its latest run (plus the design-time edges a JobEvent gives the job
# itself), as Marquez lists those of a job's current version (its LineageDao reads job_versions_io_mapping
# WHERE is_current_job_version). Holders are the latest runs and the jobs themselves: (holder, dataset, role).
HOLDER_IO_SQL = """
SELECT t.holder_id, COALESCE(v.dst_id, t.x_id), t.role FROM (
    SELECT e.src_id AS holder_id, e.dst_id AS x_id, 'out' AS role FROM lineage_edge e
    WHERE e.kind = 'produced' AND {live:e} AND e.src_id IN ({ids})
    UNION ALL
    SELECT e.dst_id, e.src_id, 'in' FROM lineage_edge e
    WHERE e.kind = 'consumed' AND {live:e} AND e.dst_id IN ({ids})
) t
JOIN lineage_node x ON x.id = t.x_id
LEFT JOIN lineage_edge v ON v.src_id = t.x_id AND v.kind = 'version_of' AND {live:v}
    AND x.kind = 'dataset_version'
WHERE x.source = 'openlineage' AND (x.kind = 'dataset' OR (x.kind = 'dataset_version' AND v.dst_id IS NOT NULL))
"""

# Who read or wrote the datasets: (job, run or NULL for a job's own design-time edge, dataset, role). Whether
# the run is its job's latest is decided afterwards, once per job (Dataflow.latest).
DATASET_HOLDERS_SQL = """
WITH xs(ds_id, x_id) AS (
    SELECT id, id FROM lineage_node WHERE id IN ({ids})
    UNION ALL
    SELECT dst_id, src_id FROM lineage_edge e
    WHERE e.kind = 'version_of' AND {live:e} AND e.dst_id IN ({ids})
),
touched(holder_id, ds_id, role) AS (
    SELECT e.src_id, xs.ds_id, 'out' FROM xs JOIN lineage_edge e ON e.dst_id = xs.x_id
    WHERE e.kind = 'produced' AND {live:e}
    UNION ALL
    SELECT e.dst_id, xs.ds_id, 'in' FROM xs JOIN lineage_edge e ON e.src_id = xs.x_id
    WHERE e.kind = 'consumed' AND {live:e}
)
SELECT DISTINCT j.id, CASE WHEN i.src_id IS NULL THEN NULL ELSE t.holder_id END, t.ds_id, t.role
FROM touched t
LEFT JOIN lineage_edge i ON i.dst_id = t.holder_id AND i.kind = 'instance_of' AND {live:i}
JOIN lineage_node j ON j.id = COALESCE(i.src_id, t.holder_id) AND j.kind = 'job' AND j.source = 'openlineage'
"""


# Now-reads: the rows lineage.store.apply keeps (lineage.job_io), one index range per id, no run ranking.
_ROWS_BY_JOB_SQL = """
SELECT job_id, dataset_id, role FROM lineage_job_io WHERE job_id IN ({ids})
UNION ALL
SELECT job_id, run_id, 'run' FROM lineage_job_latest_run WHERE job_id IN ({ids})
"""
_ROWS_BY_DATASET_SQL = "SELECT job_id, dataset_id, role FROM lineage_job_io WHERE dataset_id IN ({ids})"
_LATEST_ROWS_SQL = "SELECT job_id, run_id FROM lineage_job_latest_run WHERE job_id IN ({ids})"


class Dataflow:
    """The job/dataset graph as Marquez shows it: a job reads and writes the datasets of its latest run.

    Why latest run: the store keeps every run, and a job's runs together may have read hundreds of datasets
    (the benchmark graph: ~50 runs a job, 3 inputs each) where Marquez lists those of the job's current
    version only. Listing them all made a 1,000-node answer 2.5 MB and its walk several times the work.

    Now (`as_of` None) it reads the rows lineage.store.apply keeps (lineage.job_io: each job's current io
    and latest run, indexed by job and by dataset). As of a time, or with `derive=True` (the tests compare
    the two), it derives them from the facts: each job's runs ranked (one ranking statement per set of new
    jobs, held so a walk meeting a job through several datasets ranks its runs once), then the latest
    run's edges."""

    def __init__(self, as_of=None, derive: bool = False):
        self.as_of = as_of
        self.derive = derive or as_of is not None
        self.latest: dict[int, int | None] = {}  # job id -> its latest run id (None: no run)

    def latest_of(self, job_ids) -> dict[int, int | None]:
        missing = sorted(set(job_ids) - self.latest.keys())
        if missing:
            if self.derive:
                found = latest_run_ids(missing, self.as_of)
            else:
                found = dict(rows(_LATEST_ROWS_SQL, missing))
            for job in missing:
                self.latest[job] = found.get(job)
        return {j: self.latest[j] for j in job_ids}

    def job_io(self, job_ids) -> set[tuple[int, int, str]]:
        """(job id, dataset id, 'in'|'out') for the jobs `job_ids`."""
        job_ids = set(job_ids)
        if not self.derive:
            # The jobs' io and their latest runs in one statement (the answer shows each job's latestRun).
            found, runs = set(), {}
            for job, other, role in rows(_ROWS_BY_JOB_SQL, job_ids):
                if role == "run":
                    runs[job] = other
                else:
                    found.add((job, other, role))
            for job in job_ids:
                self.latest[job] = runs.get(job)
            return found
        job_of = {run: job for job, run in self.latest_of(job_ids).items() if run is not None}
        job_of.update({job: job for job in job_ids})
        return {(job_of[h], d, role) for h, d, role in rows(HOLDER_IO_SQL, job_of, self.as_of)}

    def dataset_io(self, dataset_ids) -> set[tuple[int, int, str]]:
        """(job id, dataset id, 'in'|'out') for the jobs whose latest run (or the job itself) touches the
        datasets `dataset_ids`."""
        if not self.derive:
            return set(rows(_ROWS_BY_DATASET_SQL, dataset_ids))
        found = rows(DATASET_HOLDERS_SQL, dataset_ids, self.as_of)
        latest = self.latest_of({job for job, run, _d, _r in found if run is not None})
        return {(job, d, role) for job, run, d, role in found if run is None or latest.get(job) == run}


def holder_io(holder_ids, as_of=None) -> set[tuple[int, int, str]]:
    """(run or job id, dataset id, 'in'|'out'): the datasets each of `holder_ids` read and wrote itself (a run's
    inputs read before any version existed included, which a run's dataset versions cannot list)."""
    return {(h, d, role) for h, d, role in rows(HOLDER_IO_SQL, holder_ids, as_of)}


def props_at(nodes, as_of=None) -> dict[int, dict]:
    """Node id -> its properties (as of `as_of`: the latest revision then, or {} when it had none)."""
    nodes = list(nodes)
    if as_of is None:
        return {n.pk: n.properties or {} for n in nodes}
    out: dict[int, dict] = {n.pk: {} for n in nodes}
    done: set[int] = set()
    ids = sorted(out)
    for start in range(0, len(ids), 2000):
        revisions = (NodeRevision.objects.filter(node_id__in=ids[start:start + 2000], valid_from__lte=as_of)
                     .order_by("node_id", "-valid_from", "-id").values_list("node_id", "properties"))
        for node_id, properties in revisions:
            if node_id not in done:
                out[node_id] = properties or {}
                done.add(node_id)
    return out


_LATEST_SQL = """
SELECT job_id, run_id FROM (
    SELECT e.src_id AS job_id, r.id AS run_id, ROW_NUMBER() OVER (
        PARTITION BY e.src_id ORDER BY COALESCE(STATE_TIME, '') DESC, r.last_seen DESC, r.id DESC) AS k
    FROM lineage_edge e JOIN lineage_node r ON r.id = e.dst_id
    WHERE e.kind = 'instance_of' AND r.kind = 'run' AND {live:e} AND e.src_id IN ({ids})
) ranked WHERE k = 1
"""


def latest_run_ids(job_ids, as_of=None) -> dict[int, int]:
    """Job id -> the id of its latest run: greatest state_time, then last_seen, then id.

    Now: the database ranks the runs and answers only the winners (a job may have thousands of runs).
    As of a time the state_time to rank by is the revision's then, so every run of the jobs is read."""
    if as_of is None:
        state_time = ("r.properties->>'state_time'" if connection.vendor == "postgresql"
                      else "json_extract(r.properties, '$.state_time')")
        return dict(rows(_LATEST_SQL.replace("STATE_TIME", state_time), job_ids))
    sql = ("SELECT e.src_id, e.dst_id FROM lineage_edge e JOIN lineage_node r ON r.id = e.dst_id "
           "WHERE e.kind = 'instance_of' AND r.kind = 'run' AND {live:e} AND e.src_id IN ({ids})")
    pairs = rows(sql, job_ids, as_of)
    runs = Node.objects.in_bulk(sorted({run for _job, run in pairs}))
    props = props_at(runs.values(), as_of)
    latest: dict[int, tuple] = {}
    for job_id, run_id in pairs:
        run = runs[run_id]
        rank = (str(props[run_id].get("state_time") or ""), run.last_seen, run.pk)
        if job_id not in latest or rank > latest[job_id]:
            latest[job_id] = rank
    return {job: rank[2] for job, rank in latest.items()}


def latest_runs(job_ids, as_of=None) -> dict[int, tuple[Node, dict]]:
    """Job id -> (its latest run, the run's properties then)."""
    return runs_with_props(latest_run_ids(job_ids, as_of), as_of)


def runs_with_props(latest: dict[int, int | None], as_of) -> dict[int, tuple[Node, dict]]:
    runs = Node.objects.in_bulk(sorted({run for run in latest.values() if run is not None}))
    props = props_at(runs.values(), as_of)
    return {job: (runs[run], props[run]) for job, run in latest.items() if run is not None}


_LONG_NUMBER = re.compile(r"[0-9]{19}")  # an integer orjson would not read as json does (beyond 64 bits)


def _json(text):
    """Stored JSON text as json reads it, through orjson (a third of the cost) unless the text holds a run
    of 19 digits (an integer beyond 64 bits, which orjson would not read exactly)."""
    if not isinstance(text, str):
        return text  # NULL, or a driver that decoded it already
    return json.loads(text) if _LONG_NUMBER.search(text) else orjson.loads(text)


class GraphNode:
    """The columns of a node the Marquez shapes read (kind, source_id, namespace, name, first/last seen,
    properties), from one plain row. Why not Node instances: building 1,400 model instances (converters,
    ModelState) cost a tenth of a 1,000-node answer; the shapes only read these attributes."""

    __slots__ = ("pk", "kind", "source_id", "namespace", "name", "first_seen", "last_seen", "properties")

    def __init__(self, row):
        (self.pk, self.kind, self.source_id, self.namespace, self.name, self.first_seen, self.last_seen,
         properties) = row
        self.properties = _json(properties)


def graph_nodes(ids) -> dict[int, GraphNode]:
    """Node id -> GraphNode for `ids`, in one statement (one array parameter on PostgreSQL)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    in_sql, params = _id_set(ids)
    with connection.cursor() as cur:
        cur.execute("SELECT id, kind, source_id, namespace, name, first_seen, last_seen, properties "
                    f"FROM lineage_node WHERE id {in_sql}", params)
        found = cur.fetchall()
    if connection.vendor != "postgresql":  # SQLite hands back the text it stores; the ORM's converters apply
        seen = Node._meta.get_field("first_seen")
        convert = connection.ops.get_db_converters(seen.get_col(Node._meta.db_table)) + seen.get_db_converters(connection)
        col = seen.get_col(Node._meta.db_table)

        def when(value):
            for f in convert:
                value = f(value, col, connection)
            return value

        found = [r[:5] + (when(r[5]), when(r[6]), r[7]) for r in found]
    return {row[0]: GraphNode(row) for row in found}


def _trim(ids: set[int], room: int) -> tuple[set[int], bool]:
    """At most `room` of `ids` (the smallest, so that answers are repeatable); whether some were dropped."""
    if len(ids) <= room:
        return ids, False
    return set(sorted(ids)[:max(room, 0)]), True


def graph_item(node_id: str, node_type: str, data, in_edges, out_edges) -> dict:
    """One node of Marquez's lineage graph, its edges in a stable order (both answer builders)."""
    return {
        "id": node_id,
        "type": node_type,
        "data": data,
        "inEdges": [{"origin": o, "destination": d} for o, d in sorted(in_edges)],
        "outEdges": [{"origin": o, "destination": d} for o, d in sorted(out_edges)],
    }


def marquez_lineage(node_id: str, depth: int = DEFAULT_DEPTH, *, as_of=None, max_nodes: int = MAX_NODES,
                    derive: bool = False) -> dict:
    """Marquez's lineage graph around `node_id` ('dataset:NS:NAME' or 'job:NS:NAME'), `depth` jobs deep.

    Now, the walk reads the kept rows of lineage.job_io; `derive=True` derives them from the facts as an
    `as_of` read does (the tests compare the two bodies). The HTTP endpoint answers through
    `marquez_lineage_json`, the same JSON value built closer to the rows.

    Raises ValueError for a malformed nodeId or depth, LookupError when the node is not in the store.
    """
    walk = _walk(node_id, depth, as_of=as_of, max_nodes=max_nodes, derive=derive)
    level_of, flow = walk.level_of, walk.flow
    # The nodes and the jobs' latest runs in one read, as lineage.graph loads its answers (no ORM per row).
    # Every job of the answer had its io read (job_io), so its latest run is known already.
    latest_ids = {job: run for job, run in flow.latest.items() if job in level_of and run is not None}
    loaded = graph_nodes(set(level_of) | set(latest_ids.values()))
    nodes = {pk: loaded[pk] for pk in level_of if pk in loaded}
    props = props_at(loaded.values(), as_of)
    latest = {job: (loaded[run], props[run]) for job, run in latest_ids.items() if run in loaded}
    name_of, inputs, outputs, in_edges, out_edges = _edges(nodes, walk.pairs)

    def ordered(ids_) -> list[Node]:
        return sorted((nodes[i] for i in ids_), key=lambda n: (n.namespace, n.name))

    graph = []
    for pk, node in nodes.items():
        if node.kind == NodeKind.JOB:
            run = latest.get(pk)
            data = shapes.job(node, props[pk], inputs=ordered(inputs.get(pk, ())), outputs=ordered(outputs.get(pk, ())),
                              latest_run=shapes.run(run[0], run[1], job=node) if run else None,
                              latest_run_node=run[0] if run else None)
            node_type = "JOB"
        else:
            data, node_type = shapes.dataset(node, props[pk]), "DATASET"
        graph.append(graph_item(name_of[pk], node_type, data, in_edges[pk], out_edges[pk]))
    graph.sort(key=lambda item: item["id"])
    answer = {"graph": graph}
    if walk.truncated:
        answer["truncated"] = True
    return answer


class _Walk:
    __slots__ = ("level_of", "pairs", "flow", "truncated")

    def __init__(self, level_of, pairs, flow, truncated):
        self.level_of, self.pairs, self.flow, self.truncated = level_of, pairs, flow, truncated


def _walk(node_id: str, depth, *, as_of=None, max_nodes: int = MAX_NODES, derive: bool = False) -> _Walk:
    """Every job and dataset reached from `node_id` (with its level), the (job, dataset, role) pairs read, and
    the Dataflow that read them (its `latest`: each reached job's latest run)."""
    try:
        depth = int(depth)
    except (TypeError, ValueError):
        raise ValueError(f"depth must be an integer, not {depth!r}") from None
    if not 0 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be between 0 and {MAX_DEPTH}")
    start = resolve(*(lambda p, r: (_TYPES[p], r))(*parse_node_id(node_id)), as_of=as_of)

    # level_of: every job and dataset reached, with the level it was reached at. Each level is cut to the
    # room the bound leaves before it is walked, so an answer never costs more than its bound.
    flow = Dataflow(as_of, derive=derive)
    pairs: set[tuple[int, int, str]] = set()
    level_of: dict[int, int] = {start.pk: 0}
    truncated = False
    if start.kind == NodeKind.DATASET:
        around = flow.dataset_io([start.pk])
        pairs |= around
        frontier, truncated = _trim({job for job, _d, _r in around}, max_nodes - 1)
    else:
        frontier = {start.pk}
    for job in frontier:
        level_of.setdefault(job, 0)
    level = 0
    while frontier:
        found = flow.job_io(frontier)
        pairs |= found
        new_datasets, cut = _trim({d for _j, d, _r in found} - level_of.keys(), max_nodes - len(level_of))
        truncated |= cut
        for d in new_datasets:
            level_of[d] = level
        if level >= depth or not new_datasets or truncated:
            break
        around = flow.dataset_io(new_datasets)
        frontier, cut = _trim({job for job, _d, _r in around} - level_of.keys(), max_nodes - len(level_of))
        truncated |= cut
        for job in frontier:
            level_of[job] = level + 1
        level += 1
    return _Walk(level_of, pairs, flow, truncated)


def _edges(nodes: dict, pairs):
    """Node ids, each job's inputs and outputs, each node's in and out edges (as nodeId pairs)."""
    name_of = {pk: node_id_of(node) for pk, node in nodes.items()}
    inputs: dict[int, set[int]] = {}
    outputs: dict[int, set[int]] = {}
    in_edges: dict[int, set[tuple[str, str]]] = {i: set() for i in nodes}
    out_edges: dict[int, set[tuple[str, str]]] = {i: set() for i in nodes}
    for job, dataset, role in pairs:
        j_id, d_id = name_of.get(job), name_of.get(dataset)
        if j_id is None or d_id is None:
            continue
        if role == "out":
            outputs.setdefault(job, set()).add(dataset)
            out_edges[job].add((j_id, d_id))
            in_edges[dataset].add((j_id, d_id))
        else:
            inputs.setdefault(job, set()).add(dataset)
            out_edges[dataset].add((d_id, j_id))
            in_edges[job].add((d_id, j_id))
    return name_of, inputs, outputs, in_edges, out_edges
