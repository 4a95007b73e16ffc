"""Canonical form and hashing of audit entries; shared by the recorder, the verifier and the offline script.

The canonical JSON must stay byte-for-byte stable forever, or old chains stop verifying: sorted keys,
no whitespace, UTF-8, and timestamps as ISO-8601 strings in UTC with microseconds.
"""
from __future__ import annotations

import hashlib
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


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, fields: dict) -> str:
    body = canonical_json({name: fields.get(name) for name in HASHED_FIELDS})
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()
