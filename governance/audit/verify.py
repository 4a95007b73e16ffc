"""Verifying the audit chain stored in the database (for `manage.py verify_audit` and the API)."""
from __future__ import annotations

import contextlib
import itertools
import json
import queue
import threading

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
    for body, prev_hash, digest in iter_bodies(seq_min=seq_min, seq_max=seq_max, chunk_size=chunk_size):
        body["prev_hash"] = prev_hash
        body["hash"] = digest
        yield body


def iter_bodies(*, seq_min: int | None = None, seq_max: int | None = None, chunk_size: int = 5000):
    """(hashed fields, prev_hash, hash) per entry in seq order: the verifier's input, with no dict to split."""
    if connection.vendor == "postgresql":
        yield from _iter_bodies_postgresql(seq_min, seq_max, chunk_size)
        return
    qs = AuditEntry.objects.order_by("seq")
    if seq_min is not None:
        qs = qs.filter(seq__gte=seq_min)
    if seq_max is not None:
        qs = qs.filter(seq__lte=seq_max)
    for row in qs.values_list(*ENTRY_COLUMNS).iterator(chunk_size=chunk_size):
        body = dict(zip(HASHED, row))
        body["at"] = iso(body["at"])
        yield body, row[12], row[13]


HASHED = ENTRY_COLUMNS[:12]

# The timestamp spelled in SQL exactly as `models.iso` spells it, so no datetime objects are made per row.
_PG_SELECT = """
SELECT seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'), actor_id, actor_username, action,
       object_type, object_id, before::text, after::text, request_id, client_ip, reason, prev_hash, hash
FROM audit_auditentry WHERE seq >= %s AND seq <= %s ORDER BY seq
"""
_cursor_numbers = itertools.count(1)


def _prefetched(cur, chunk_size: int):
    """Rows of a server-side cursor, the next chunk fetched by a helper thread while this one hashes the
    current chunk. Without it the database idles while Python works and the other way round; with it a
    walk takes about as long as the slower of the two (psycopg2 releases the GIL while it waits)."""
    chunks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch():
        try:
            while not stop.is_set():
                rows = cur.fetchmany(chunk_size)
                chunks.put(rows)
                if not rows:
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            chunks.put(exc)

    helper = threading.Thread(target=fetch, name="audit-walk-fetch", daemon=True)
    helper.start()
    try:
        while True:
            rows = chunks.get()
            if isinstance(rows, BaseException):
                raise rows
            if not rows:
                return
            yield from rows
    finally:
        stop.set()
        while helper.is_alive():  # unblock a helper waiting to put, so it sees `stop` and the cursor is free
            try:
                chunks.get(timeout=0.05)
            except queue.Empty:
                pass
        helper.join()


def _iter_bodies_postgresql(seq_min, seq_max, chunk_size):
    """Raw server-side cursor: verifying a million entries is dominated by per-row overhead, and the ORM's
    model converters (datetime and JSON per row) roughly double it. JSON is parsed with raw_decode, which
    skips the whitespace checks json.loads makes (jsonb's text output never has any around it)."""
    decode = json.JSONDecoder().raw_decode
    connection.ensure_connection()
    with transaction.atomic():
        with connection.connection.cursor(name=f"audit_walk_{next(_cursor_numbers)}") as cur:
            cur.itersize = chunk_size
            cur.execute(_PG_SELECT, [seq_min if seq_min is not None else -(2**63), seq_max if seq_max is not None else 2**63 - 1])
            for row in _prefetched(cur, chunk_size):
                yield {
                    "seq": row[0], "at": row[1], "actor_id": row[2], "actor_username": row[3], "action": row[4],
                    "object_type": row[5], "object_id": row[6],
                    "before": None if row[7] is None else decode(row[7])[0],
                    "after": None if row[8] is None else decode(row[8])[0],
                    "request_id": row[9], "client_ip": row[10], "reason": row[11],
                }, row[12], row[13]


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
    with contextlib.closing(iter_bodies(seq_max=tail, chunk_size=chunk_size)) as rows:
        for body, prev_hash, digest in rows:
            if not walk.feed_body(body, prev_hash, digest):
                break
    return walk.finish()
