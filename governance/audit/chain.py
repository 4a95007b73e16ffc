"""Canonical form and hashing of audit entries and checkpoints; shared by the recorder, the verifier and the
offline script.

Standard library only, on purpose: `offline_verify` imports this module on a machine that has neither Django
nor the project's dependencies. The canonical JSON must stay byte-for-byte stable forever, or old chains stop
verifying: sorted keys, no whitespace, UTF-8, and timestamps as ISO-8601 strings in UTC with microseconds.
(governance/archive/verify.py repeats `entry_hash`; its test keeps the two identical.)
"""
from __future__ import annotations

import hashlib
import hmac
import json

GENESIS = "0" * 64

# The fields that are hashed, in the order they are exported. Changing this list breaks old chains.
HASHED_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_username",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "request_id",
    "client_ip",
    "reason",
)

# What a checkpoint signs. The format tag keeps a checkpoint signature from ever being replayed as a
# signature over something else made with the same key.
CHECKPOINT_FORMAT = "lineage-ledger/audit-checkpoint/1"
CHECKPOINT_SIGNED_FIELDS = ("seq", "entry_hash", "created_at", "key_id", "algorithm")
HMAC_SHA256 = "hmac-sha256"
ED25519 = "ed25519"

# Exports (JSON Lines and CSV) name their format so a verifier refuses what it does not understand.
EXPORT_FORMAT = "lineage-ledger/audit-export/1"
# The action of the entry that announces each checkpoint, written in the same transaction right after it:
# deleting a checkpoint, or cutting the tail back to a checkpoint, then leaves a visible hole.
CHECKPOINT_ACTION = "audit.checkpoint"


# One encoder, built once: json.dumps with these options would build a new one on every call, which is a
# measurable share of verifying a million entries. Output is identical to
# json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_json(value) -> str:
    return _CANONICAL.encode(value)


def entry_hash(prev_hash: str, fields: dict) -> str:
    return body_hash(prev_hash, {name: fields.get(name) for name in HASHED_FIELDS})


def body_hash(prev_hash: str, body: dict) -> str:
    """`entry_hash` for a dict that holds exactly the hashed fields (the verifier's fast path)."""
    return hashlib.sha256((prev_hash + _CANONICAL.encode(body)).encode("utf-8")).hexdigest()


def checkpoint_message(fields: dict) -> bytes:
    signed = {name: fields.get(name) for name in CHECKPOINT_SIGNED_FIELDS}
    signed["format"] = CHECKPOINT_FORMAT
    return canonical_json(signed).encode("utf-8")


def hmac_key_id(key: bytes) -> str:
    """A stable name for an HMAC key that reveals nothing usable about it (a domain-separated digest)."""
    return "hmac:" + hashlib.sha256(b"lineage-ledger/audit-key-id\x00" + key).hexdigest()[:16]


def ed25519_key_id(public_key: bytes) -> str:
    return "ed25519:" + hashlib.sha256(public_key).hexdigest()[:16]


def hmac_sign(key: bytes, fields: dict) -> str:
    return hmac.new(key, checkpoint_message(fields), hashlib.sha256).hexdigest()


def hmac_verify(key: bytes, fields: dict, signature: str) -> bool:
    return hmac.compare_digest(hmac_sign(key, fields), str(signature or ""))


def signature_problem(fields: dict, keys: dict, ed25519_verify=None) -> str | None:
    """None when a checkpoint's signature is good; otherwise why not, in words an auditor can act on.

    `keys` maps key_id to (algorithm, key bytes): the HMAC secret, or the Ed25519 public key. The server
    passes a faster Ed25519 check from `cryptography`; offline, the pure-Python one is used.
    """
    found = keys.get(fields.get("key_id"))
    if found is None:
        return f"signed with key {fields.get('key_id')!r}, which is not among the keys given to the verifier"
    algorithm, key = found
    if fields.get("algorithm") != algorithm:
        return f"names algorithm {fields.get('algorithm')!r} but key {fields.get('key_id')} is {algorithm}"
    signature = str(fields.get("signature") or "")
    if algorithm == HMAC_SHA256:
        good = hmac_verify(key, fields, signature)
    else:
        if ed25519_verify is None:
            from governance.audit.ed25519 import verify as ed25519_verify
        try:
            good = ed25519_verify(key, checkpoint_message(fields), bytes.fromhex(signature))
        except ValueError:
            good = False
    return None if good else "signature does not match: the checkpoint was forged or altered"
