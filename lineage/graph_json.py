"""The lineage answer of GET /api/nodes/{id}/lineage/ as JSON text that PostgreSQL builds, in ONE statement.

No longer what the view serves (issue 18: lineage.graph_answer answers with tuples serialised by orjson,
which costs PostgreSQL less than json_agg and runs on SQLite too); kept as the previous PostgreSQL body that
tests/api/test_api_lineage_body_old_vs_new.py and the lineage benchmarks compare the new one with.

Why: on a 1,000-node answer the walk itself costs PostgreSQL ~3 ms, while fetching the node and edge rows,
building model instances and serializing them cost Python several times that (issue #9). Here the same
walk (lineage.graph._walk_parts, shared, so both paths walk identically) feeds json_agg over the kept node
rows and the edges between them, and the finished body comes back as one text value, which the view
sends as it is.

The body means exactly what the DRF path renders (lineage.api.views.lineage_answer, through DRF's
JSONRenderer): the same keys, the nodes nearest first then by id, the edges by id, `truncated` when more
than `max_nodes` were reachable, datetimes as DRF writes them with TIME_ZONE = "UTC" (ISO 8601 in UTC with
"Z", fractional seconds only when there are microseconds, then always six digits: what
datetime.isoformat() gives). Only the spacing between tokens may differ from DRF's compact rendering.
tests/test_api_lineage_json_fastpath.py checks both agree on random graphs.

PostgreSQL only: SQLite keeps the DRF path (lineage.graph walks there one statement per level).
"""
from __future__ import annotations

import datetime as dt

from django.db import connection

from lineage import graph

_ISO_MICROSECONDS = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


def _iso(column: str) -> str:
    """SQL rendering timestamptz `column` the way DRF's DateTimeField does under TIME_ZONE = "UTC":
    datetime.isoformat() in UTC with "+00:00" written "Z", so six fractional digits or none at all when
    there are no microseconds. NULL stays NULL (JSON null). to_char, not a text cast: its output does not
    depend on the session's DateStyle, nor trim trailing zeros (".5" where Python writes ".500000")."""
    return f"replace(to_char({column} AT TIME ZONE 'UTC', '{_ISO_MICROSECONDS}'), '.000000Z', 'Z')"


# The rows are built as composite values and json_agg'd whole: PostgreSQL writes a record's columns as
# the object's keys, in order, compact, for about two thirds of the CPU json_build_object costs per row
# (it works out each argument's type on every call). The column names are the response's keys.
_NODE_ROWS = (
    "SELECT n.id, n.kind, n.source, n.source_id, n.namespace, n.name, n.display_name,"
    f" {_iso('n.first_seen')} AS first_seen, {_iso('n.last_seen')} AS last_seen, k.depth, n.raw_id AS raw"
    " FROM kept k JOIN lineage_node n ON n.id = k.id"
)
_EDGE_COLUMNS = (
    "e.id, e.kind, e.src_id AS src, e.dst_id AS dst, e.source,"
    f" {_iso('e.valid_from')} AS valid_from, {_iso('e.valid_to')} AS valid_to, e.raw_id AS raw"
)


def _edge_rows(directions, as_of, edge_kinds) -> tuple[str, str]:
    """(extra CTE or "", SELECT of the edge rows): the edges holding at as_of (of edge_kinds) with both ends
    kept, what lineage.graph.edges_between answers.

    Walking one direction, the kept nodes were reached through their edges on the walk's side (their
    in-edges upstream, out-edges downstream), which mostly lead to other kept nodes, while their other
    side fans out to nodes never walked (a dataset consumed by many runs). So the edges are looked up from
    the walk's side only, per kept node through the edge index, and the far end then checked against the
    kept set by a hash join: fetching the other side's edges too cost ~3x the heap reads on the bench
    graph. The CTE is materialized so the planner cannot turn the lookup around. Walking both ways, both
    sides are dense; the planner picks.

    The kind test is written so that it cannot become an index condition: on edge_one_open (src, dst, kind)
    `kind = ANY(...)` would be one more index descent per kind for every kept node (~30% more buffer
    accesses on the bench graph) to drop edges that a filter on the fetched row drops just as well."""
    holds = graph._holds_sql(as_of, None)
    if edge_kinds:
        holds += " AND (e.kind = ANY(%(edge_kinds)s)) IS TRUE"
    if len(directions) == 1:
        near, far = ("dst_id", "src_id") if directions[0] == "upstream" else ("src_id", "dst_id")
        cte = (", reached AS MATERIALIZED (SELECT e.id, e.kind, e.src_id, e.dst_id, e.source, e.valid_from,"
               f" e.valid_to, e.raw_id FROM kept s JOIN lineage_edge e ON e.{near} = s.id WHERE {holds})")
        return cte, f"SELECT {_EDGE_COLUMNS} FROM reached e JOIN kept t ON t.id = e.{far}"
    return "", (f"SELECT {_EDGE_COLUMNS} FROM kept s JOIN lineage_edge e ON e.src_id = s.id"
                f" JOIN kept t ON t.id = e.dst_id WHERE {holds}")


def lineage_statement(
    start_id: int,
    *,
    direction: str = "both",
    depth: int = 3,
    as_of: dt.datetime | None = None,
    node_kinds: list[str] | None = None,
    edge_kinds: list[str] | None = None,
    max_nodes: int = 1000,
    as_of_text: str | None = None,
) -> tuple[str, dict]:
    """(SQL, named parameters) of the one statement whose single row and column is the response body as
    text. `as_of_text` is `as_of` as the response shows it (the view renders it with DRF's field, so the
    request's own value round-trips exactly as before); the other arguments mean what lineage.graph.lineage()'s
    do, clamped the same way. The start node is assumed to exist (the view answers 404 before asking)."""
    graph._check_direction(direction)
    shown_depth = depth
    depth = max(0, min(int(depth), graph.MAX_DEPTH))
    max_nodes = max(1, min(int(max_nodes), graph.MAX_NODES))
    directions = ("upstream", "downstream") if direction == "both" else (direction,)
    as_of = graph._db_time(as_of)
    # One more than asked for: finding it is what says the answer was truncated.
    walk, answer, params = graph._walk_parts([int(start_id)], directions, depth, as_of, edge_kinds, node_kinds,
                                             max_nodes + 1)
    params.update(start=int(start_id), direction=direction, shown_depth=shown_depth, as_of_text=as_of_text,
                  max_nodes=max_nodes)
    edge_cte, edge_rows = _edge_rows(directions, as_of, edge_kinds)
    sql = (
        f"{walk}, answer AS MATERIALIZED ({answer}),"
        f" kept AS MATERIALIZED (SELECT id, depth FROM answer ORDER BY depth, id LIMIT %(max_nodes)s){edge_cte}"
        " SELECT json_build_object("
        "'start', %(start)s::bigint, 'direction', %(direction)s::text, 'depth', %(shown_depth)s::integer,"
        " 'as_of', %(as_of_text)s::text,"
        " 'truncated', (SELECT count(*) FROM answer) > %(max_nodes)s,"
        f" 'nodes', (SELECT coalesce(json_agg(r ORDER BY r.depth, r.id), '[]'::json) FROM ({_NODE_ROWS}) r),"
        f" 'edges', (SELECT coalesce(json_agg(r ORDER BY r.id), '[]'::json) FROM ({edge_rows}) r)"
        ")::text"
    )
    return sql, params


def lineage_json(start_id: int, **options) -> bytes:
    """The response body (UTF-8 JSON) for the lineage of `start_id`; `options` as lineage_statement's."""
    if connection.vendor != "postgresql":
        raise RuntimeError("the JSON lineage statement needs PostgreSQL; use lineage.graph.lineage() elsewhere")
    sql, params = lineage_statement(start_id, **options)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        # ::text above: psycopg2 would otherwise decode a json value into Python objects.
        return cur.fetchone()[0].encode()
