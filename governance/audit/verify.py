"""Verifying the audit chain stored in the database (for `manage.py verify_audit` and the API)."""
from __future__ import annotations

from governance.audit import signing
from governance.audit.models import AuditCheckpoint, AuditEntry, iso
from governance.audit.verifier import ChainWalk, Result

ENTRY_COLUMNS = (
    "seq", "at", "actor_id", "actor_username", "action", "object_type", "object_id", "before", "after",
    "request_id", "client_ip", "reason", "prev_hash", "hash",
)


def iter_entries(*, seq_min: int | None = None, seq_max: int | None = None, chunk_size: int = 5000):
    """Entries as export dicts in seq order, streamed (server-side cursor on PostgreSQL)."""
    qs = AuditEntry.objects.order_by("seq")
    if seq_min is not None:
        qs = qs.filter(seq__gte=seq_min)
    if seq_max is not None:
        qs = qs.filter(seq__lte=seq_max)
    for row in qs.values_list(*ENTRY_COLUMNS).iterator(chunk_size=chunk_size):
        entry = dict(zip(ENTRY_COLUMNS, row))
        entry["at"] = iso(entry["at"])
        yield entry


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
    for entry in iter_entries(seq_max=tail, chunk_size=chunk_size):
        if not walk.feed(entry):
            break
    return walk.finish()
