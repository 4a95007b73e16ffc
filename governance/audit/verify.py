"""Verifying the audit chain stored in the database (for `manage.py verify_audit` and the API)."""
from __future__ import annotations

import contextlib
import itertools
import json

from django.db import connection, transaction

from governance.audit import signing
from governance.audit.models import AuditCheckpoint, AuditEntry, iso
from governance.audit.verifier import ChainWalk, Result

ENTRY_COLUMNS = (
    "seq", "at", "actor_id", "actor_username", "action", "object_type", "object_id", "before", "after",
    "request_id", "client_ip", "reason", "prev_hash", "hash",
)


def iter_entries(*, seq_min: int | None = None, seq_max: int | None = None, chunk_size: int = 5000):
    """Entries as export dicts in seq order, streamed (server-side cursor on PostgreSQL)."""
    if connection.vendor == "postgresql":
        yield from _iter_entries_postgresql(seq_min, seq_max, chunk_size)
        return
    qs = AuditEntry.objects.order_by("seq")
    if seq_min is not None:
        qs = qs.filter(seq__gte=seq_min)
    if seq_max is not None:
        qs = qs.filter(seq__lte=seq_max)
    for row in qs.values_list(*ENTRY_COLUMNS).iterator(chunk_size=chunk_size):
        entry = dict(zip(ENTRY_COLUMNS, row))
        entry["at"] = iso(entry["at"])
        yield entry


# The timestamp spelled in SQL exactly as `models.iso` spells it, so no datetime objects are made per row.
_PG_SELECT = """
SELECT seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'), actor_id, actor_username, action,
       object_type, object_id, before::text, after::text, request_id, client_ip, reason, prev_hash, hash
FROM audit_auditentry WHERE seq >= %s AND seq <= %s ORDER BY seq
"""


_cursor_numbers = itertools.count(1)


def _iter_entries_postgresql(seq_min, seq_max, chunk_size):
    """Raw server-side cursor: verifying a million entries is dominated by per-row overhead, and the ORM's
    model converters (datetime and JSON per row) roughly double it."""
    loads = json.loads
    connection.ensure_connection()
    with transaction.atomic():
        with connection.connection.cursor(name=f"audit_walk_{next(_cursor_numbers)}") as cur:
            cur.itersize = chunk_size
            cur.execute(_PG_SELECT, [seq_min if seq_min is not None else -(2**63), seq_max if seq_max is not None else 2**63 - 1])
            for row in cur:
                yield {
                    "seq": row[0], "at": row[1], "actor_id": row[2], "actor_username": row[3], "action": row[4],
                    "object_type": row[5], "object_id": row[6],
                    "before": None if row[7] is None else loads(row[7]),
                    "after": None if row[8] is None else loads(row[8]),
                    "request_id": row[9], "client_ip": row[10], "reason": row[11], "prev_hash": row[12], "hash": row[13],
                }


def _checkpoint_at(seq: int) -> dict | None:
    cp = AuditCheckpoint.objects.filter(seq=seq).first()
    return cp.signed_fields() if cp else None


def verify_chain(*, keys: dict | None = None, chunk_size: int = 5000) -> Result:
    """Walk the whole chain from seq 1 and report the verified range and the first broken link.

    Checkpoints are read before the tail, and the walk stops at that tail, so writers appending meanwhile
    neither stall the walk nor make it see a half-written checkpoint.
    """
    checkpoints = [cp.signed_fields() for cp in AuditCheckpoint.objects.all()]
    tail = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    walk = ChainWalk(
        checkpoints,
        signing.verification_keys() if keys is None else keys,
        ed25519_verify=signing.fast_ed25519_verify,
        lookup=_checkpoint_at,
    )
    # closing(): stopping at a break must end the generator's transaction and server-side cursor now.
    with contextlib.closing(iter_entries(seq_max=tail, chunk_size=chunk_size)) as entries:
        for entry in entries:
            if not walk.feed(entry):
                break
    return walk.finish()
