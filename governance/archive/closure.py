"""Which nodes a bundle freezes and which nodes a legal hold protects.

Both are walks of the same recursive SQL (lineage.graph.reachable); they differ in direction on purpose.
A bundle is evidence of where a model version *came from*, so it takes everything upstream to the
requested depth and, downstream, only the way to its deployments (and a run's outputs). A legal hold must
never let something relevant slip away, so it protects the whole connected lineage in both directions to
the maximum depth.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from lineage import graph
from lineage.kinds import EdgeKind

# Downstream edges a bundle follows: a run's outputs, a model version's deployments and its copies on
# other platforms, and the versioned thing a version belongs to.
DOWNSTREAM_EDGE_KINDS = [EdgeKind.PRODUCED, EdgeKind.DEPLOYED_AS, EdgeKind.SAME_AS, EdgeKind.VERSION_OF]
MAX_BUNDLE_NODES = 50_000


def max_bundle_nodes() -> int:
    """The largest closure a bundle may freeze: `ARCHIVE_MAX_BUNDLE_NODES`, 50 000 by default. Read per
    build, so a test's override counts (a worker process takes it from its own environment)."""
    return max(1, int(settings.ARCHIVE_MAX_BUNDLE_NODES or MAX_BUNDLE_NODES))


class ClosureTooLarge(ValueError):
    pass


@dataclass
class Placement:
    direction: str  # subject | upstream | downstream
    depth: int


def bundle_closure(node_id: int, depth: int) -> dict[int, Placement]:
    limit = max_bundle_nodes()
    up = graph.reachable([node_id], direction="upstream", depth=depth, limit=limit + 1)
    down = graph.reachable(
        [node_id], direction="downstream", depth=depth, edge_kinds=[str(k) for k in DOWNSTREAM_EDGE_KINDS],
        limit=limit + 1,
    )
    placed: dict[int, Placement] = {}
    for found, direction in ((down, "downstream"), (up, "upstream")):
        for nid, d in found.items():
            placed[nid] = Placement("subject" if nid == node_id else direction, d)
    if len(placed) > limit:
        raise ClosureTooLarge(f"the closure holds more than {limit} nodes; choose a smaller depth")
    return placed


def protected_closure(node_ids: list[int]) -> set[int]:
    """Every node connected to `node_ids` in either direction (open edges, full depth)."""
    if not node_ids:
        return set()
    ids = set(node_ids)
    for direction in ("upstream", "downstream"):
        ids |= set(graph.reachable(list(node_ids), direction=direction, depth=graph.MAX_DEPTH))
    return ids
