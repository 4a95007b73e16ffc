"""Personal API tokens remembered for API_TOKEN_CACHE_SECONDS after a request presented them.

Authenticating read the token, its user and the user's roles (a 4-table join) on every request: a tenth of a
single-event ingest's CPU, paid again for every event of a producer that posts one at a time. So the rows
that join returned are kept per token (by the SHA-256 the table is looked up by, never the text) for a short
time, in the process that read them.

What may change in that time is handled, not waited out:
- expiry is checked against the clock on every use of a remembered token (its `expires_at` is kept);
- a revocation, rename, deletion, a user's save or deletion (deactivation, superuser flag), a change of the
  user's roles (group membership, from either side) and a role's rename or deletion forget the affected
  entries at once, and again when the changing transaction commits (a request that read the old rows
  between the change and its commit cannot keep them);
- another server process learns of a change only when its entry runs out: API_TOKEN_CACHE_SECONDS bounds
  how long a revoked token or a removed role can still work there (0 switches the cache off).
Entries hold database values, not model objects: each request builds its own user and token from them, so
nothing one request sets on them is seen by another.
"""
from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db import transaction

_MAX_ENTRIES = 10_000  # tokens of one process; past this the cache starts over rather than grow
_entries: dict[str, tuple[float, int, object]] = {}  # key_hash -> (monotonic deadline, user id, rows)
_lock = threading.Lock()


def lifetime() -> float:
    return float(getattr(settings, "API_TOKEN_CACHE_SECONDS", 0) or 0)


def get(key_hash: str):
    """The rows remembered for this token, or None when there are none or they ran out."""
    entry = _entries.get(key_hash)
    if entry is None:
        return None
    if entry[0] <= time.monotonic():
        _entries.pop(key_hash, None)
        return None
    return entry[2]


def put(key_hash: str, user_id: int, rows) -> None:
    seconds = lifetime()
    if seconds <= 0:
        return
    with _lock:
        if len(_entries) >= _MAX_ENTRIES:
            _entries.clear()
        _entries[key_hash] = (time.monotonic() + seconds, user_id, rows)


def _forget_now(user_ids=None, key_hash: str | None = None) -> None:
    with _lock:
        if user_ids is None and key_hash is None:
            _entries.clear()
            return
        if key_hash is not None:
            _entries.pop(key_hash, None)
        if user_ids:
            wanted = set(user_ids)
            for cached, (_deadline, user_id, _rows) in list(_entries.items()):
                if user_id in wanted:
                    _entries.pop(cached, None)


def forget(*, user_ids=None, key_hash: str | None = None) -> None:
    """Forget the entries of these users (ids) and/or this token; with neither, every entry. At once and
    again on commit of the current transaction (see the module's docstring)."""
    user_ids = None if user_ids is None else list(user_ids)
    _forget_now(user_ids, key_hash)
    if user_ids is None and key_hash is None:
        transaction.on_commit(_forget_now)
    else:
        transaction.on_commit(lambda: _forget_now(user_ids or [], key_hash))
