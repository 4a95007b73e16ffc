"""Placing and releasing legal holds, and the guard that stops held lineage from being deleted.

A hold protects its node and that node's whole connected lineage (see closure.protected_closure). The
guard is a pre_delete receiver on lineage.Node, so it applies to every deletion path (admin, ORM,
retention, other apps), not only to the ones that remember to ask.
"""
from __future__ import annotations

import contextvars

from django.db import transaction
from django.utils import timezone

from governance.archive.closure import protected_closure
from governance.archive.models import HOLD_KINDS, LegalHold
from common.audit import context, record
from lineage.models import Node


class HoldError(ValueError):
    """A hold request that cannot be carried out (bad kind, missing reason, already released)."""


class NodeUnderLegalHold(Exception):
    def __init__(self, node_id: int, hold_ids: list[int]):
        self.node_id = node_id
        self.hold_ids = hold_ids
        super().__init__(f"node {node_id} is under legal hold ({', '.join(f'#{h}' for h in hold_ids)}); release it first")


# Set by callers that already excluded held nodes for a whole batch, so the guard does not re-walk the
# graph for every row of that batch.
_checked: contextvars.ContextVar[frozenset | None] = contextvars.ContextVar("holds_checked", default=None)


def _ctx(user) -> context.AuditContext:
    ctx = context.current()
    if user is not None and getattr(user, "pk", None) != ctx.user_id:
        ctx = context.for_user(user, request_id=ctx.request_id, client_ip=ctx.client_ip)
    return ctx


def _hold_data(hold: LegalHold) -> dict:
    return {
        "node": {"id": hold.node_id, "source": hold.node_source, "kind": hold.node_kind, "source_id": hold.node_source_id},
        "placed_at": hold.placed_at.isoformat(),
        "placed_by": hold.placed_by_id,
        "reason": hold.reason,
        "released_at": hold.released_at.isoformat() if hold.released_at else None,
        "released_by": hold.released_by_id,
        "release_reason": hold.release_reason,
    }


def place_hold(node: Node, user, reason: str) -> LegalHold:
    reason = (reason or "").strip()
    if not reason:
        raise HoldError("a legal hold needs a reason")
    if node.kind not in HOLD_KINDS:
        raise HoldError(f"legal holds are placed on {', '.join(HOLD_KINDS)} nodes, not {node.kind}")
    ctx = _ctx(user)
    with transaction.atomic():
        hold = LegalHold.objects.create(
            node=node, node_source=node.source, node_kind=node.kind, node_source_id=node.source_id, reason=reason,
            placed_by=user if getattr(user, "pk", None) else None,
        )
        record("legal_hold.place", "legal_hold", hold.pk, after=_hold_data(hold), reason=reason, ctx=ctx)
    return hold


def release_hold(hold: LegalHold, user, reason: str) -> LegalHold:
    reason = (reason or "").strip()
    if not reason:
        raise HoldError("releasing a legal hold needs a reason")
    ctx = _ctx(user)
    with transaction.atomic():
        locked = LegalHold.objects.select_for_update().get(pk=hold.pk)
        if locked.released_at is not None:
            raise HoldError(f"hold #{hold.pk} was already released at {locked.released_at.isoformat()}")
        before = _hold_data(locked)
        locked.released_at = timezone.now()
        locked.released_by = user if getattr(user, "pk", None) else None
        locked.release_reason = reason
        locked.save(update_fields=["released_at", "released_by", "release_reason"])
        record("legal_hold.release", "legal_hold", locked.pk, before=before, after=_hold_data(locked), reason=reason, ctx=ctx)
    return locked


def held_nodes() -> dict[int, list[int]]:
    """Node id -> ids of the active holds protecting it."""
    active: dict[int, list[int]] = {}
    for hold_id, node_id in LegalHold.objects.filter(released_at__isnull=True, node__isnull=False).values_list("pk", "node_id"):
        active.setdefault(node_id, []).append(hold_id)
    protected: dict[int, list[int]] = {}
    for node_id, hold_ids in active.items():
        for nid in protected_closure([node_id]):
            protected.setdefault(nid, []).extend(hold_ids)
    return protected


class batch_checked:
    """Context manager: the caller vouches that none of `node_ids` is held (it just checked)."""

    def __init__(self, node_ids):
        self.node_ids = frozenset(node_ids)

    def __enter__(self):
        self._token = _checked.set(self.node_ids)

    def __exit__(self, *exc):
        _checked.reset(self._token)


def guard_node_delete(sender, instance, **kwargs):
    checked = _checked.get()
    if checked is not None and instance.pk in checked:
        return
    if not LegalHold.objects.filter(released_at__isnull=True).exists():
        return
    holds = held_nodes().get(instance.pk)
    if holds:
        raise NodeUnderLegalHold(instance.pk, sorted(set(holds)))
