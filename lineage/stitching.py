"""Same-as links between two platforms' copies of one model: the explicit, audited link a person makes.

A `same_as` edge runs from the original (e.g. the Kubeflow model artifact) to its copy on another platform
(e.g. the Viya model version), so walking upstream from a copy passes into the run and the training data
that made the original. The store knows no platform: the automatic links, found from evidence each platform
carries (digests, URIs, run ids), are made by the connectors (connectors/stitching.py and the rules in each
connector package) as harvest facts. A person links two nodes through the API (`link_same_as`, audited).
"""
from __future__ import annotations

from django.db import transaction

from governance.audit.recorder import record
from lineage import store
from lineage.kinds import EdgeKind, NodeKind, Source
from lineage.models import Edge, Node

ORIGINAL_KINDS = (NodeKind.MODEL_VERSION, NodeKind.ARTIFACT)


class StitchError(ValueError):
    """Two nodes that cannot be the same thing (unknown, identical, wrong kinds)."""


def key_of(node: Node) -> store.NodeKey:
    return store.NodeKey(node.source, node.kind, node.source_id)


def link_same_as(src: Node, dst: Node, *, reason: str) -> tuple[Edge, bool]:
    """An explicit, audited same-as link from `src` (original) to `dst` (copy). Returns (edge, created)."""
    reason = (reason or "").strip()
    if not reason:
        raise StitchError("a reason is required for a same-as link")
    if src.pk == dst.pk:
        raise StitchError("a node cannot be the same as itself")
    for node in (src, dst):
        if node.kind not in ORIGINAL_KINDS:
            raise StitchError(f"node {node.pk} is a {node.kind}; same-as links join model versions or artifacts")
    if src.source == dst.source:
        raise StitchError("same-as links join nodes of two platforms; both nodes come from " + src.source)
    with transaction.atomic():
        existing = Edge.objects.filter(src=src, dst=dst, kind=EdgeKind.SAME_AS, valid_to__isnull=True).first()
        if existing is not None:
            return existing, False
        result = store.apply([store.EdgeFact(EdgeKind.SAME_AS, key_of(src), key_of(dst), Source.MANUAL,
                                             properties={"method": "explicit", "reason": reason})])
        edge = Edge.objects.get(src=src, dst=dst, kind=EdgeKind.SAME_AS, valid_to__isnull=True)
        record("lineage.link.same_as", "lineage.edge", edge.pk, after={
            "src": src.pk, "src_key": src.source_id, "dst": dst.pk, "dst_key": dst.source_id,
            "valid_from": edge.valid_from.isoformat(), "edges_created": result.edges_created}, reason=reason)
    return edge, True
