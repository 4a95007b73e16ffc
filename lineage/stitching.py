"""Same-as links between two platforms' copies of one model: the explicit, audited link a person makes.

A `same_as` edge runs from the original (e.g. the Kubeflow model artifact) to its copy on another platform
(e.g. the Viya model version), so walking upstream from a copy passes into the run and the training data
that made the original. The store knows no platform: the automatic links, found from evidence each platform
carries (digests, URIs, run ids), are made by the connectors (connectors/stitching.py and the rules in each
connector package) as harvest facts. A person links two nodes through the API (`link_same_as`, audited),
and who made it is kept (lineage.models.ManualLink). An approver or admin other than its maker may confirm
it (`confirm_same_as`, audited): gates do not rely on a manual link made by the promotion's own requester,
or after the request was submitted, until it is confirmed (governance/approvals/gates.py).
"""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from common.audit import context, record
from lineage import store
from lineage.kinds import EdgeKind, NodeKind, Source
from lineage.models import Edge, ManualLink, Node

ORIGINAL_KINDS = (NodeKind.MODEL_VERSION, NodeKind.ARTIFACT)


class StitchError(ValueError):
    """Two nodes that cannot be the same thing (unknown, identical, wrong kinds)."""


def key_of(node: Node) -> store.NodeKey:
    return store.NodeKey(node.source, node.kind, node.source_id)


def link_same_as(src: Node, dst: Node, *, reason: str, user=None) -> tuple[Edge, bool]:
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
        ctx = context.current()
        ManualLink.objects.update_or_create(edge=edge, defaults={
            "created_by_id": getattr(user, "pk", None) or ctx.user_id,
            "created_by_username": getattr(user, "username", None) or ctx.username, "reason": reason,
            "created_at": edge.recorded_at})
        record("lineage.link.same_as", "lineage.edge", edge.pk, after={
            "src": src.pk, "src_key": src.source_id, "dst": dst.pk, "dst_key": dst.source_id,
            "valid_from": edge.valid_from.isoformat(), "edges_created": result.edges_created}, reason=reason)
    return edge, True


def confirm_same_as(edge: Edge, user, *, reason: str) -> ManualLink:
    """An approver's or admin's confirmation that a manual same_as link is right, so gates may rely on it.

    The maker of a link cannot confirm it (that would be their own evidence again). Role checks are the
    caller's (the API's permission); refusals here are audited by the caller too."""
    reason = (reason or "").strip()
    if not reason:
        raise StitchError("a reason is required to confirm a same-as link")
    if edge.kind != EdgeKind.SAME_AS or edge.source != Source.MANUAL:
        raise StitchError(f"edge {edge.pk} is not a manual same-as link; only those need confirming")
    if edge.valid_to is not None:
        raise StitchError(f"edge {edge.pk} no longer holds")
    with transaction.atomic():
        link = ManualLink.objects.select_for_update().filter(edge=edge).first()
        if link is None:
            link = ManualLink.objects.create(edge=edge, created_at=edge.recorded_at)
        if link.created_by_id is not None and link.created_by_id == user.pk:
            raise StitchError("the person who made a link cannot confirm it")
        if link.confirmed_at is not None:
            raise LinkAlreadyConfirmed(f"edge {edge.pk} was already confirmed by {link.confirmed_by_username}")
        link.confirmed_by, link.confirmed_by_username = user, user.username
        link.confirmed_at, link.confirm_reason = timezone.now(), reason
        link.save(update_fields=["confirmed_by", "confirmed_by_username", "confirmed_at", "confirm_reason"])
        record("lineage.link.same_as.confirm", "lineage.edge", edge.pk, after={
            "src": edge.src_id, "dst": edge.dst_id, "created_by": link.created_by_username,
            "confirmed_by": user.username}, reason=reason)
    return link


class LinkAlreadyConfirmed(StitchError):
    pass
