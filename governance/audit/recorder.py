"""Appending to the audit chain, and signing checkpoints of it.

The chain must stay one line under concurrent writers, so appends are serialized: on PostgreSQL with a
transaction-scoped advisory lock (held until the caller's transaction commits, so the next writer reads
the committed tail); on SQLite by taking the database's single write lock up front with an empty write
before reading the tail (BEGIN IMMEDIATE semantics inside Django's deferred transactions).

Either lock is held until the caller's transaction ends, so other audited writers wait for it: record as
late in a transaction as the logic allows, and use `record_many` for batches (one lock, one INSERT).
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from django.conf import settings
from django.db import connection, transaction
from django.db.models.base import ModelState

from common.jsonsafe import json_safe_text
from common.audit import context
from governance.audit import chain, signing
from governance.audit.models import AuditCheckpoint, AuditEntry, entry_fields, iso

# Arbitrary constant identifying the audit chain's advisory lock.
ADVISORY_LOCK_KEY = 0x4C4C_4155  # "LLAU"


class EmptyChain(Exception):
    """A checkpoint was asked for before anything was recorded."""


def _checked_json(spec: dict) -> tuple:
    """Serialise before/after up front (raises ValueError for NaN and the like), and keep the result in
    the spec so that the append, under the chain lock, does not do it twice."""
    spec["_json"] = (json_safe_text(spec.get("before")), json_safe_text(spec.get("after")))
    return spec["_json"]


_TAIL_SQL = "SELECT seq, hash FROM audit_auditentry ORDER BY seq DESC LIMIT 1"


def _lock_and_tail(sql_prefix: str = "") -> tuple[int, str]:
    """Take the chain lock, then read the tail (seq and hash of the last entry) as it is after the lock.

    `sql_prefix` (PostgreSQL only): the caller's own pending writes of this transaction, sent in the same
    round trip ahead of the lock (complete statements, no parameters)."""
    if _prepared():
        # As below, both statements prepared (lineage.store's machinery): parsed and planned once per
        # connection instead of at every audited write.
        from lineage import store

        rows = store.select_prepared_after([("audit_lock", ["bigint"], "SELECT pg_advisory_xact_lock($1)",
                                             [ADVISORY_LOCK_KEY])], "audit_tail", [], _TAIL_SQL, [], sql_prefix)
        return (rows[0][0], rows[0][1]) if rows else (0, chain.GENESIS)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # One round trip for both: in READ COMMITTED the second statement takes its own snapshot, after
            # the lock is granted, so it sees the entries of whoever held the lock before.
            cur.execute(f"{sql_prefix}SELECT pg_advisory_xact_lock({int(ADVISORY_LOCK_KEY)}); {_TAIL_SQL}")
        else:
            if sql_prefix:
                raise ValueError("sql_prefix is for PostgreSQL, which runs several statements per execute")
            if connection.vendor == "sqlite":
                # Matches no row (so the append-only trigger does not fire) but makes this transaction the
                # writer now, before the tail is read, instead of failing to upgrade a stale read later.
                cur.execute("DELETE FROM audit_auditentry WHERE seq < 0")
            cur.execute(_TAIL_SQL)
        row = cur.fetchone()
    return (row[0], row[1]) if row else (0, chain.GENESIS)


def _actor_name(ctx: context.AuditContext) -> str:
    if ctx.service and not ctx.user_id:
        return ctx.service
    return ctx.username


_COLUMNS = (*chain.HASHED_FIELDS, "prev_hash", "hash")
# The columns' types in the prepared INSERT (PostgreSQL, see _insert): one array per column.
_TYPES = {"seq": "bigint", "at": "timestamptz", "actor_id": "bigint", "before": "jsonb", "after": "jsonb"}


def _prepared() -> bool:
    """Whether the chain's statements go through lineage.store's prepared statements: on its PostgreSQL
    fast path (lineage.store.FAST_PATH, which tests/ingest/test_ingest_write_paths.py turns off to compare
    the stored rows of both paths)."""
    if connection.vendor != "postgresql":
        return False
    from lineage import store

    return store.fast_path()


def _insert_sql(rows: list[tuple]) -> str:
    """The entries' INSERT as SQL text without parameters: an EXECUTE of one prepared statement (its
    PREPARE ahead of it where this connection has none) with the rows as one array per column. The
    statement names it prepares count as prepared once the transaction commits (the caller sends the
    text before its COMMIT)."""
    from lineage import store

    types = [_TYPES.get(c, "text") + "[]" for c in _COLUMNS]
    body = (f"INSERT INTO audit_auditentry ({', '.join(_COLUMNS)}) "
            f"SELECT * FROM unnest({', '.join(f'${i + 1}' for i in range(len(_COLUMNS)))})")
    pending: list = []
    sql = store._call(store._select_statement("ins_audit", types, body), pending, rows=len(rows))
    with connection.connection.cursor() as cur:  # psycopg2's own: only its mogrify is needed here
        text = cur.mogrify(sql, [list(column) for column in zip(*rows)]).decode()
    if pending:
        state = store._statements()
        if len(connection.atomic_blocks) > 1:  # not committed by the recorder's own atomic, before it runs
            transaction.on_commit(lambda: state.confirm(pending))
    return text


def _build(seq: int, prev_hash: str, at: dt.datetime, ctx: context.AuditContext, spec: dict) -> tuple[AuditEntry, tuple]:
    """The entry, and the same as a row of column values for a raw INSERT (JSON as canonical text)."""
    (before, before_text), (after, after_text) = spec.get("_json") or _checked_json(spec)
    object_id = spec.get("object_id")
    fields = entry_fields(
        seq, at, ctx.user_id, _actor_name(ctx), str(spec["action"]), str(spec["object_type"]),
        "" if object_id is None else str(object_id), before, after, ctx.request_id or "", ctx.client_ip or None,
        spec.get("reason") or "",
    )
    digest = chain.entry_hash(prev_hash, fields)
    row = (
        seq, at, fields["actor_id"], fields["actor_username"], fields["action"], fields["object_type"],
        fields["object_id"], before_text, after_text, fields["request_id"], fields["client_ip"], fields["reason"],
        prev_hash, digest,
    )
    return _entry({**fields, "at": at, "prev_hash": prev_hash, "hash": digest}), row


_ENTRY_FIELDS = [(f.attname, f.get_default) for f in AuditEntry._meta.concrete_fields]


def _entry(values: dict) -> AuditEntry:
    """An unsaved AuditEntry, as AuditEntry(**values) makes it (defaults for what is not given: the id),
    without Model.__init__'s generic keyword handling (a fifth of an entry's cost in the recorder);
    AuditEntry has no relations and no pre_init/post_init receivers, which is all __init__ would add."""
    obj = AuditEntry.__new__(AuditEntry)
    data = obj.__dict__
    for attname, default in _ENTRY_FIELDS:
        data[attname] = values[attname] if attname in values else default()
    obj._state = ModelState()
    return obj


def _insert(entries: list[AuditEntry], rows: list[tuple], held: list | None = None) -> None:
    """On PostgreSQL one multi-row INSERT built by psycopg2 (the ORM's per-value preparation costs more
    than the insert itself in a batch); elsewhere bulk_create.

    `held` (PostgreSQL): the INSERT is appended there as SQL text instead of being sent, and the entries
    get no id: the caller sends it with its COMMIT, in the round trip that ends the transaction, so the
    chain lock is released one round trip after it was taken instead of two."""
    if connection.vendor != "postgresql":
        AuditEntry.objects.bulk_create(entries, batch_size=500)
        return
    if held is not None and _prepared():
        held.append(_insert_sql(rows))
        return
    if held is not None:
        with connection.cursor() as cur:
            mogrify = cur.cursor.mogrify
            marks = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
            values = b", ".join(mogrify(marks, row) for row in rows).decode()
        held.append(f"INSERT INTO audit_auditentry ({', '.join(_COLUMNS)}) VALUES {values}")
        return
    from psycopg2.extras import execute_values

    with connection.cursor() as cur:
        ids = execute_values(
            cur.cursor, f"INSERT INTO audit_auditentry ({', '.join(_COLUMNS)}) VALUES %s RETURNING id", rows,
            page_size=1000, fetch=True,
        )
    for entry, (pk,) in zip(entries, ids):
        entry.pk = pk
        entry._state.adding = False
        entry._state.db = connection.alias


def _append(specs: list[dict], ctx: context.AuditContext, tail: tuple[int, str], *, periodic_checkpoint: bool = True,
            held: list | None = None) -> list[AuditEntry]:
    """Must run inside an atomic block that holds the chain lock; `tail` is the chain's (seq, hash) now.
    `held`: see _insert; ignored when a periodic checkpoint follows (its writes come after the entries')."""
    start, prev_hash = tail
    seq = start
    at = dt.datetime.now(dt.timezone.utc)
    entries, rows = [], []
    for spec in specs:
        seq += 1
        entry, row = _build(seq, prev_hash, at, spec.get("ctx") or ctx, spec)
        entries.append(entry)
        rows.append(row)
        prev_hash = entry.hash
    every = int(settings.AUDIT_CHECKPOINT_EVERY or 0)
    checkpoint_due = periodic_checkpoint and every > 0 and start // every != seq // every
    _insert(entries, rows, None if checkpoint_due else held)
    if checkpoint_due:
        _checkpoint(seq, prev_hash, ctx, trigger="periodic")
    return entries


def _atomic():
    """A transaction when the caller has none; inside the caller's, no savepoint (two round trips saved
    per audited write). Bad input is refused before this is entered, so what can still fail in here is
    the database itself, and that dooms the caller's whole transaction instead of being rolled back on
    its own — the write an entry describes must not commit without it anyway."""
    return transaction.atomic(savepoint=False)


def record(
    action: str,
    object_type: str,
    object_id="",
    *,
    before=None,
    after=None,
    reason: str = "",
    ctx: context.AuditContext | None = None,
    sql_prefix: str = "",
    held: list | None = None,
) -> AuditEntry:
    """Append one entry to the chain inside the caller's transaction (or a new one).

    Called inside the same transaction as the write it describes, so that either both land or neither.
    `sql_prefix`: that write's last statements, when the caller held them back to save a round trip
    (lineage.store.apply(hold_writes=True)); they run before the chain lock is taken, as if sent just
    before this call. `held` (PostgreSQL): a list the entry's INSERT is appended to as SQL instead of being
    sent (the entry then has no id); the caller must send it in this transaction, before anything else
    the transaction writes to the chain — the ingest sends it with its COMMIT.
    """
    spec = {"action": action, "object_type": object_type, "object_id": object_id, "before": before, "after": after, "reason": reason}
    _checked_json(spec)  # bad input is refused before the transaction is touched
    with _atomic():
        return _append([spec], ctx or context.current(), _lock_and_tail(sql_prefix), held=held)[0]


def record_many(items: Iterable[dict], *, ctx: context.AuditContext | None = None,
                sql_prefix: str = "", held: list | None = None) -> list[AuditEntry]:
    """Append many entries under one lock and one INSERT: for batch writers such as ingest.

    Each item is a dict with the keyword arguments of `record` (action, object_type, object_id, before,
    after, reason, and `ctx` for an entry with an actor and request id of its own: the single POSTs
    written together by the ingest's group commit); the others share `ctx` (default: the current one).
    All share the timestamp. `sql_prefix`, `held`: as for `record`.
    """
    specs = [dict(item) for item in items]
    for spec in specs:
        if not spec.get("action") or not spec.get("object_type"):
            raise ValueError("every audit entry needs an action and an object_type")
        _checked_json(spec)
    if not specs:
        return []
    with _atomic():
        return _append(specs, ctx or context.current(), _lock_and_tail(sql_prefix), held=held)


def _checkpoint(seq: int, entry_hash: str, ctx: context.AuditContext, *, trigger: str, reason: str = "") -> AuditCheckpoint:
    signer = signing.current_signer()
    created_at = dt.datetime.now(dt.timezone.utc)
    fields = {"seq": seq, "entry_hash": entry_hash, "created_at": iso(created_at), "key_id": signer.key_id, "algorithm": signer.algorithm}
    checkpoint = AuditCheckpoint.objects.create(
        seq=seq, entry_hash=entry_hash, created_at=created_at, key_id=signer.key_id, algorithm=signer.algorithm,
        signature=signer.sign(fields),
    )
    announcement = {
        "action": chain.CHECKPOINT_ACTION,
        "object_type": "audit_checkpoint",
        "object_id": seq,
        "after": {**checkpoint.signed_fields(), "trigger": trigger},
        "reason": reason,
    }
    _append([announcement], ctx, (seq, entry_hash), periodic_checkpoint=False)
    return checkpoint


def checkpoint(*, reason: str = "", ctx: context.AuditContext | None = None) -> AuditCheckpoint:
    """Sign the current tail of the chain now (on demand: before an export, an archive, a hand-over)."""
    with transaction.atomic():
        seq, entry_hash = _lock_and_tail()
        if seq == 0:
            raise EmptyChain("the audit trail is empty: there is nothing to checkpoint yet")
        return _checkpoint(seq, entry_hash, ctx or context.current(), trigger="on_demand", reason=reason)
