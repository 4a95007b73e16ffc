"""The lineage answer (walk, node rows, edges between them) in ONE statement, as plain tuples, and the
response body of GET /api/nodes/{id}/lineage/ serialised from those tuples by orjson.

Why (issue 18): on a depth-10 answer of ~500 nodes the walk costs PostgreSQL ~3 ms, but looking the edges up
by `src = ANY(kept) AND dst = ANY(kept)` cost ~7 ms, a second round trip, `properties` (never shown) and
model instances turned into dicts afterwards cost more than the walk. Here:
- one round trip: the walk (lineage.graph._walk_parts), the kept node rows and the edges come back as one
  UNION ALL result, a tag column saying which is which, a header row first (how many nodes the walk found,
  whether the start nodes exist at all);
- the edges are looked up from the walk's side (per kept node through the edge index, the far end checked
  against the kept set by a hash join), see _edge_rows;
- only the columns a caller needs: the response's (timestamps already rendered as the response writes
  them) or, for lineage.graph.lineage(), the model's;
- the body is orjson over the row tuples (sliced in C, zipped with the keys), never model instances.

SQLite has no arrays: the walk goes one statement per level there (lineage.graph._walk_by_level) and the
rows come in one more statement; the tuples are the same, so the body is the same on both databases.
tests/api/test_api_lineage_body_old_vs_new.py compares the bodies with the previous paths on random graphs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter

import orjson
from django.db import connection

from lineage import graph
from lineage.models import Edge, Node

NODE_KEYS = ("id", "kind", "source", "source_id", "namespace", "name", "display_name", "first_seen", "last_seen",
             "depth", "raw")
EDGE_KEYS = ("id", "kind", "src", "dst", "source", "valid_from", "valid_to", "raw")

_ISO_MICROSECONDS = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


def _iso(column: str) -> str:
    """SQL rendering a datetime column as DRF writes it under TIME_ZONE = "UTC" (datetime.isoformat() in
    UTC, "+00:00" written "Z": six fractional digits, or none without microseconds). PostgreSQL: to_char,
    independent of DateStyle. SQLite: Django stores naive UTC as str(datetime), the same text with a space."""
    if connection.vendor == "postgresql":
        return f"replace(to_char({column} AT TIME ZONE 'UTC', '{_ISO_MICROSECONDS}'), '.000000Z', 'Z')"
    return f"replace({column}, ' ', 'T') || 'Z'"


@dataclass(frozen=True)
class _Shape:
    """Which columns the rows carry: (SQL expression, type) per node and per edge column."""

    node: tuple[tuple[str, str], ...]
    edge: tuple[tuple[str, str], ...]


def _body_shape() -> _Shape:
    """The response's columns, in the response's key order (so a row slice is the answer tuple)."""
    node = (("n.id", "bigint"), ("n.kind", "text"), ("n.source", "text"), ("n.source_id", "text"),
            ("n.namespace", "text"), ("n.name", "text"), ("n.display_name", "text"),
            (_iso("n.first_seen"), "text"), (_iso("n.last_seen"), "text"), ("k.depth", "integer"),
            ("n.raw_id", "bigint"))
    edge = (("e.id", "bigint"), ("e.kind", "text"), ("e.src_id", "bigint"), ("e.dst_id", "bigint"),
            ("e.source", "text"), (_iso("e.valid_from"), "text"), (_iso("e.valid_to"), "text"),
            ("e.raw_id", "bigint"))
    return _Shape(node, edge)


def _model_shape() -> _Shape:
    """The models' concrete columns in field order (what lineage.graph._loader builds from), then depth."""
    node = tuple((f"n.{f.column}", f.db_type(connection)) for f in Node._meta.concrete_fields)
    node += (("k.depth", "integer"),)
    edge = tuple((f"e.{f.column}", f.db_type(connection)) for f in Edge._meta.concrete_fields)
    return _Shape(node, edge)


def _nulls(columns) -> str:
    """Typed NULLs: PostgreSQL resolves a UNION's column types branch by branch, left to right, and two
    untyped NULLs would settle on text before meeting the bigint of the third branch."""
    if connection.vendor == "postgresql":
        return ", ".join(f"NULL::{kind}" for _sql, kind in columns)
    return ", ".join("NULL" for _ in columns)


def _edge_rows(directions, as_of, edge_kinds, model: bool) -> tuple[str, str]:
    """(extra CTE or "", FROM … WHERE of the edges `e` holding at as_of, of edge_kinds, with both ends kept).

    Walking one direction, the kept nodes were reached through their edges on the walk's side (their
    in-edges upstream, out-edges downstream), which mostly lead to other kept nodes, while their other side
    fans out to nodes never walked (a dataset consumed by many runs). So the edges are looked up from the
    walk's side, per kept node through the edge index, and the far end checked against the kept set by a
    hash join; the CTE is materialized so the planner cannot turn the lookup around. Walking both ways, both
    sides are dense; the planner picks. Any edge between two kept nodes has its near end kept, so this finds
    exactly the edges `src = ANY(kept) AND dst = ANY(kept)` finds.

    The kind test cannot become an index condition: on edge_one_open (src, dst, kind) `kind = ANY(...)` would
    be one more index descent per kind for every kept node, to drop edges a filter drops just as well."""
    holds = graph._holds_sql(as_of, None)
    if edge_kinds:
        holds += " AND (e.kind = ANY(%(edge_kinds)s)) IS TRUE"
    if len(directions) == 1:
        near, far = ("dst_id", "src_id") if directions[0] == "upstream" else ("src_id", "dst_id")
        # Only the columns the answer reads go into the materialized rows (not `properties`, unless asked).
        columns = Edge._meta.concrete_fields if model else [Edge._meta.get_field(name) for name in (
            "id", "kind", "src", "dst", "source", "valid_from", "valid_to", "raw")]
        cte = (f", reached AS MATERIALIZED (SELECT {', '.join(f'e.{f.column}' for f in columns)}"
               f" FROM kept s JOIN lineage_edge e ON e.{near} = s.id WHERE {holds})")
        return cte, f"FROM reached e JOIN kept t ON t.id = e.{far}"
    return "", f"FROM kept s JOIN lineage_edge e ON e.src_id = s.id JOIN kept t ON t.id = e.dst_id WHERE {holds}"


def _union(shape: _Shape, edge_from: str, header: str) -> str:
    """The answer's three kinds of rows: (tag, sort key 1, sort key 2, node columns…, edge columns…)."""
    nodes = ", ".join(sql for sql, _kind in shape.node)
    edges = ", ".join(sql for sql, _kind in shape.edge)
    return (f"SELECT 0, {header}, {_nulls(shape.node)}, {_nulls(shape.edge)}"
            f" UNION ALL SELECT 1, k.depth, n.id, {nodes}, {_nulls(shape.edge)}"
            " FROM kept k JOIN lineage_node n ON n.id = k.id"
            f" UNION ALL SELECT 2, 0, e.id, {_nulls(shape.node)}, {edges} {edge_from}"
            " ORDER BY 1, 2, 3")


@dataclass
class Rows:
    """The answer as tuples in `shape`'s column order: node rows end with the depth for the model shape
    and hold it in place for the body shape. `found` is how many start nodes exist at all (any time)."""

    nodes: list[tuple]
    edges: list[tuple]
    truncated: bool
    found: int


def rows(start_ids, *, directions, depth, as_of, node_kinds, edge_kinds, max_nodes, model: bool = False) -> Rows:
    """The lineage answer of lineage.graph.lineage() (arguments already checked and clamped there) as tuples:
    the response's columns, or the models' with `model`."""
    shape = _model_shape() if model else _body_shape()
    as_of = graph._db_time(as_of)
    n_node = len(shape.node)
    if connection.vendor == "postgresql":
        # One more than asked for: finding it is what says the answer was truncated.
        walk, answer, params = graph._walk_parts(start_ids, directions, depth, as_of, edge_kinds, node_kinds,
                                                 max_nodes + 1)
        params["max_nodes"] = max_nodes
        edge_cte, edge_from = _edge_rows(directions, as_of, edge_kinds, model)
        header = ("(SELECT count(*) FROM answer)::integer,"
                  " (SELECT count(*) FROM lineage_node WHERE id = ANY(%(starts)s))::bigint")
        sql = (f"{walk}, answer AS MATERIALIZED ({answer}),"
               f" kept AS MATERIALIZED (SELECT id, depth FROM answer ORDER BY depth, id LIMIT %(max_nodes)s)"
               f"{edge_cte} {_union(shape, edge_from, header)}")
        with connection.cursor() as cur:
            cur.execute(sql, params)
            fetched = cur.fetchall()
        head = fetched[0]
        walked, found = head[1], head[2]
    else:
        pairs = graph._walk_by_level(start_ids, directions, depth, as_of, edge_kinds, node_kinds, max_nodes + 1)
        walked = len(pairs)
        pairs = pairs[:max_nodes]
        edge_sql, edge_params = graph._edge_filter("e", as_of, edge_kinds)
        kept = ("WITH kept(id, depth) AS (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]')"
                " FROM json_each(%s))")
        edge_from = f"FROM kept s JOIN lineage_edge e ON e.src_id = s.id JOIN kept t ON t.id = e.dst_id WHERE {edge_sql}"
        header = "0, (SELECT count(*) FROM lineage_node WHERE id IN (SELECT value FROM json_each(%s)))"
        sql = f"{kept} {_union(shape, edge_from, header)}"
        with connection.cursor() as cur:
            cur.execute(sql, [json.dumps(pairs), json.dumps(list(start_ids))] + edge_params)
            fetched = cur.fetchall()
        found = fetched[0][2]
    node_part = itemgetter(slice(3, 3 + n_node))
    edge_part = itemgetter(slice(3 + n_node, None))
    nodes = [node_part(row) for row in fetched if row[0] == 1]
    edges = [edge_part(row) for row in fetched if row[0] == 2]
    return Rows(nodes=nodes, edges=edges, truncated=walked > max_nodes, found=int(found or 0))


def _clamped(direction: str, depth: int, max_nodes: int) -> tuple[tuple[str, ...], int, int]:
    graph._check_direction(direction)
    directions = ("upstream", "downstream") if direction == "both" else (direction,)
    return directions, max(0, min(int(depth), graph.MAX_DEPTH)), max(1, min(int(max_nodes), graph.MAX_NODES))


def body(start_id: int, *, direction: str = "both", depth: int = 3, as_of=None, node_kinds=None, edge_kinds=None,
         max_nodes: int = 1000, as_of_text: str | None = None) -> bytes | None:
    """The response body (UTF-8 JSON) of GET /api/nodes/{start_id}/lineage/, or None when no node
    `start_id` exists at all (the view's 404), from the same single statement. `as_of_text` is `as_of` as
    the response shows it (rendered by DRF's field, so the request's value round-trips as before)."""
    directions, clamped_depth, max_nodes = _clamped(direction, depth, max_nodes)
    answer = rows([int(start_id)], directions=directions, depth=clamped_depth, as_of=as_of, node_kinds=node_kinds,
                  edge_kinds=edge_kinds, max_nodes=max_nodes)
    if not answer.found:
        return None
    return orjson.dumps({
        "start": int(start_id), "direction": direction, "depth": depth, "as_of": as_of_text,
        "truncated": answer.truncated,
        "nodes": list(map(dict, map(zip, repeat(NODE_KEYS), answer.nodes))),
        "edges": list(map(dict, map(zip, repeat(EDGE_KEYS), answer.edges))),
    })
