"""The lineage answer (walk, node rows, edges between them) in ONE statement, as plain tuples, and the
response body of GET /api/nodes/{id}/lineage/ serialised from those tuples by orjson.

Why (issue 18): on a depth-10 answer of ~500 nodes the walk costs PostgreSQL ~3 ms, but looking the edges up
by `src = ANY(kept) AND dst = ANY(kept)` cost ~7 ms, a second round trip, `properties` (never shown) and
model instances turned into dicts afterwards cost more than the walk. Here:
- one round trip: the walk (lineage.graph._walk_parts), the kept node rows and the edges come back as one
  UNION ALL result, a tag column saying which is which, a header row first (how many nodes the walk found,
  whether the start nodes exist at all);
- the edges come from the walk's side, the far end checked against the kept set by a hash join: walking one
  direction, the walk carries the edges it followed and only its last level's nodes are looked up again (per
  node through the edge index), see _edge_rows;
- only the columns a caller needs: the response's (timestamps already rendered as the response writes
  them), or for lineage.graph.lineage() the same columns as datetimes, plus properties only when asked;
  node and edge rows share one layout (no padding columns), see NODE_COLUMNS;
- lineage.graph.lineage() wraps each row in a tuple subclass read by attribute (NodeRow, EdgeRow), never a
  model instance; the body is orjson over dicts built from the rows, never model instances.

Where the time goes (1M-node bench graph, depth 10 upstream, ~460 nodes / ~460 edges, PostgreSQL 15 with
128 MB shared_buffers; EXPLAIN (ANALYZE, BUFFERS) finds the pages of repeated reads in shared buffers): the
walk ~1.5-2 ms of backend CPU, the node rows (one primary-key probe and heap page each, ~4 buffers a node)
~2 ms, the edges (one probe per kept node of edge_dst_from / edge_src_from, which carry every column the
answer shows since migration 0007, so no heap row: ~3 instead of ~4 buffers a probe, the probe about half
as long; the last level's edges to nodes never kept included) ~1.2 ms, parsing and planning ~1 ms (hence
the prepared statement, _execute_prepared), writing ~900 rows ~1 ms (no ORDER BY: sorting them cost
~0.5-1 ms more than Python's sort of the edges, see _union); in Python the driver's decoding of the rows
~1-1.5 ms, wrapping them well under 0.5 ms (lineage() leaves timestamps as text until read, _timestamp).
Measured and rejected: a covering index for the node rows (it would have to include last_seen and raw_id,
which every repeated observation updates, so those updates would stop being HOT and write all nine node
indexes), fetching the node rows with `id = ANY(array)` or in id order (no better than the nested loop),
rendering timestamps with a `::text` cast instead of to_char (as slow once the fractions need padding).
Building model instances with every column (the previous lineage()) cost ~4 ms more, the dict(zip())
bodies ~0.6 ms more. Since the walk carries its edges (_edge_rows), only the last level's nodes are probed
(half the nodes upstream, a third downstream on the bench graph): downstream backend CPU 8.1 -> 6.8 ms per
answer (it also stopped reading edge_one_open beside edge_src_from), upstream within noise (its walk already
read edge_dst_from), measured side by side at load 3-4 on 2 cores. Also measured and rejected: writing each
node and edge as JSON text in the database (concatenation, to_json only for strings that need escaping) and
joining them there, so the worker handles one string: it saved the worker ~1.2-2 ms but cost PostgreSQL as
much or more (~2 µs a row), no net gain.

SQLite has no arrays: the walk goes one statement per level there (lineage.graph._walk_by_level) and the
rows come in one more statement; the tuples are the same, so the body is the same on both databases.
tests/api/test_api_lineage_body_old_vs_new.py compares the bodies with the previous paths on random graphs.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from operator import itemgetter

import orjson
from django.db import DatabaseError, connection

from lineage import graph

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


# One row layout for the header, the nodes and the edges (tag 0, 1, 2), each column holding a value of one type
# whichever kind of row it is, so that a row carries no padding for the other kind's columns (a node row has
# 2 NULLs, an edge row 4, where separate node and edge columns would pad every row with 8-11):
#   0 tag | 1 sort key: node depth, edge 0, header: how many nodes the walk found | 2 id, header: how many start
#   nodes exist | 3 kind | 4 source | 5 first_seen / valid_from | 6 last_seen / valid_to | 7 raw_id |
#   8 src_id | 9 dst_id | 10 source_id | 11 namespace | 12 name | 13 display_name | 14 properties (if asked)
# _split orders them by (tag, sort key, id): the header, the nodes nearest first then by id, the edges by id.
NODE_COLUMNS = {"id": 2, "kind": 3, "source": 4, "source_id": 10, "namespace": 11, "name": 12, "display_name": 13,
                "first_seen": 5, "last_seen": 6, "raw_id": 7, "depth": 1}
EDGE_COLUMNS = {"id": 2, "kind": 3, "src_id": 8, "dst_id": 9, "source": 4, "valid_from": 5, "valid_to": 6,
                "raw_id": 7}
PROPERTIES = 14


class _Row(tuple):
    """A row of a lineage answer read by attribute like the model instance it stands for (pk, id, kind, …):
    what lineage.graph.lineage() returns.

    Why not model instances: on a 500-node answer building them (every column, the model state, the
    converters) cost more than the walk, and no caller reads other columns or calls a model method on them.
    Wrapping the fetched tuple costs one C call per row, and each attribute is a C itemgetter into the layout
    above. Hashed by id, as model instances are."""

    __slots__ = ()

    def __hash__(self):
        return hash(self[2])

    def __repr__(self):
        return f"<{type(self).__name__} {self[2]}: {self[3]}>"

    def serializable_value(self, name: str):
        """Model.serializable_value: a foreign key (src, dst, raw) as its id (DRF's related fields ask this)."""
        return getattr(self, f"{name}_id") if hasattr(self, f"{name}_id") else getattr(self, name)


_TIMESTAMPS = ("first_seen", "last_seen", "valid_from", "valid_to")
_from_iso = dt.datetime.fromisoformat


def _timestamp(index: int) -> property:
    """A timestamp column read as the aware datetime the driver would have made, from PostgreSQL's own text
    of it when the row carries that (see _columns, "native"), or as is (a datetime, None).

    Why: psycopg2 parses every timestamptz of a result into a datetime as it fetches (with a Python call for
    its tzinfo each): ~1 ms of this process's CPU for the ~1,400 timestamps of a 460-node answer, whether or
    not anyone reads them, about 40% of lineage()'s own CPU. The text is the same timestamptz output psycopg2
    parses (ISO DateStyle, the connection's time zone UTC, as Django sets it), and datetime.fromisoformat
    reads it into the same value (tzinfo datetime.timezone.utc), in C, only for the values read.
    tests/lineage/test_lineage_rows_timestamps.py compares with the driver's datetimes."""

    def read(row):
        value = row[index]
        return _from_iso(value) if value.__class__ is str else value

    return property(read)


def _row_class(name: str, columns: dict[str, int]):
    attrs = {column: _timestamp(index) if column in _TIMESTAMPS else property(itemgetter(index))
             for column, index in columns.items()}
    return type(name, (_Row,), {"__slots__": (), "__module__": __name__, "pk": property(itemgetter(2)), **attrs})


NodeRow = _row_class("NodeRow", NODE_COLUMNS)
NodePropertiesRow = _row_class("NodePropertiesRow", {**NODE_COLUMNS, "properties": PROPERTIES})
EdgeRow = _row_class("EdgeRow", EDGE_COLUMNS)


def _columns(timestamps: str, properties) -> tuple[list[str], list[str], list[str]]:
    """(header, node, edge) column lists in the layout above. `timestamps`: "text" renders them as the
    response shows them (_iso), "native" gives datetimes through the row classes (on PostgreSQL the rows carry
    the timestamps' own text, read into datetimes by attribute, see _timestamp). `properties`: False,
    True, or the node kinds whose properties to read (NULL for the others, never read from the row)."""
    pg = connection.vendor == "postgresql"
    if timestamps == "text":
        ts, ts_type = _iso, "text"
    elif pg:
        # The driver's own input text, parsed only when a row's attribute is read (_timestamp).
        ts, ts_type = (lambda column: f"{column}::text"), "text"
    else:
        ts, ts_type = (lambda column: column), "timestamptz"
    null = (lambda kind: f"NULL::{kind}") if pg else (lambda kind: "NULL")
    node = ["k.depth", "n.id", "n.kind", "n.source", ts("n.first_seen"), ts("n.last_seen"), "n.raw_id",
            null("bigint"), null("bigint"), "n.source_id", "n.namespace", "n.name", "n.display_name"]
    edge = ["0", "e.id", "e.kind", "e.source", ts("e.valid_from"), ts("e.valid_to"), "e.raw_id", "e.src_id",
            "e.dst_id", null("text"), null("text"), null("text"), null("text")]
    # The header comes first: PostgreSQL resolves a UNION's column types branch by branch, left to right, so
    # its NULLs carry the types (two untyped NULLs would settle on text before meeting a bigint).
    header = [null("text"), null("text"), null(ts_type), null(ts_type), null("bigint"), null("bigint"),
              null("bigint"), null("text"), null("text"), null("text"), null("text")]
    if properties:
        node.append("n.properties" if properties is True else
                    f"CASE WHEN n.kind IN ({', '.join(_quoted(kind) for kind in properties)}) THEN n.properties END")
        edge.append(null("jsonb"))
        header.append(null("jsonb"))
    return header, node, edge


def _quoted(kind: str) -> str:
    """A node kind as an SQL literal (kinds are the code's own names, but never trusted to be quote-free)."""
    return "'" + str(kind).replace("'", "''") + "'"


def _edge_rows(directions, as_of, edge_kinds, node_kinds=None) -> tuple[str, str]:
    """(extra CTE or "", FROM … WHERE of the edges `e` holding at as_of, of edge_kinds, with both ends kept).

    Walking one direction, the kept nodes were reached through their edges on the walk's side (their
    in-edges upstream, out-edges downstream), which mostly lead to other kept nodes, while their other side
    fans out to nodes never walked (a dataset consumed by many runs). So the edges come from the walk's side,
    the far end checked against the kept set by a hash join: for every level but the last, the edges the walk
    itself followed (it carries them, graph._walk_parts with walk_edges, read from the same covering index
    entries it scans anyway); for the nodes of the last level, which the walk reached but never expanded, one
    probe of the edge index each. The CTE is materialized so the planner cannot turn the lookup around.
    Walking both ways, both sides are dense; the planner picks. Any edge between two kept nodes has its near
    end kept, so this finds exactly the edges `src = ANY(kept) AND dst = ANY(kept)` finds.

    Why carried: looking every kept node's edges up again cost an index probe per node (~40% of the backend's
    CPU downstream, where the walk also read edge_one_open and the lookup edge_src_from: two indexes' pages in
    shared buffers for the same keys); carried, the walk and the last level's probes read edge_src_from /
    edge_dst_from only.

    The kind test cannot become an index condition: on edge_one_open (src, dst, kind) `kind = ANY(...)` would
    be one more index descent per kind for every kept node, to drop edges a filter drops just as well."""
    holds = graph._holds_sql(as_of, None)
    if edge_kinds:
        holds += " AND (e.kind = ANY(%(edge_kinds)s)) IS TRUE"
    if len(directions) == 1:
        near, far = ("dst_id", "src_id") if directions[0] == "upstream" else ("src_id", "dst_id")
        columns = ", ".join(graph.WALK_EDGE_COLUMNS)
        carried = ", ".join(f"l.e_{column}" for column in graph.WALK_EDGE_COLUMNS)
        # Without a node-kinds filter every node the walk expanded is kept (the walk stops at whole levels once
        # max_nodes + 1 are known, so only its last level can be cut); with one, the near end is checked too.
        near_kept = f" JOIN kept s ON s.id = u.{near}" if node_kinds else ""
        # Only the columns the answer reads go into the materialized rows (never `properties`).
        cte = (f", reached AS MATERIALIZED (SELECT u.* FROM walk l CROSS JOIN LATERAL unnest({carried}) AS u({columns})"
               f"{near_kept}"
               f" UNION ALL SELECT {', '.join(f'e.{column}' for column in graph.WALK_EDGE_COLUMNS)}"
               f" FROM kept s JOIN lineage_edge e ON e.{near} = s.id"
               f" WHERE s.depth = (SELECT max(depth) FROM walk) AND {holds})")
        return cte, f"FROM reached e JOIN kept t ON t.id = e.{far}"
    return "", f"FROM kept s JOIN lineage_edge e ON e.src_id = s.id JOIN kept t ON t.id = e.dst_id WHERE {holds}"


def _union(timestamps: str, properties, edge_from: str | None, header: str) -> str:
    """The answer's three kinds of rows in the one layout (no edge rows when `edge_from` is None), in no promised
    order: _split orders them. Sorting ~900 rows this wide in PostgreSQL cost ~0.5-1 ms of backend CPU
    (tuples copied into the sort); in Python the nodes arrive in kept's order already (timsort checks that in
    one pass) and only the edges need sorting, ~0.1 ms. SQLite's statement keeps its ORDER BY (nothing to
    gain there; its per-level walk statements are told apart from it by that)."""
    head, node, edge = _columns(timestamps, properties)
    edges = "" if edge_from is None else f" UNION ALL SELECT 2, {', '.join(edge)} {edge_from}"
    return (f"SELECT 0, {header}, {', '.join(head)}"
            f" UNION ALL SELECT 1, {', '.join(node)} FROM kept k JOIN lineage_node n ON n.id = k.id{edges}"
            + ("" if connection.vendor == "postgresql" else " ORDER BY 1, 2, 3"))


# How many nodes the walk found (one more than max_nodes says truncated), how many start nodes exist at all.
_HEADER = ("(SELECT count(*) FROM answer)::integer,"
           " (SELECT count(*) FROM lineage_node WHERE id = ANY(%(starts)s))::bigint")


def _pg_prefix(start_ids, directions, depth, as_of, node_kinds, edge_kinds, max_nodes, edges: bool):
    """(the WITH … part of the one statement on PostgreSQL: walk, answer, kept and the edges' CTE; the FROM …
    of the edge rows, or None without edges; the named parameters). `as_of` as graph._db_time gives it.

    Walking one direction, the walk carries the edges it follows (graph._walk_parts, walk_edges), so that only
    the last level's nodes need an edge lookup of their own (_edge_rows)."""
    walked = edges and len(directions) == 1
    # One more than asked for: finding it is what says the answer was truncated.
    walk, answer, params = graph._walk_parts(start_ids, directions, depth, as_of, edge_kinds, node_kinds,
                                             max_nodes + 1, walk_edges=walked)
    params["max_nodes"] = max_nodes
    edge_cte, edge_from = _edge_rows(directions, as_of, edge_kinds, node_kinds) if edges else ("", None)
    prefix = (f"{walk}, answer AS MATERIALIZED ({answer}),"
              f" kept AS MATERIALIZED (SELECT id, depth FROM answer ORDER BY depth, id LIMIT %(max_nodes)s){edge_cte}")
    return prefix, edge_from, params


@dataclass
class Rows:
    """The answer as rows in the layout above (NODE_COLUMNS, EDGE_COLUMNS say where each value is). `found`
    is how many start nodes exist at all (any time)."""

    nodes: list[tuple]
    edges: list[tuple]
    truncated: bool
    found: int


def rows(start_ids, *, directions, depth, as_of, node_kinds, edge_kinds, max_nodes, timestamps: str = "text",
         properties=False, edges: bool = True) -> Rows:
    """The lineage answer of lineage.graph.lineage() (arguments already checked and clamped there) as rows:
    timestamps as the response writes them ("text") or as datetimes ("native"), with the nodes' properties
    (decoded) when asked (True, or the kinds whose properties to read), without the edges when `edges` is
    False."""
    as_of = graph._db_time(as_of)
    if connection.vendor == "postgresql":
        prefix, edge_from, params = _pg_prefix(start_ids, directions, depth, as_of, node_kinds, edge_kinds, max_nodes,
                                               edges)
        sql = f"{prefix} {_union(timestamps, properties, edge_from, _HEADER)}"
        with connection.cursor() as cur:
            _execute_prepared(cur, sql, params)
            fetched = cur.fetchall()
        header, nodes, edge_rows = _split(fetched)
        walked, found = header[1], header[2]
    else:
        pairs = graph._walk_by_level(start_ids, directions, depth, as_of, edge_kinds, node_kinds, max_nodes + 1)
        walked = len(pairs)
        pairs = pairs[:max_nodes]
        edge_sql, edge_params = graph._edge_filter("e", as_of, edge_kinds)
        kept = ("WITH kept(id, depth) AS (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]')"
                " FROM json_each(%s))")
        edge_from = f"FROM kept s JOIN lineage_edge e ON e.src_id = s.id JOIN kept t ON t.id = e.dst_id WHERE {edge_sql}"
        if not edges:
            edge_from, edge_params = None, []
        header = "0, (SELECT count(*) FROM lineage_node WHERE id IN (SELECT value FROM json_each(%s)))"
        sql = f"{kept} {_union(timestamps, properties, edge_from, header)}"
        with connection.cursor() as cur:
            cur.execute(sql, [json.dumps(pairs), json.dumps(list(start_ids))] + edge_params)
            fetched = cur.fetchall()
        header, nodes, edge_rows = _split(fetched)
        found = header[2]
        if timestamps != "text":
            nodes = [_sqlite_datetimes(row) for row in nodes]
            edge_rows = [_sqlite_datetimes(row) for row in edge_rows]
    if properties:
        nodes = [row[:PROPERTIES] + (_decoded(row[PROPERTIES]),) for row in nodes]
    return Rows(nodes=nodes, edges=edge_rows, truncated=walked > max_nodes, found=int(found or 0))


_PARAMETER = re.compile(r"%\((\w+)\)s")
MAX_PREPARED = 64


def _execute_prepared(cur, sql: str, params: dict) -> None:
    """Run `sql` (named %(x)s parameters) as a server-side prepared statement of this connection, prepared on
    first use: PostgreSQL then parses and analyses the statement once per connection and, after its first
    executions, reuses a generic plan. For this statement (a recursive walk, three CTEs, a three-way UNION)
    parsing and planning cost ~20% of its backend CPU on the bench graph: 7.0-8.8 ms instead of 9.2-10.5 ms per
    depth-10 answer on the 1M-node bench graph, measured side by side (the generic plan has the custom plans' shape).

    The statements are kept per database connection (Django's wrapper is per thread; a new connection starts
    afresh) and survive rollbacks (PREPARE is not transactional). The texts differ only by the options that
    shape the SQL (directions, as_of or not, kinds filters, properties, edges), so they are few; past
    MAX_PREPARED on one connection the rest run unprepared. A statement gone from under us (DISCARD ALL, a
    pooler handing the connection over) fails that execute with 26000 and the record is dropped, so the next
    read prepares afresh, as lineage.store's statements do."""
    raw = connection.connection
    known = getattr(connection, "_lineage_prepared", None)
    if known is None or known[0] is not raw:
        known = (raw, {})
        connection._lineage_prepared = known
    statements = known[1]
    entry = statements.get(sql)
    if entry is None:
        if len(statements) >= MAX_PREPARED:
            cur.execute(sql, params)
            return
        names: list[str] = []

        def positional(match):
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        name = f"ll_lineage_answer_{len(statements)}"
        cur.execute(f"PREPARE {name} AS {_PARAMETER.sub(positional, sql)}")
        statements[sql] = entry = (name, names)
    name, names = entry
    try:
        cur.execute(f"EXECUTE {name}({', '.join(['%s'] * len(names))})", [params[n] for n in names])
    except DatabaseError as exc:
        if getattr(exc.__cause__, "pgcode", None) == "26000":  # invalid_sql_statement_name
            connection._lineage_prepared = None
        raise


_NODE_ORDER = itemgetter(1, 2)  # nearest first, then by id
_EDGE_ORDER = itemgetter(2)  # by id


def _split(fetched: list[tuple]) -> tuple[tuple, list[tuple], list[tuple]]:
    """(header, node rows nearest first then by id, edge rows by id) of an answer in any row order."""
    header = next(row for row in fetched if row[0] == 0)
    nodes = [row for row in fetched if row[0] == 1]
    edges = [row for row in fetched if row[0] == 2]
    nodes.sort(key=_NODE_ORDER)
    edges.sort(key=_EDGE_ORDER)
    return header, nodes, edges


def _sqlite_datetimes(row: tuple) -> tuple:
    """SQLite stores datetimes as text: the converter Django applies to a DateTimeField column."""
    convert = connection.ops.convert_datetimefield_value
    values = list(row)
    for index in (5, 6):
        if values[index] is not None:
            values[index] = convert(values[index], None, connection)
    return tuple(values)


def _decoded(value):
    """A properties value as JSONField would give it (the driver hands jsonb over as text here)."""
    if not isinstance(value, str):
        return value
    return {} if value == "{}" else json.loads(value)


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
        "nodes": _node_objects(answer.nodes),
        "edges": _edge_objects(answer.edges),
    })


# The response's objects, written out as dict displays over the row layout: CPython builds a dict display with
# constant keys about twice as fast as dict(zip(keys, values)) (~0.3 µs a node). The key order is the response's
# (NODE_KEYS, EDGE_KEYS); tests/api/test_api_lineage_body_old_vs_new.py compares whole bodies, key order included.
def _node_objects(rows: list[tuple]) -> list[dict]:
    return [{"id": r[2], "kind": r[3], "source": r[4], "source_id": r[10], "namespace": r[11], "name": r[12],
             "display_name": r[13], "first_seen": r[5], "last_seen": r[6], "depth": r[1], "raw": r[7]} for r in rows]


def _edge_objects(rows: list[tuple]) -> list[dict]:
    return [{"id": r[2], "kind": r[3], "src": r[8], "dst": r[9], "source": r[4], "valid_from": r[5],
             "valid_to": r[6], "raw": r[7]} for r in rows]
