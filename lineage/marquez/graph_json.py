"""Marquez's `GET /api/v1/lineage` answer written as JSON close to the rows (the HTTP endpoint's path).

Why a second builder beside graph.marquez_lineage: a 1,000-node answer spent most of its CPU in Python
after the walk — reading every node's whole `properties` (a bench dataset's columnLineage facet is most of
it) to write its `facets` back out unchanged, and rebuilding the same lookups per node. Here, on
PostgreSQL, the statement that reads the answer's nodes hands back each node's `facets` as the stored JSON
text, embedded as it is (orjson.Fragment: never parsed, never rebuilt), and beside it a small JSON object
holding only what the shapes read (the schema's fields, the tags, dataSource's name, lifecycle state,
documentation, job type and location; a run's id, state and times). The shapes (lineage.marquez.shapes)
then run on that small object, so there is one definition of the body. Nodes are ranked by (namespace,
name) once for every job's inputs and outputs, and by nodeId once for the graph.

The JSON value is graph.marquez_lineage's: the stored text of a jsonb value is read back by json/orjson as
the same value (only its spacing differs from what orjson writes). tests/marquez/test_marquez_job_io_rows.py
compares the two for every start node of random histories; the OpenAPI tests read this path over HTTP.
SQLite (and `as_of`, which reads revisions) takes the portable path: the properties parsed as before.
"""
from __future__ import annotations

import gc
import json
import re

import orjson
from django.db import connection

from lineage.graph import MAX_NODES
from lineage.kinds import NodeKind
from lineage.marquez import shapes
from lineage.marquez.graph import DEFAULT_DEPTH, _edges, _json, _walk, graph_item, graph_nodes, marquez_lineage

# What the shapes read of a node's properties, as columns: each string the body shows (NULL unless the stored
# value is a string, as the shapes test isinstance), a dataset's fields as shapes.fields_of writes them (JSON
# text, embedded), the tags as JSON text (parsed only when present: tag_names' str() of non-string keys is
# Python's), a run's own keys as one small JSON array, and the facets as the stored text.
_NODES_SQL = """
SELECT n.id, n.kind, n.source_id, n.namespace, n.name, ISO(n.first_seen), ISO(n.last_seen),
    CASE WHEN jsonb_typeof(n.properties->'facets') = 'object' THEN (n.properties->'facets')::text ELSE '{}' END,
    CASE WHEN n.kind = 'dataset' THEN COALESCE((
        SELECT json_agg(CASE WHEN jsonb_typeof(e->'description') = 'string'
            THEN json_build_object('name', e->>'name', 'type', e->>'type', 'tags', TAGS, 'description', e->>'description')
            ELSE json_build_object('name', e->>'name', 'type', e->>'type', 'tags', TAGS) END ORDER BY i)
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(n.properties->'facets'->'schema'->'fields') = 'array'
            THEN n.properties->'facets'->'schema'->'fields' ELSE '[]' END) WITH ORDINALITY AS fs(e, i)
        WHERE jsonb_typeof(e) = 'object' AND jsonb_typeof(e->'name') = 'string' AND jsonb_typeof(e->'type') = 'string'
    ), '[]')::text END,
    CASE WHEN n.kind = 'dataset' THEN (n.properties->'facets'->'tags'->'tags')::text END,
    CASE WHEN jsonb_typeof(n.properties->'facets'->'dataSource'->'name') = 'string'
        THEN n.properties->'facets'->'dataSource'->>'name' END,
    CASE WHEN jsonb_typeof(n.properties->'facets'->'lifecycleStateChange'->'lifecycleStateChange') = 'string'
        THEN n.properties->'facets'->'lifecycleStateChange'->>'lifecycleStateChange' END,
    CASE WHEN jsonb_typeof(n.properties->'facets'->'documentation'->'description') = 'string'
        THEN n.properties->'facets'->'documentation'->>'description' END,
    CASE WHEN jsonb_typeof(n.properties->'facets'->'jobType'->'processingType') = 'string'
        THEN n.properties->'facets'->'jobType'->>'processingType' END,
    CASE WHEN jsonb_typeof(n.properties->'facets'->'sourceCodeLocation'->'url') = 'string'
        THEN n.properties->'facets'->'sourceCodeLocation'->>'url' END,
    CASE WHEN n.kind = 'run' THEN jsonb_build_array(n.properties->'run_id', n.properties->'state',
        n.properties->'started_at', n.properties->'ended_at', n.properties->'nominal_start_time',
        n.properties->'nominal_end_time')::text END
FROM lineage_node n WHERE n.id = ANY(%s)
"""
# A timestamp as shapes.iso writes one (Python's isoformat in UTC, microseconds only when there are some, 'Z').
_ISO = ("""(to_char(X AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') """
        """|| CASE WHEN date_trunc('second', X) = X THEN '' ELSE to_char(X AT TIME ZONE 'UTC', '.US') END || 'Z')""")
# A field's tags: its string tags, in order ([] when there are none or `tags` is not a list).
_TAGS = ("""CASE WHEN jsonb_typeof(e->'tags') = 'array' THEN COALESCE((SELECT json_agg(t #>> '{}' ORDER BY k) """
         """FROM jsonb_array_elements(e->'tags') WITH ORDINALITY AS ts(t, k) WHERE jsonb_typeof(t) = 'string'), """
         """'[]') ELSE '[]' END""")
_NODES_SQL = _NODES_SQL.replace("TAGS", _TAGS)
_NODES_SQL = re.sub(r"ISO\(([a-z_.]+)\)", lambda m: _ISO.replace("X", m.group(1)), _NODES_SQL)
_RUN_KEYS = ("run_id", "state", "started_at", "ended_at", "nominal_start_time", "nominal_end_time")


class _Node:
    """A node's columns and what its body reads of its properties (see _NODES_SQL); first_seen and last_seen
    as the body writes them."""

    __slots__ = ("pk", "kind", "source_id", "namespace", "name", "first_seen", "last_seen", "facets", "fields",
                 "tags", "source_name", "lifecycle", "description", "job_type", "location", "run")

    def __init__(self, row):
        (self.pk, self.kind, self.source_id, self.namespace, self.name, self.first_seen, self.last_seen,
         self.facets, self.fields, self.tags, self.source_name, self.lifecycle, self.description, self.job_type,
         self.location, self.run) = row


def _columns_of(props) -> tuple:
    """The portable path: _NODES_SQL's columns from parsed properties (SQLite hands back the stored text)."""
    props = props if isinstance(props, dict) else {}
    facets = props.get("facets")

    def sub(name, key):
        value = facets.get(name) if isinstance(facets, dict) else None
        return value.get(key) if isinstance(value, dict) else None

    return (shapes.facets(props), shapes.fields_of(props), sub("tags", "tags"), shapes.string(sub("dataSource", "name")),
            shapes.string(sub("lifecycleStateChange", "lifecycleStateChange")), shapes.string(sub("documentation", "description")),
            shapes.string(sub("jobType", "processingType")), shapes.string(sub("sourceCodeLocation", "url")),
            [props.get(k) for k in _RUN_KEYS])


def _nodes(ids) -> dict[int, _Node]:
    out: dict[int, _Node] = {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(_NODES_SQL, [sorted(set(ids))])
            found = cur.fetchall()
        for row in found:
            node = out[row[0]] = _Node(row)
            node.facets = orjson.Fragment(node.facets)
            if node.fields is not None:
                node.fields = orjson.Fragment(node.fields)
            if node.tags is not None:
                node.tags = _json(node.tags)
            if node.run is not None:
                node.run = _json(node.run)
        return out
    for pk, row in graph_nodes(ids).items():
        out[pk] = _Node((row.pk, row.kind, row.source_id, row.namespace, row.name, iso(row.first_seen), iso(row.last_seen))
                        + _columns_of(row.properties))
    return out


_ENDED = ("COMPLETED", "FAILED", "ABORTED")
_JOB_TYPES = {"STREAMING": "STREAM", "STREAM": "STREAM", "SERVICE": "SERVICE"}
iso = shapes.iso


def _dataset(node: _Node) -> dict:
    """shapes.dataset(node, props) from the columns."""
    props = {"facets": {"tags": {"tags": node.tags}}}
    data = {
        "id": {"namespace": node.namespace, "name": node.name},
        "type": "DB_TABLE",
        "name": node.name,
        "physicalName": node.name,
        "createdAt": node.first_seen,
        "updatedAt": node.last_seen,
        "namespace": node.namespace,
        "sourceName": node.source_name or node.namespace,
        "fields": node.fields if node.fields is not None else [],
        "tags": shapes.tag_names(props) if node.tags is not None else [],
    }
    if node.lifecycle is not None:
        data["lastLifecycleState"] = node.lifecycle
    if node.description is not None:
        data["description"] = node.description
    data["facets"] = node.facets
    data["deleted"] = False
    return data


def _run(run: _Node, job: _Node) -> dict:
    """shapes.run(run, props, job=job) from the columns."""
    run_id, state, started, ended, nominal_start, nominal_end = run.run
    state = shapes.RUN_STATES.get(str(state).upper(), "NEW")  # a missing or null state: "NEW", as shapes.run
    data = {"id": shapes.run_uuid(run_id or run.source_id), "createdAt": run.first_seen,
            "updatedAt": run.last_seen}
    for key, value in (("nominalStartTime", nominal_start), ("nominalEndTime", nominal_end)):
        value = iso(value)
        if value is not None:
            data[key] = value
    data["state"] = state
    value = iso(started)
    if value is not None:
        data["startedAt"] = value
    if state in _ENDED:
        value = iso(ended)
        if value is not None:
            data["endedAt"] = value
        value = shapes._duration_ms(started, ended)
        if value is not None:
            data["durationMs"] = value
    data["args"] = {}
    data["jobVersion"] = {"namespace": job.namespace, "name": job.name, "version": shapes.run_uuid(run.source_id)}
    data["inputDatasetVersions"] = []
    data["outputDatasetVersions"] = []
    data["facets"] = run.facets
    return data


def _job(node: _Node, inputs: list, outputs: list, run: _Node | None) -> dict:
    """shapes.job(node, props, inputs=…, outputs=…, latest_run=…, latest_run_node=run) from the columns;
    `inputs` and `outputs` are the datasets' {"namespace", "name"} objects, in order."""
    data = {
        "id": {"namespace": node.namespace, "name": node.name},
        "type": _JOB_TYPES.get(node.job_type, "BATCH"),
        "name": node.name,
        "simpleName": node.name.rsplit(".", 1)[-1],
        "createdAt": node.first_seen,
        "updatedAt": node.last_seen,
        "namespace": node.namespace,
        "inputs": inputs,
        "outputs": outputs,
    }
    if node.location is not None:
        data["location"] = node.location
    if node.description is not None:
        data["description"] = node.description
    if run is not None:
        latest = _run(run, node)
        data["latestRun"] = latest
        data["latestRuns"] = [latest]
    else:
        data["latestRuns"] = []
    data["facets"] = node.facets
    if run is not None:
        data["currentVersion"] = shapes.run_uuid(run.source_id)
    return data


def marquez_lineage_json(node_id: str, depth: int = DEFAULT_DEPTH, *, as_of=None,
                         max_nodes: int = MAX_NODES) -> bytes:
    """graph.marquez_lineage's answer as JSON bytes (the same JSON value); same errors.

    Why the cyclic garbage collector is paused while the answer is built: a 1,000-node answer allocates
    ~100,000 dicts, lists, tuples and sets, which set off the collector's generations over and over, each
    older pass walking the whole process heap (Django, the app) — measured on the 100k-node bench graph,
    a third of the process CPU of an answer on average and most of its tail. Nothing built here forms a
    cycle, so reference counting frees all of it; the collector is switched back on (if it was on) after."""
    if as_of is not None:
        return _dumps(marquez_lineage(node_id, depth, as_of=as_of, max_nodes=max_nodes))
    paused = gc.isenabled()
    gc.disable()
    try:
        return _now_json(node_id, depth, max_nodes)
    finally:
        if paused:
            gc.enable()


def _now_json(node_id: str, depth, max_nodes: int) -> bytes:
    walk = _walk(node_id, depth, max_nodes=max_nodes)
    level_of = walk.level_of
    latest_ids = {job: run for job, run in walk.flow.latest.items() if job in level_of and run is not None}
    loaded = _nodes(set(level_of) | set(latest_ids.values()))
    nodes = {pk: loaded[pk] for pk in level_of if pk in loaded}
    name_of, inputs, outputs, in_edges, out_edges = _edges(nodes, walk.pairs)
    ranked = sorted(nodes, key=lambda pk: (nodes[pk].namespace, nodes[pk].name))
    rank = {pk: i for i, pk in enumerate(ranked)}
    refs = {pk: {"namespace": nodes[pk].namespace, "name": nodes[pk].name} for pk in ranked}

    def ordered(ids_) -> list[dict]:
        return [refs[i] for i in sorted(ids_, key=rank.__getitem__)]

    graph = []
    for pk in sorted(nodes, key=name_of.__getitem__):
        node = nodes[pk]
        if node.kind == NodeKind.JOB:
            data = _job(node, ordered(inputs.get(pk, ())), ordered(outputs.get(pk, ())),
                        loaded.get(latest_ids.get(pk)))
            node_type = "JOB"
        else:
            data, node_type = _dataset(node), "DATASET"
        graph.append(graph_item(name_of[pk], node_type, data, in_edges[pk], out_edges[pk]))
    answer = {"graph": graph}
    if walk.truncated:
        answer["truncated"] = True
    try:
        return orjson.dumps(answer)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits in parsed properties (the portable path)
        return _dumps(marquez_lineage(node_id, depth, max_nodes=max_nodes))


def _dumps(answer: dict) -> bytes:
    try:
        return orjson.dumps(answer)
    except orjson.JSONEncodeError:  # what orjson refuses (integers beyond 64 bits), written by json
        return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
