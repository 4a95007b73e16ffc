"""The lineage answer of GET /api/nodes/{id}/lineage/ as JSON text that PostgreSQL builds, in ONE statement.

Why: on a 1,000-node answer the walk itself costs PostgreSQL ~3 ms, while fetching the node and edge rows,
building model instances and serializing them cost Python several times that (issue #9). Here the same
walk (lineage.graph._walk_parts, shared, so both paths walk identically) feeds json_build_object/json_agg
over the kept node rows and the edges between them, and the finished body comes back as one text value.

The body means exactly what the DRF path renders (lineage.api.views.lineage_answer, through DRF's
JSONRenderer): the same keys, the nodes nearest first then by id, the edges by id, `truncated` when more
than `max_nodes` were reachable, datetimes as DRF writes them with TIME_ZONE = "UTC" (ISO 8601 in UTC with
"Z", fractional seconds only when there are microseconds, then always six digits: what
datetime.isoformat() gives). Only the spacing differs (PostgreSQL writes `"id" : 1`).
tests/test_api_lineage_json_fastpath.py checks both agree on random graphs.

PostgreSQL only: SQLite keeps the DRF path (lineage.graph walks there one statement per level).
"""
from __future__ import annotations

import datetime as dt

from django.db import connection

from lineage import graph

_SECONDS = 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
_MICROSECONDS = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


def _iso(column: str) -> str:
    """SQL rendering timestamptz `column` the way DRF's DateTimeField does under TIME_ZONE = "UTC"
    (datetime.isoformat() with "+00:00" written "Z"); NULL stays NULL (JSON null)."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (f"to_char({utc}, CASE WHEN {utc} = date_trunc('second', {utc}) THEN '{_SECONDS}'"
            f" ELSE '{_MICROSECONDS}' END)")


_NODE_OBJECT = (
    "json_build_object('id', n.id, 'kind', n.kind, 'source', n.source, 'source_id', n.source_id,"
    " 'namespace', n.namespace, 'name', n.name, 'display_name', n.display_name,"
    f" 'first_seen', {_iso('n.first_seen')}, 'last_seen', {_iso('n.last_seen')}, 'depth', k.depth,"
    " 'raw', n.raw_id)"
)
_EDGE_OBJECT = (
    "json_build_object('id', e.id, 'kind', e.kind, 'src', e.src_id, 'dst', e.dst_id, 'source', e.source,"
    f" 'valid_from', {_iso('e.valid_from')}, 'valid_to', {_iso('e.valid_to')}, 'raw', e.raw_id)"
)


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
    holds = graph._holds_sql(as_of, edge_kinds)
    params.update(start=int(start_id), direction=direction, shown_depth=shown_depth, as_of_text=as_of_text,
                  max_nodes=max_nodes)
    sql = (
        f"{walk}, answer AS MATERIALIZED ({answer}),"
        " kept AS MATERIALIZED (SELECT id, depth FROM answer ORDER BY depth, id LIMIT %(max_nodes)s)"
        " SELECT json_build_object("
        "'start', %(start)s::bigint, 'direction', %(direction)s::text, 'depth', %(shown_depth)s::integer,"
        " 'as_of', %(as_of_text)s::text,"
        " 'truncated', (SELECT count(*) FROM answer) > %(max_nodes)s,"
        f" 'nodes', (SELECT coalesce(json_agg({_NODE_OBJECT} ORDER BY k.depth, k.id), '[]'::json)"
        "  FROM kept k JOIN lineage_node n ON n.id = k.id),"
        # Edges holding at as_of (of edge_kinds) with both ends kept: those leaving each kept node, their
        # far end looked up in the kept set (what lineage.graph.edges_between answers, by id).
        f" 'edges', (SELECT coalesce(json_agg({_EDGE_OBJECT} ORDER BY e.id), '[]'::json)"
        f"  FROM kept s JOIN lineage_edge e ON e.src_id = s.id WHERE e.dst_id IN (SELECT id FROM kept) AND {holds})"
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
