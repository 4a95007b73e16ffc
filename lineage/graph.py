"""Graph queries over the lineage store, computed in the database.

Lineage walks (lineage(), reachable()) go breadth-first with a visited set, so they stop as soon as the
nearest `max_nodes` are known instead of exploring the whole closure first (see _walk): on PostgreSQL in
one recursive statement carrying the visited sets as arrays, on SQLite one statement per level. Paths
(path_between) use a plain recursive CTE, since both ends' walks must meet in full; it runs unchanged on
SQLite and PostgreSQL (both support WITH RECURSIVE, where UNION discards rows already produced, which is
what stops cycles). Both databases give the same answers. Walking "upstream" follows edges backwards
(dst -> src), "downstream" forwards; see lineage/kinds.py for the direction rule.

Why the recursive path rows are (node, depth) pairs rather than nodes: a node reached again at a greater
depth is a new row, but never more than `depth` times, so cycles terminate; the smallest depth per node is
what the callers want and a GROUP BY picks it.

"As of" semantics: an edge holds at t when valid_from <= t < valid_to (valid_to NULL means still open); a
node exists at t when first_seen <= t. Without `as_of` only open edges are walked (the current graph).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import JSONField
from django.db.models.base import ModelState

from lineage.models import Edge, Node

DIRECTIONS = ("upstream", "downstream", "both")
MAX_DEPTH = 50
MAX_NODES = 10_000

_NODE_COLUMNS = [f.column for f in Node._meta.concrete_fields]


@dataclass
class GraphResult:
    nodes: list[Node]
    edges: list[Edge]
    depth_of: dict[int, int] = field(default_factory=dict)
    truncated: bool = False


@dataclass
class PathResult:
    """A shortest directed path. `direction` says how the path runs from the first node asked for:
    "downstream" when b is downstream of a (edges point along the path), "upstream" when b is upstream of a
    (the path is listed from a to b, against the edges)."""

    nodes: list[Node]
    edges: list[Edge]
    direction: str

    @property
    def length(self) -> int:
        return len(self.edges)


def _placeholders(values) -> str:
    return ",".join(["%s"] * len(values))


def _db_time(as_of):
    """`as_of` as the database compares it: on SQLite the same naive-UTC text Django stores (so an aware
    time in any offset compares correctly as text); PostgreSQL takes the aware value as is."""
    if as_of is None:
        return None
    return connection.ops.adapt_datetimefield_value(as_of)


def _edge_filter(alias: str, as_of: dt.datetime | None, edge_kinds) -> tuple[str, list]:
    """SQL condition (and its parameters) for the edges that hold at `as_of` and have one of `edge_kinds`."""
    params: list = []
    if as_of is None:
        sql = f"{alias}.valid_to IS NULL"
    else:
        sql = f"{alias}.valid_from <= %s AND ({alias}.valid_to IS NULL OR {alias}.valid_to > %s)"
        params += [as_of, as_of]
    if edge_kinds:
        sql += f" AND {alias}.kind IN ({_placeholders(edge_kinds)})"
        params += list(edge_kinds)
    return sql, params


def _walk_cte(name: str, direction: str, start_ids, depth: int, as_of, edge_kinds) -> tuple[str, list]:
    """One recursive CTE `name(node_id, depth)`: the start nodes at 0 and everything within `depth` hops.

    The seed selects from lineage_node (rather than `SELECT %s`) so PostgreSQL types the column as bigint and
    unknown ids simply drop out.
    """
    near, far = ("dst_id", "src_id") if direction == "upstream" else ("src_id", "dst_id")
    as_of = _db_time(as_of)
    seed_params: list = list(start_ids)
    seed = f"SELECT id, 0 FROM lineage_node WHERE id IN ({_placeholders(start_ids)})"
    if as_of is not None:
        seed += " AND first_seen <= %s"
        seed_params.append(as_of)
    edge_sql, edge_params = _edge_filter("e", as_of, edge_kinds)
    step = f"SELECT e.{far}, w.depth + 1 FROM {name} w JOIN lineage_edge e ON e.{near} = w.node_id"
    step_params: list = []
    if as_of is not None:
        # A node that did not exist yet at `as_of` is not walked through either.
        step += " JOIN lineage_node n ON n.id = e." + far + " AND n.first_seen <= %s"
        step_params.append(as_of)
    step += f" WHERE w.depth < %s AND {edge_sql}"
    step_params += [depth] + edge_params
    return f"{name}(node_id, depth) AS ({seed} UNION {step})", seed_params + step_params


def _check_direction(direction: str, allowed=DIRECTIONS) -> None:
    if direction not in allowed:
        raise ValueError(f"direction must be one of {', '.join(allowed)}, not {direction!r}")


def _existing(start_ids, as_of) -> list[int]:
    """The start nodes that exist (at `as_of`); unknown ids simply drop out."""
    in_sql, in_params = _id_set(start_ids)
    sql = f"SELECT id FROM lineage_node WHERE id {in_sql}"
    if as_of is not None:
        sql += " AND first_seen <= %s"
        in_params = in_params + [as_of]
    with connection.cursor() as cur:
        cur.execute(sql, in_params)
        return [row[0] for row in cur.fetchall()]


def _level_sql(frontiers: dict[str, list[int]], as_of, edge_kinds, with_kind: bool) -> tuple[str, list]:
    """ONE statement for one level of the walk: (direction index, neighbour id, neighbour kind) for every
    edge holding at `as_of` that leaves a frontier node in that frontier's direction.

    The node table is joined only when something needs it (the neighbour's kind for a node-kind filter,
    its first_seen for `as_of`): on the current graph without a kind filter each level is a scan of one
    edge index and nothing else.
    """
    parts, params = [], []
    for index, one in enumerate(DIRECTIONS[:2]):
        frontier = frontiers.get(one)
        if not frontier:
            continue
        near, far = ("dst_id", "src_id") if one == "upstream" else ("src_id", "dst_id")
        in_sql, in_params = _id_set(frontier)
        edge_sql, edge_params = _edge_filter("e", as_of, edge_kinds)
        part = f"SELECT {index}, e.{far}, {'n.kind' if with_kind else 'NULL'} FROM lineage_edge e"
        join_params: list = []
        if with_kind or as_of is not None:
            part += f" JOIN lineage_node n ON n.id = e.{far}"
            if as_of is not None:
                # A node that did not exist yet at `as_of` is not walked through either.
                part += " AND n.first_seen <= %s"
                join_params.append(as_of)
        part += f" WHERE e.{near} {in_sql} AND {edge_sql}"
        parts.append(part)
        params += join_params + in_params + edge_params
    return " UNION ALL ".join(parts), params


def _walk(start_ids, directions, depth: int, as_of, edge_kinds, node_kinds=None, enough: int | None = None,
          node_rows: bool = False) -> list[tuple]:
    """The answer of a breadth-first walk that stops as soon as the answer is settled: rows (node id,
    smallest depth), or (the node's columns in _NODE_COLUMNS order, smallest depth) with `node_rows`,
    nearest first then by id, at most `enough` of them, of `node_kinds` or a start node.

    Why not the plain recursive CTE over (node, depth) pairs: it cannot consult what it already produced,
    so it explores the whole `depth`-hop closure (tens of thousands of rows on a large graph) before the
    ORDER BY … LIMIT keeps the nearest `enough`. A breadth-first walk keeps a visited set, and once a
    level is complete every node at that distance or nearer is known: when `enough` answer nodes are
    known, the nearest `enough` by (depth, id) are among them and nothing farther can change the answer.
    Each direction keeps its own visited set: "both" is the union of an upstream and a downstream walk
    (not an undirected walk), exactly as before.

    PostgreSQL does the whole walk (and fetches the node rows) in one statement, the visited sets carried
    as arrays from level to level (_walk_statement); SQLite, without arrays, walks one statement per level
    (_walk_by_level). Both give the answer the recursive CTE gives (tests/test_graph_walk_vs_sql.py).
    """
    as_of = _db_time(as_of)
    if connection.vendor == "postgresql":
        sql, params = _walk_statement(start_ids, directions, depth, as_of, edge_kinds, node_kinds, enough, node_rows)
        with connection.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    pairs = _walk_by_level(start_ids, directions, depth, as_of, edge_kinds, node_kinds, enough)
    if not node_rows:
        return pairs
    by_id = {row[0]: row for row in _node_rows([node_id for node_id, _d in pairs])}
    return [by_id[node_id] + (d,) for node_id, d in pairs if node_id in by_id]


def _holds_sql(as_of, edge_kinds) -> str:
    """The condition on edge `e` for "holds at as_of, of edge_kinds", in _walk_parts' named parameters."""
    if as_of is None:
        holds = "e.valid_to IS NULL"
    else:
        holds = "e.valid_from <= %(as_of)s AND (e.valid_to IS NULL OR e.valid_to > %(as_of)s)"
    if edge_kinds:
        holds += " AND e.kind = ANY(%(edge_kinds)s)"
    return holds


def _walk_statement(start_ids, directions, depth, as_of, edge_kinds, node_kinds, enough, node_rows) -> tuple[str, dict]:
    """The walk on PostgreSQL as one statement (see _walk_parts): rows (id, depth), or with `node_rows`
    (the node's columns in _NODE_COLUMNS order, depth), nearest first then by id, at most `enough`."""
    sql, answer, params = _walk_parts(start_ids, directions, depth, as_of, edge_kinds, node_kinds, enough)
    if not node_rows:
        return f"{sql} {answer}", params
    # The cap first, then the rows of only the nodes kept (the last level may have reached many more).
    columns = ", ".join(f"n.{c}" for c in _NODE_COLUMNS)
    return (f"{sql}, answer AS ({answer}) SELECT {columns}, a.depth FROM answer a"
            " JOIN lineage_node n ON n.id = a.id ORDER BY a.depth, a.id"), params


# The edge columns the walk can carry (walk_edges in _walk_parts), each as an array per level, in this order.
WALK_EDGE_COLUMNS = ("id", "kind", "source", "valid_from", "valid_to", "raw_id", "src_id", "dst_id")


def _walk_parts(start_ids, directions, depth, as_of, edge_kinds, node_kinds, enough,
                walk_edges: bool = False) -> tuple[str, str, dict]:
    """The pieces of the one-statement walk on PostgreSQL, for callers that build on its answer
    (lineage.graph_json too): (`WITH RECURSIVE walk(...) AS (...)`, the SELECT of the answer rows (id, depth)
    nearest first then by id, at most `enough`, the named parameters both use).

    The recursive CTE has ONE row per level, carrying each direction's frontier and visited array, every
    node seen so far, the nodes first reached at this level and how many answer nodes are known. Each
    level is an index scan per direction over `= ANY(frontier)`, minus that direction's visited array (a
    hashed EXCEPT, so linear in the sizes); the recursion stops at `depth`, on empty frontiers, or once
    `enough` answer nodes are known (whole levels only).

    `walk_edges` (one direction only): each level's row also carries the edges it followed (every column of
    WALK_EDGE_COLUMNS as an array, `e_id`, `e_kind`, …), read from the covering edge index the walk scans anyway
    (edge_src_from / edge_dst_from), so that a caller wanting the edges between the answer's nodes need not
    look up again the edges of the nodes the walk expanded (lineage.graph_answer._edge_rows)."""
    params = {"starts": list(start_ids), "depth": depth, "as_of": as_of, "edge_kinds": list(edge_kinds or []),
              "node_kinds": list(node_kinds or []), "enough": enough}
    holds = _holds_sql(as_of, edge_kinds)
    # A node that did not exist yet at `as_of` is not walked through either.
    exists = "" if as_of is None else " AND first_seen <= %(as_of)s"
    empty = "'{}'::bigint[]"
    if walk_edges and len(directions) != 1:
        raise ValueError("walk_edges needs one direction")
    walked, next_ids = [], {}
    for one in ("upstream", "downstream"):
        if one not in directions:
            next_ids[one] = empty
            continue
        near, far = ("dst_id", "src_id") if one == "upstream" else ("src_id", "dst_id")
        alias = "up" if one == "upstream" else "dn"
        join = "" if as_of is None else f" JOIN lineage_node n ON n.id = e.{far}{exists.replace('first_seen', 'n.first_seen')}"
        followed = f"FROM lineage_edge e{join} WHERE e.{near} = ANY(w.{alias}_front) AND {holds}"
        if walk_edges:
            # The level's edges once, as arrays; the new ids are their far ends minus the visited ones.
            aggregates = ", ".join(f"array_agg(e.{column}) AS e_{column}" for column in WALK_EDGE_COLUMNS)
            walked.append(f" CROSS JOIN LATERAL (SELECT {aggregates} {followed}) ed"
                          f" CROSS JOIN LATERAL (SELECT coalesce(array_agg(x.id), {empty}) AS ids FROM ("
                          f"SELECT unnest(ed.e_{far}) AS id EXCEPT SELECT unnest(w.{alias}_seen)) x) {alias}")
        else:
            walked.append(
                f" CROSS JOIN LATERAL (SELECT coalesce(array_agg(x.id), {empty}) AS ids FROM ("
                f"SELECT e.{far} AS id {followed} EXCEPT SELECT unnest(w.{alias}_seen)) x) {alias}")
        next_ids[one] = f"{alias}.ids"
    up, dn = next_ids["upstream"], next_ids["downstream"]
    if node_kinds:
        counted, kind_join = "count(*) FILTER (WHERE k.kind = ANY(%(node_kinds)s))", " JOIN lineage_node k ON k.id = y.id"
    else:
        counted, kind_join = "count(*)", ""
    if len(directions) == 1:
        # One direction: its visited array is everything seen, so what it reached is all new already.
        ids = up if "upstream" in directions else dn
        fresh = (f" CROSS JOIN LATERAL (SELECT {ids} AS ids, (SELECT {counted} FROM unnest({ids}) AS y(id)"
                 f"{kind_join}) AS counted) fresh")
    else:
        fresh = (f" CROSS JOIN LATERAL (SELECT coalesce(array_agg(y.id), {empty}) AS ids, {counted} AS counted FROM ("
                 f"SELECT unnest({up}) AS id UNION SELECT unnest({dn}) EXCEPT SELECT unnest(w.seen)) y{kind_join}) fresh")
    seed_up = "s.ids" if "upstream" in directions else empty
    seed_dn = "s.ids" if "downstream" in directions else empty
    go_on = "w.depth < %(depth)s AND (cardinality(w.up_front) > 0 OR cardinality(w.dn_front) > 0)"
    if enough is not None:
        go_on += " AND w.found < %(enough)s"
    edge_names = edge_seed = edge_step = ""
    if walk_edges:
        edge_names = "".join(f", e_{column}" for column in WALK_EDGE_COLUMNS)
        types = {"kind": "varchar", "source": "varchar", "valid_from": "timestamptz", "valid_to": "timestamptz"}
        edge_seed = "".join(f", NULL::{types.get(column, 'bigint')}[]" for column in WALK_EDGE_COLUMNS)
        edge_step = "".join(f", ed.e_{column}" for column in WALK_EDGE_COLUMNS)
    sql = (
        f"WITH RECURSIVE walk(depth, up_front, up_seen, dn_front, dn_seen, seen, new_ids, found{edge_names}) AS ("
        f" SELECT 0, {seed_up}, {seed_up}, {seed_dn}, {seed_dn}, s.ids, s.ids, cardinality(s.ids)::bigint{edge_seed}"
        f" FROM (SELECT coalesce(array_agg(id), {empty}) AS ids FROM lineage_node WHERE id = ANY(%(starts)s){exists}) s"
        " UNION ALL"
        f" SELECT w.depth + 1, {up}, w.up_seen || {up}, {dn}, w.dn_seen || {dn}, w.seen || fresh.ids, fresh.ids,"
        f" w.found + fresh.counted{edge_step}"
        f" FROM walk w{''.join(walked)}{fresh} WHERE {go_on})"
    )
    answer = "SELECT r.id, l.depth FROM walk l CROSS JOIN LATERAL unnest(l.new_ids) AS r(id)"
    if node_kinds:
        answer += (" JOIN lineage_node k ON k.id = r.id"
                   " WHERE k.kind = ANY(%(node_kinds)s) OR r.id = ANY(%(starts)s)")
    answer += " ORDER BY l.depth, r.id"
    if enough is not None:
        answer += " LIMIT %(enough)s"
    return sql, answer, params


def _walk_by_level(start_ids, directions, depth: int, as_of, edge_kinds, node_kinds, enough) -> list[tuple[int, int]]:
    """The same walk, one statement per level over the frontier, the visited sets in Python."""
    kinds = set(node_kinds or ())
    with_kind = bool(kinds)
    dist = {node_id: 0 for node_id in _existing(start_ids, as_of)}
    answer = sorted(dist)  # start nodes always belong to the answer
    visited = {one: set(dist) for one in directions}
    frontiers = {one: answer for one in directions}
    level = 0
    while level < depth and (enough is None or len(answer) < enough) and any(frontiers.values()):
        level += 1
        sql, params = _level_sql(frontiers, as_of, edge_kinds, with_kind)
        with connection.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        found: dict[str, list[int]] = {one: [] for one in directions}
        new_here = []
        for index, node_id, kind in rows:
            one = DIRECTIONS[index]
            seen = visited[one]
            if node_id in seen:
                continue
            seen.add(node_id)
            found[one].append(node_id)
            if node_id not in dist:
                dist[node_id] = level
                if not kinds or kind in kinds:
                    new_here.append(node_id)
        answer += sorted(new_here)
        frontiers = found
    if enough is not None:
        answer = answer[:enough]
    return [(node_id, dist[node_id]) for node_id in answer]


def reachable(
    start_ids: list[int],
    *,
    direction: str = "upstream",
    depth: int = 10,
    as_of: dt.datetime | None = None,
    edge_kinds: list[str] | None = None,
    limit: int | None = None,
) -> dict[int, int]:
    """Node id -> smallest distance from the start nodes, walking one direction, at most `depth` hops.

    Ordered nearest first (then by id), so `limit` keeps the nearest nodes (and the walk stops as soon as
    they are known).
    """
    _check_direction(direction, ("upstream", "downstream"))
    start_ids = sorted({int(i) for i in start_ids})
    if not start_ids or (limit is not None and int(limit) <= 0):
        return {}
    rows = _walk(start_ids, (direction,), int(depth), as_of, edge_kinds, enough=None if limit is None else int(limit))
    return {node_id: d for node_id, d in rows}


def lineage(
    start_ids: list[int],
    *,
    direction: str = "both",
    depth: int = 10,
    as_of: dt.datetime | None = None,
    node_kinds: list[str] | None = None,
    edge_kinds: list[str] | None = None,
    max_nodes: int = 1000,
    properties: bool | list[str] = False,
    edges: bool = True,
) -> GraphResult:
    """The lineage subgraph around `start_ids`: the walk, the node rows and the edges between them in one round
    trip on PostgreSQL, edges from the walk's side (lineage.graph_answer.rows).

    Nodes and edges are light rows read like model instances: nodes have pk/id, kind, source, source_id,
    namespace, name, display_name, first_seen, last_seen, raw_id and depth, plus `properties` (the current
    ones) only when asked: `properties=True`, or a list of node kinds whose properties to read (None for the
    other nodes). The dashboard and the provenance card read them; a node's properties are the producer's, of
    any size, so nobody else pays for them. Edges have pk/id, kind, src_id, dst_id, source, valid_from,
    valid_to, raw_id; `edges=False` leaves them out (a caller that only lists nodes).

    `node_kinds` filters which nodes are returned (the walk still passes through the others; the start
    nodes are always returned). `max_nodes` caps the answer nearest-first and sets `truncated` when more
    were reachable. Edges are those holding at `as_of` (of `edge_kinds`) between two returned nodes.
    """
    from lineage import graph_answer

    _check_direction(direction)
    depth = max(0, min(int(depth), MAX_DEPTH))
    max_nodes = max(1, min(int(max_nodes), MAX_NODES))
    start_ids = sorted({int(i) for i in start_ids})
    if not start_ids:
        return GraphResult(nodes=[], edges=[])
    directions = ("upstream", "downstream") if direction == "both" else (direction,)
    found = graph_answer.rows(start_ids, directions=directions, depth=depth, as_of=as_of, node_kinds=node_kinds,
                              edge_kinds=edge_kinds, max_nodes=max_nodes, timestamps="native",
                              properties=properties if properties is True else list(properties or ()), edges=edges)
    node_row = graph_answer.NodePropertiesRow if properties else graph_answer.NodeRow
    return GraphResult(nodes=list(map(node_row, found.nodes)), edges=list(map(graph_answer.EdgeRow, found.edges)),
                       depth_of={row[2]: row[1] for row in found.nodes}, truncated=found.truncated)


def _node_rows(ids: list[int]) -> list[tuple]:
    """The rows (columns in _NODE_COLUMNS order) of the nodes `ids`, in no particular order."""
    if not ids:
        return []
    in_sql, in_params = _id_set(ids)
    with connection.cursor() as cur:
        cur.execute(f"SELECT {', '.join(_NODE_COLUMNS)} FROM lineage_node WHERE id {in_sql}", in_params)
        return cur.fetchall()


def _json_value(value, expression, conn):
    if not isinstance(value, str):
        return value  # NULL, or a driver that already decoded it
    return {} if value == "{}" else json.loads(value)  # most graph rows carry no properties


def _loader(model):
    """A row -> model instance function for rows holding `model`'s concrete columns in field order.

    Why not the ORM or Model.objects.raw(): for the thousands of rows of a graph answer, Model.__init__'s
    per-field descriptor work costs more than the query itself. This applies the same database converters
    (JSON text, SQLite datetimes) and fills the instance the way Django's own deserialisation leaves it
    (attribute values plus a ModelState saying "from this database, not adding"). The lineage models have
    no pre_init/post_init receivers, which is all Model.__init__ would add.
    """
    fields = model._meta.concrete_fields
    names = [f.attname for f in fields]
    converters = []
    for index, f in enumerate(fields):
        col = f.get_col(model._meta.db_table)
        if isinstance(f, JSONField) and f.decoder is None:
            found = [_json_value]  # what JSONField.from_db_value does for a plain column, minus its checks
        else:
            found = connection.ops.get_db_converters(col) + f.get_db_converters(connection)
        if found:
            converters.append((index, found, col))
    alias = connection.alias
    new = model.__new__

    def build(row):
        values = list(row)
        for index, found, col in converters:
            value = values[index]
            for convert in found:
                value = convert(value, col, connection)
            values[index] = value
        obj = new(model)
        obj.__dict__.update(zip(names, values))
        state = ModelState()
        state.adding = False
        state.db = alias
        obj._state = state
        return obj

    return build


_EDGE_COLUMNS = ", ".join(f"e.{f.column}" for f in Edge._meta.concrete_fields)


def _id_set(ids) -> tuple[str, list]:
    """SQL for "is one of these ids" taking ONE parameter whatever the count (an array on PostgreSQL, a JSON
    list read by json_each on SQLite): no per-id placeholders to build, send or parse."""
    if connection.vendor == "postgresql":
        return "= ANY(%s)", [list(ids)]
    return "IN (SELECT value FROM json_each(%s))", [json.dumps(list(ids))]


def edges_between(node_ids: list[int], *, as_of: dt.datetime | None = None, edge_kinds=None) -> list[Edge]:
    """Edges holding at `as_of` (of `edge_kinds`) whose both ends are in `node_ids`, ordered by id."""
    if not node_ids:
        return []
    in_sql, in_params = _id_set(node_ids)
    edge_sql, edge_params = _edge_filter("e", _db_time(as_of), edge_kinds)
    sql = (f"SELECT {_EDGE_COLUMNS} FROM lineage_edge e WHERE e.src_id {in_sql} AND e.dst_id {in_sql}"
           f" AND {edge_sql} ORDER BY e.id")
    with connection.cursor() as cur:
        cur.execute(sql, in_params + in_params + edge_params)
        rows = cur.fetchall()
    build = _loader(Edge)
    return [build(row) for row in rows]


def _distances_meeting(a_id: int, b_id: int, max_depth: int, as_of, edge_kinds) -> dict[int, tuple[int, int]]:
    """Node -> (hops from a walking downstream, hops to b walking upstream from b) for every node reached
    by both walks within `max_depth` in total: the nodes that can lie on a directed path a -> b."""
    head_a, params_a = _walk_cte("from_a", "downstream", [a_id], max_depth, as_of, edge_kinds)
    head_b, params_b = _walk_cte("to_b", "upstream", [b_id], max_depth, as_of, edge_kinds)
    sql = (
        f"WITH RECURSIVE {head_a}, {head_b}, "
        "da(node_id, d) AS (SELECT node_id, MIN(depth) FROM from_a GROUP BY node_id), "
        "db(node_id, d) AS (SELECT node_id, MIN(depth) FROM to_b GROUP BY node_id) "
        "SELECT da.node_id, da.d, db.d FROM da JOIN db ON db.node_id = da.node_id WHERE da.d + db.d <= %s"
    )
    with connection.cursor() as cur:
        cur.execute(sql, params_a + params_b + [max_depth])
        return {row[0]: (row[1], row[2]) for row in cur.fetchall()}


def _directed_path(a_id: int, b_id: int, max_depth: int, as_of, edge_kinds) -> tuple[list[int], list[Edge]] | None:
    meeting = _distances_meeting(a_id, b_id, max_depth, as_of, edge_kinds)
    if not meeting:
        return None
    length = min(da + db for da, db in meeting.values())
    # Every node with da + db == length lies on some shortest path, so walking level by level and taking
    # the smallest id that continues never dead-ends; the choice is deterministic on both databases.
    on_path = {node: da for node, (da, db) in meeting.items() if da + db == length}
    edges = edges_between(sorted(on_path), as_of=as_of, edge_kinds=edge_kinds)
    step_edges: dict[int, list[Edge]] = {}
    for edge in edges:
        if on_path[edge.dst_id] == on_path[edge.src_id] + 1:
            step_edges.setdefault(edge.src_id, []).append(edge)
    ids, path_edges, here = [a_id], [], a_id
    for _ in range(length):
        edge = min(step_edges[here], key=lambda e: (e.dst_id, e.pk))
        path_edges.append(edge)
        here = edge.dst_id
        ids.append(here)
    return ids, path_edges


def path_between(
    a_id: int,
    b_id: int,
    max_depth: int = 10,
    as_of: dt.datetime | None = None,
    edge_kinds: list[str] | None = None,
) -> PathResult | None:
    """A shortest directed path between two nodes, whichever way round it runs, or None.

    Tries a -> b (b downstream of a) first, then b -> a. Both walks meet in the database; Python only sees
    the nodes that lie on some shortest path.
    """
    a_id, b_id = int(a_id), int(b_id)
    max_depth = max(0, min(int(max_depth), MAX_DEPTH))
    found = _directed_path(a_id, b_id, max_depth, as_of, edge_kinds)
    direction = "downstream"
    if found is None:
        found = _directed_path(b_id, a_id, max_depth, as_of, edge_kinds)
        if found is None:
            return None
        ids, edges = found
        ids, edges, direction = ids[::-1], edges[::-1], "upstream"
    else:
        ids, edges = found
    by_id = Node.objects.in_bulk(ids)
    return PathResult(nodes=[by_id[i] for i in ids], edges=edges, direction=direction)
