"""Excerpts of the audit trail for evidence bundles (used by governance.archive).

A bundle carries the entries about its subject plus a signed checkpoint. To let an offline reader tie those
entries to the signature, ask for `segment(first, checkpoint_seq)` as well: the unbroken run of entries
from the first one of interest up to the checkpoint (`verifier.verify_excerpt` then reports them as bound).
Every dict here has the export shape: the hashed fields plus prev_hash and hash (entries), or the signed
fields plus signature (checkpoints), so `verifier.verify_excerpt` and `offline_verify` read them as they are.
"""
from __future__ import annotations

from governance.audit import chain, recorder
from governance.audit.models import AuditCheckpoint, AuditEntry
from governance.audit.verify import iter_entries


def entries_for(object_type: str, object_id) -> list[dict]:
    """Every entry about one object, oldest first."""
    qs = AuditEntry.objects.filter(object_type=object_type, object_id=str(object_id)).order_by("seq")
    return [entry.as_export() for entry in qs]


def nearest_checkpoint(seq: int, *, create: bool = False) -> dict | None:
    """The first checkpoint at or after `seq`, the one that vouches for it; None when the entry is still in
    the unsigned tail, unless `create` asks to sign the tail now (an audited on-demand checkpoint)."""
    cp = AuditCheckpoint.objects.filter(seq__gte=seq).order_by("seq").first()
    if cp is None and create:
        cp = recorder.checkpoint(reason=f"evidence excerpt for entry {seq}")
    return cp.signed_fields() if cp else None


def segment(first_seq: int, last_seq: int) -> list[dict]:
    """The contiguous entries first_seq..last_seq."""
    return list(iter_entries(seq_min=first_seq, seq_max=last_seq))


def excerpt(object_type: str, object_id, *, create_checkpoint: bool = False) -> dict:
    """The entries about one object and the checkpoint nearest after the last of them, ready to embed."""
    entries = entries_for(object_type, object_id)
    checkpoint = nearest_checkpoint(entries[-1]["seq"], create=create_checkpoint) if entries else None
    return {"hashed_fields": list(chain.HASHED_FIELDS), "entries": entries, "checkpoint": checkpoint}
