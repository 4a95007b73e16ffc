"""Appending to the audit chain.

The chain must stay one line under concurrent writers, so appends are serialized: on PostgreSQL with a
transaction-scoped advisory lock, on SQLite by its single-writer lock taken up front (BEGIN IMMEDIATE
semantics via a dummy write) plus a process lock for threads sharing one connection pool.
"""
from __future__ import annotations

import datetime as dt
import threading

from django.db import connection, transaction

from governance.audit import chain, context
from governance.audit.models import AuditEntry

# Arbitrary constant identifying the audit chain's advisory lock.
ADVISORY_LOCK_KEY = 0x4C4C_4155  # "LLAU"
_process_lock = threading.Lock()


def _json_safe(value):
    """Round-trip through canonical JSON so what is hashed is exactly what the JSON column returns."""
    import json

    if value is None:
        return None
    return json.loads(chain.canonical_json(value))


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])


def record(
    action: str,
    object_type: str,
    object_id="",
    *,
    before=None,
    after=None,
    reason: str = "",
    ctx: context.AuditContext | None = None,
) -> AuditEntry:
    """Append one entry to the chain inside the caller's transaction (or a new one).

    Called inside the same transaction as the write it describes, so that either both land or neither.
    """
    ctx = ctx or context.current()
    with _process_lock, transaction.atomic():
        _lock_chain()
        last = AuditEntry.objects.order_by("-seq").only("seq", "hash").first()
        seq = (last.seq + 1) if last else 1
        prev_hash = last.hash if last else chain.GENESIS
        at = dt.datetime.now(dt.timezone.utc)
        username = ctx.username if not ctx.service else (ctx.username if ctx.user_id else ctx.service)
        fields = {
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "actor_id": ctx.user_id,
            "actor_username": username,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "before": _json_safe(before),
            "after": _json_safe(after),
            "request_id": ctx.request_id,
            "client_ip": ctx.client_ip,
            "reason": reason or "",
        }
        digest = chain.entry_hash(prev_hash, fields)
        return AuditEntry.objects.create(
            seq=seq,
            at=at,
            actor_id=ctx.user_id,
            actor_username=username,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            before=fields["before"],
            after=fields["after"],
            request_id=ctx.request_id,
            client_ip=ctx.client_ip,
            reason=reason or "",
            prev_hash=prev_hash,
            hash=digest,
        )
