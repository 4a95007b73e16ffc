"""Graph queries over the lineage store, computed in the database with recursive SQL.

The same SQL runs on SQLite and PostgreSQL (both support WITH RECURSIVE and UNION de-duplication), so
both give the same answers. Walking "upstream" follows edges backwards (dst -> src), "downstream"
forwards; see lineage/kinds.py for the direction rule.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import connection

from lineage.models import Edge, Node

DIRECTIONS = ("upstream", "downstream", "both")
MAX_DEPTH = 50
MAX_NODES = 10_000


@dataclass
class GraphResult:
    nodes: list[Node]
    edges: list[Edge]
    depth_of: dict[int, int] = field(default_factory=dict)
    truncated: bool = False


def _walk_sql(direction: str, as_of: dt.datetime | None, edge_kinds: list[str] | None) -> tuple[str, list]:
    near, far = ("dst_id", "src_id") if direction == "upstream" else ("src_id", "dst_id")
    conditions = []
    params: list = []
    if as_of is None:
        conditions.append("e.valid_to IS NULL")
    else:
        conditions.append("e.valid_from <= %s AND (e.valid_to IS NULL OR e.valid_to > %s)")
        params += [as_of, as_of]
    if edge_kinds:
        conditions.append("e.kind IN (" + ",".join(["%s"] * len(edge_kinds)) + ")")
        params += list(edge_kinds)
    step = (
        f"SELECT e.{far}, w.depth + 1 FROM walk w JOIN lineage_edge e ON e.{near} = w.node_id "
        f"WHERE w.depth < %s AND " + " AND ".join(conditions)
    )
    return step, params


def reachable(
    start_ids: list[int],
    *,
    direction: str = "upstream",
    depth: int = 10,
    as_of: dt.datetime | None = None,
    edge_kinds: list[str] | None = None,
    limit: int | None = None,
) -> dict[int, int]:
    """Node id -> smallest distance from the start nodes, walking one direction, at most `depth` hops."""
    if direction not in ("upstream", "downstream"):
        raise ValueError(f"direction must be upstream or downstream, not {direction!r}")
    if not start_ids:
        return {}
    step, step_params = _walk_sql(direction, as_of, edge_kinds)
    seeds = "SELECT id, 0 FROM lineage_node WHERE id IN (" + ",".join(["%s"] * len(start_ids)) + ")"
    sql = (
        f"WITH RECURSIVE walk(node_id, depth) AS ({seeds} UNION {step}) "
        "SELECT node_id, MIN(depth) AS d FROM walk GROUP BY node_id ORDER BY d, node_id"
    )
    params = list(start_ids) + [depth] + step_params
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return {row[0]: row[1] for row in cur.fetchall()}


def lineage(
    start_ids: list[int],
    *,
    direction: str = "both",
    depth: int = 10,
    as_of: dt.datetime | None = None,
    node_kinds: list[str] | None = None,
    edge_kinds: list[str] | None = None,
    max_nodes: int = 1000,
) -> GraphResult:
    """The lineage subgraph around `start_ids`.

    `node_kinds` filters which nodes are returned (the walk still passes through the others), `max_nodes`
    caps the answer nearest-first and sets `truncated` when more were reachable.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    depth = max(0, min(int(depth), MAX_DEPTH))
    max_nodes = max(1, min(int(max_nodes), MAX_NODES))
    directions = ("upstream", "downstream") if direction == "both" else (direction,)
    depth_of: dict[int, int] = {}
    truncated = False
    for one in directions:
        found = reachable(start_ids, direction=one, depth=depth, as_of=as_of, edge_kinds=edge_kinds,
                          limit=None if node_kinds else max_nodes + 1)
        for node_id, d in found.items():
            if node_id not in depth_of or d < depth_of[node_id]:
                depth_of[node_id] = d
    nodes_qs = Node.objects.filter(pk__in=list(depth_of))
    if as_of is not None:
        nodes_qs = nodes_qs.filter(first_seen__lte=as_of)
    if node_kinds:
        nodes_qs = nodes_qs.filter(kind__in=node_kinds) | Node.objects.filter(pk__in=start_ids)
    nodes = sorted(nodes_qs, key=lambda n: (depth_of.get(n.pk, 0), n.pk))
    if len(nodes) > max_nodes:
        nodes = nodes[:max_nodes]
        truncated = True
    kept = {n.pk for n in nodes}
    depth_of = {k: v for k, v in depth_of.items() if k in kept}
    edges_qs = Edge.objects.filter(src_id__in=kept, dst_id__in=kept)
    if as_of is None:
        edges_qs = edges_qs.filter(valid_to__isnull=True)
    else:
        edges_qs = edges_qs.filter(valid_from__lte=as_of).exclude(valid_to__lte=as_of)
    if edge_kinds:
        edges_qs = edges_qs.filter(kind__in=edge_kinds)
    return GraphResult(nodes=nodes, edges=list(edges_qs.order_by("pk")), depth_of=depth_of, truncated=truncated)
