"""The ingest path every caller shares: the HTTP views, the demo loader and the benchmark's server.

One call stores, in one transaction, the raw event (lineage.RawRecord), the graph facts it implies
(lineage.store), an `IngestedEvent` row and one audit entry summarising the request — so an event is
either fully in the ledger, audited, or not at all. An event already ingested (same canonical JSON
digest) is acknowledged and changes nothing but the audit trail, which records that it was sent again.

Single POSTs that arrive while their server process is writing share the next transaction
(lineage.ingest.group_commit): what a batch saves, for producers that post one event per request. Each
event of such a group still gets its own IngestedEvent row and its own `ingest.event` audit entry, with its
own actor and request id.

A batch is one transaction too (that is what makes it fast); when it loses a race (a concurrent writer
created the same node first, a lock cycle broken by PostgreSQL) it is run again whole from a fresh
read. If the database refuses it otherwise (or keeps losing), the batch is replayed one event per
transaction so that one bad event cannot sink the others — each then carries its own `ingest.event`
audit entry.

Durability without holding the locks through the disk flush (PostgreSQL): the audit chain's lock and the
row locks on the nodes an event touches are held until COMMIT, and a synchronous COMMIT holds them
through the WAL fsync (about 6 ms on this machine's disk) — so concurrent ingests queued behind one
fsync each, whatever the number of workers. The ingest transaction therefore commits with
`synchronous_commit = off` (locks released as soon as the commit record is in the WAL buffers) and only
then, with no lock held, waits for the WAL to reach the disk (`DURABILITY_SQL`, sent after the COMMIT in
the same round trip) before the caller answers. A producer is told "stored" only once the event is
durable, exactly as before; what changes is that concurrent requests share fsyncs (group commit) instead
of queueing for one each. A crash before
the flush loses that transaction and every later one (the WAL is sequential), so the audit chain never
has a hole; the unacknowledged producer retries, and a repeat is a no-op. Inside a caller's transaction
(the tests, a harvest) nothing of this applies: the caller's COMMIT decides.

Round trips (PostgreSQL, outermost transaction): each one inside the transaction is one the row locks are
held through, so a single POST's transaction is four or five: BEGIN, SET LOCAL, the row locks and every
read the mapping needs (nodes, input versions, the duplicate check, raw record ids) in the first
(`_locked_read`); the writes whose ids are needed, or the open edges, in the next; the writes held so far
with the audit chain's lock in the next; the audit entries' INSERT with the COMMIT in the last
(`_unit_of_work`), and in that same round trip, after the COMMIT, the wait for the WAL flush — outside the
transaction, and sent after the group writer's role was handed on.
"""
from __future__ import annotations

import gc
import hashlib
import logging
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import DatabaseError, DataError, IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from common import inputs
from common.audit import context, record, record_many
from lineage import store
from lineage.ingest.events import IngestRejected, ParsedEvent, event_too_large, max_event_bytes, parse_event
from lineage.ingest.group_commit import GroupCommitter
from lineage.ingest.canonical import canonical_bytes
from lineage.ingest.mapping import OL, Mapper
from lineage.ingest.models import IngestedEvent
from lineage.ingest.strict import judge
from lineage.models import RawRecord

log = logging.getLogger(__name__)
RETRIES = 3


@dataclass
class Prepared:
    index: int
    event: ParsedEvent
    digest: str
    strict_errors: list[str]
    duplicate: bool = False
    canonical: str | None = None  # the event's canonical JSON text (its digest's input): stored as its jsonb
    ingested: object | None = None  # the IngestedEvent row written (its id is not read back)
    # A single POST's own poster and audit context: the writer of its group may be another request's thread.
    user: object | None = None
    ctx: context.AuditContext | None = None
    # Set by the group writer: written (or failed), and what failed it.
    done: bool = False
    error: BaseException | None = None


@dataclass
class Stored:
    prepared: list[Prepared]
    counts: dict = field(default_factory=dict)
    # Writes of this transaction not sent yet: the caller passes them to its audit `record` call.
    pending_sql: str = ""

    @property
    def created(self) -> list[Prepared]:
        return [p for p in self.prepared if not p.duplicate]

    @property
    def duplicates(self) -> list[Prepared]:
        return [p for p in self.prepared if p.duplicate]


def prepare(body: object, index: int = 0) -> Prepared:
    """Parse and judge one decoded event. Raises IngestRejected (400/413/422); touches no database."""
    event = parse_event(body)
    digest, text = _checked_digest(body)
    return Prepared(index=index, event=event, digest=digest, strict_errors=judge(body, event.kind), canonical=text)


def _checked_digest(body: dict) -> tuple[str, str]:
    """The canonical digest, once the event's text is known to be storable the same way on every database:
    no lone surrogate (the UTF-8 encoding fails), no NUL (PostgreSQL refuses it, SQLite would keep it), and
    not larger than INGEST_MAX_EVENT_BYTES. The canonical text is built anyway for the digest, so checking
    it costs a substring search; the event is walked only when that finds a suspect."""
    data = canonical_bytes(body)
    if data is None or b"\\u0000" in data:
        bad = inputs.find_bad_text(body)
        if bad is not None:
            path, problem = bad
            raise IngestRejected(422, "nul_character" if "NUL" in problem else "invalid_unicode", f"{path} {problem}")
    if len(data) > max_event_bytes():
        raise event_too_large(len(data))
    return hashlib.sha256(data).hexdigest(), data.decode("utf-8")


def _raw_payload(p: Prepared) -> store.RawPayload:
    e = p.event
    return store.RawPayload(source=OL, kind=f"openlineage.{e.kind}", source_id=e.subject, body=e.body, _digest=p.digest,
                            text=p.canonical)


class _IngestedRow:
    """An IngestedEvent row to insert: the attributes lineage.store.insert reads, without a model instance
    (nothing reads the rows back in the request, and building an instance per event — defaults, foreign
    key descriptors, signals — was a twentieth of a batch's CPU)."""

    __slots__ = tuple(f.attname for f in IngestedEvent._meta.concrete_fields) + ("pk",)


def _ingested_row(p: Prepared, raw, user, ctx, now) -> _IngestedRow:
    e = p.event
    row = _IngestedRow()
    row.id = row.pk = None
    row.raw_id, row.digest, row.event_kind, row.event_type = raw.pk, p.digest, e.kind, e.event_type
    row.event_time_given, row.event_time, row.run_id = e.event_time_given, e.event_time, e.run_id
    row.job_namespace, row.job_name = e.job_namespace, e.job_name
    row.dataset_namespace = e.dataset.namespace if e.dataset else ""
    row.dataset_name = e.dataset.name if e.dataset else ""
    row.producer, row.schema_url = e.producer, e.schema_url
    row.strict_ok, row.strict_errors = not p.strict_errors, p.strict_errors
    row.posted_by_id = user.pk if getattr(user, "pk", None) else None
    row.posted_by_username = getattr(user, "username", "") or ctx.username
    row.request_id, row.received_at = ctx.request_id, now
    return row


class _Transaction:
    """What an ingest transaction's body hands to its end: `held`, SQL the COMMIT carries (the audit
    entries' INSERT, governance.audit.recorder's `held`); None where the transaction ends the usual way
    (SQLite, inside a caller's transaction). `durable`: the COMMIT's round trip waits for the WAL flush
    after it (`DURABILITY_SQL`)."""

    def __init__(self, explicit: bool, durable: bool = False):
        self.held: list[str] | None = [] if explicit else None
        self.durable = durable


@contextmanager
def _unit_of_work():
    """One ingest transaction; on PostgreSQL, when it is the outermost one, committed without holding
    its locks through the WAL flush and made durable right after (see the module docstring), in the same
    round trip as the COMMIT: `DURABILITY_SQL` follows it in that text, so the wait costs no round trip of
    its own, and the group commit's writer role is handed on before that round trip is sent (see
    `_begin_with_first_statement`), so the next group's transaction starts beside this one's flush.

    On PostgreSQL, when it is the outermost one, BEGIN rides with the transaction's first statement and
    COMMIT with its last writes (`_Transaction.held`): psycopg2 would send each in a round trip of its
    own, and every round trip inside the transaction is one the row locks and the audit chain's lock are
    held through (two process wake-ups each; on a busy machine, a wait for the GIL too). SET LOCAL
    synchronous_commit rides with BEGIN: it applies to this transaction only, so the connection's later
    transactions (pooled, CONN_MAX_AGE) commit synchronously as configured.

    Yields the `_Transaction`."""
    explicit = connection.vendor == "postgresql" and not connection.in_atomic_block and connection.get_autocommit()
    deferred = explicit and _can_flush()
    tx = _Transaction(explicit, durable=deferred)
    with transaction.atomic():
        if explicit:
            with _begin_with_first_statement(tx, "BEGIN; SET LOCAL synchronous_commit TO OFF; " if deferred else "BEGIN; "):
                yield tx
        else:
            yield tx


@contextmanager
def _begin_with_first_statement(tx: _Transaction, begin: str):
    """Inside Django's outermost atomic block (which keeps its bookkeeping: nested atomic blocks, error
    marking, on_commit hooks): psycopg2 is put in autocommit mode, so that it sends no BEGIN of its own;
    `begin` is put in front of the first statement the block sends, and COMMIT, with `tx.held` before it,
    ends the block in one round trip — with `DURABILITY_SQL` after the COMMIT when `tx.durable`. On an
    error the transaction is rolled back here (psycopg2's rollback, which Django's atomic calls, does
    nothing in autocommit mode). An error of the COMMIT's round trip (now also one of the wait after it)
    leaves it unknown whether the COMMIT took effect, as a connection lost during a COMMIT always did:
    the producer is answered with an error, and if it sends the event again, that finds it stored and
    answers "duplicate"."""
    raw = connection.connection
    raw.autocommit = True
    begun = False

    def first_statement(execute, sql, params, many, context):
        nonlocal begun
        if not begun:
            begun = True
            if many:  # executemany would repeat a prefix: BEGIN in its own round trip then
                execute(begin.rstrip("; "), None, False, context)
            else:
                sql = begin + sql
        return execute(sql, params, many, context)

    try:
        with connection.execute_wrapper(first_statement):
            yield tx
            if begun:
                # All that is left is this round trip: the process's next group may start beside it.
                _GROUPS.hand_on()
                with connection.cursor() as cur:  # no parameters: the held SQL's '%' are literal
                    cur.execute("".join(f"{sql}; " for sql in tx.held) + "COMMIT"
                                + (f"; {DURABILITY_SQL}" if tx.durable else ""))
            elif tx.held:
                raise RuntimeError("writes were held for a transaction that sent no statement")
    except BaseException:
        if begun and not raw.closed:
            try:
                with raw.cursor() as cur:
                    cur.execute("ROLLBACK")
            except Exception:  # the connection failed: the server ends the transaction itself
                log.debug("ROLLBACK after a failed ingest transaction failed", exc_info=True)
        raise
    finally:
        tx.held = None


_can_flush_by_alias: dict[str, bool] = {}


def _can_flush() -> bool:
    """Whether this database role may call the function `DURABILITY_SQL` uses (PUBLIC may, unless
    an operator revoked it): asked once per process; without it every commit stays synchronous. The
    function has three arguments up to PostgreSQL 16 and a fourth (with a default) from 17: looked up
    by either signature, so that neither raises."""
    if connection.alias not in _can_flush_by_alias:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT coalesce(has_function_privilege(coalesce("
                "to_regprocedure('pg_logical_emit_message(boolean, text, text)'), "
                "to_regprocedure('pg_logical_emit_message(boolean, text, text, boolean)')), 'EXECUTE'), false)")
            _can_flush_by_alias[connection.alias] = bool(cur.fetchone()[0])
    return _can_flush_by_alias[connection.alias]


# Sent after an ingest transaction's COMMIT, in the same round trip (`_begin_with_first_statement`):
# once it returns, the WAL up to that transaction is on disk. PostgreSQL has no function that just
# flushes the WAL (pg_logical_emit_message's `flush` argument is 17+). A synchronous commit of a
# transaction that wrote WAL flushes up to its own commit record, which lies after the ingest's: a
# transactional logical-decoding message is the smallest such write (a few bytes of WAL, no table, no row
# lock, executable by any role). A transaction that wrote no WAL (SELECT txid_current()) would not do: its
# commit skips the flush. After the COMMIT in one query string, it runs in an implicit transaction of its
# own, committed at the end of the string with the connection's synchronous_commit (the ingest's SET LOCAL
# ended with its transaction). Concurrent waiters share one fsync.
DURABILITY_SQL = "SELECT pg_logical_emit_message(true, 'lineage-ledger.ingest', '')"


def _known_digests(digests: list[str], sql_prefix: str = "") -> tuple[set[str], list[int]]:
    """Which of these events are already stored; on PostgreSQL also, in the same query, ids reserved for
    their raw records (one per distinct digest: the raw insert then rides with a later statement instead
    of needing its own round trip for RETURNING). Plain SQL: the ORM's compilation of this filter cost
    more than the query, once per ingested event.

    The stored versions of input datasets are NOT read here, though it would save a round trip: this
    query runs before the dataset rows are locked, and a version read before the lock could miss one a
    concurrent event is committing (the run would then consume an older version, depending on timing).
    Mapper.preload reads them after taking the locks."""
    table = connection.ops.quote_name(IngestedEvent._meta.db_table)
    known: set[str] = set()
    wanted = sorted(set(digests))
    if store.fast_path():
        # One prepared statement, whatever the number of digests (lineage.store's fast path); per digest
        # a probe of the unique index, in a subquery the planner may not merge (OFFSET 0): as
        # `digest = ANY($1)`, the generic plan made on a young table scanned it whole (0.2 ms per event
        # on the benchmark's fresh database, a quarter of that this way).
        rows = store.select_prepared(
            "digests", ["text[]", "integer"],
            f"SELECT x.digest, NULL::bigint FROM unnest($1) AS d(digest) CROSS JOIN LATERAL "
            f"(SELECT digest FROM {table} x WHERE x.digest = d.digest OFFSET 0) x "
            f"UNION ALL SELECT NULL, {store.sequence_next(RawRecord)} FROM generate_series(1, $2)",
            [wanted, len(wanted)], sql_prefix, rows=len(wanted))
        reserved = [pk for digest, pk in rows if digest is None]
        return {digest for digest, _ in rows if digest is not None}, sorted(reserved)
    postgres = connection.vendor == "postgresql"
    reserve = len(wanted) if postgres else 0
    reserved: list[int] = []
    for chunk in store._chunks(wanted):
        params = list(chunk)
        marks = ", ".join(["%s"] * len(chunk))
        if postgres:
            sql = f"{sql_prefix}SELECT digest, NULL::bigint FROM {table} WHERE digest IN ({marks})"
        else:
            sql = f"SELECT digest, NULL FROM {table} WHERE digest IN ({marks})"
        if reserve:
            more, more_params = store.id_reservation(RawRecord, reserve, width=2)
            sql, params, reserve = f"{sql} UNION ALL {more}", params + more_params, 0
        with connection.cursor() as cur:
            cur.execute(sql, params)
            for digest, pk in cur.fetchall():
                if digest is not None:
                    known.add(digest)
                else:
                    reserved.append(pk)
        sql_prefix = ""
    return known, reserved


def _store(prepared: list[Prepared], user, sql_prefix: str = "") -> Stored:
    """Write accepted events; the caller holds the transaction and writes the audit entry in it."""
    ctx = context.current()
    mapper = Mapper([p.event for p in prepared])
    loaded = _locked_read(mapper, [p.digest for p in prepared], sql_prefix)
    if loaded is not None:
        known, raw_ids = loaded
    else:
        known, raw_ids = _known_digests([p.digest for p in prepared], sql_prefix)
    todo: list[Prepared] = []
    for p in prepared:
        if p.digest in known:
            p.duplicate = True
        else:
            known.add(p.digest)
            todo.append(p)
    if not todo:
        return Stored(prepared, store.ApplyResult().as_counts())
    if loaded is None:
        mapper = Mapper([p.event for p in todo])
        mapper.preload(lock=True)  # locks the nodes the events name, then reads their input versions
    else:
        mapper.events = [p.event for p in todo]
    facts: list = []
    payloads = []
    for p in todo:
        payload = _raw_payload(p)
        payloads.append(payload)
        facts.append(payload)
        facts.extend(mapper.facts(p.event, payload))
    rows: list[_IngestedRow] = []

    def log_rows(raw: dict) -> tuple:
        now = timezone.now()
        rows.extend(_ingested_row(p, raw[(pl.source, pl.kind, pl.source_id, pl.digest)],
                                  user if p.ctx is None else p.user, p.ctx or ctx, now)
                    for p, pl in zip(todo, payloads))
        return IngestedEvent, rows

    # The digests were just checked against IngestedEvent, written in the same transaction as RawRecord.
    # The last writes ride with the audit entry's lock (the caller records it next, in this transaction).
    result = store.apply(facts, nodes=mapper.nodes, assume_new_raw=True, also_insert=log_rows, hold_writes=True,
                         reserved_raw_ids=raw_ids)
    for p, row in zip(todo, rows):
        p.ingested = row
    return Stored(prepared, result.as_counts(), result.pending_sql)


# Most events whose reads `_locked_read` puts in one statement: a group of single POSTs (a batch reads the
# way it did, in chunks).
LOCKED_READ_MAX_EVENTS = 64


def _locked_read(mapper: Mapper, digests: list[str], sql_prefix: str = "") -> tuple[set[str], list[int]] | None:
    """PostgreSQL, a few events: in one round trip, the row locks on the nodes the events name, then — in
    one statement, whose snapshot is taken once the locks are granted — those nodes, their input datasets'
    versions (Mapper.preload_sql), which digests are stored already and ids reserved for the raw records
    (as _known_digests). Three round trips were one each, all but the first with the locks held.

    The digests are checked after the locks here, not before: a repeat committed meanwhile by a writer
    this transaction waited for is seen (before, the raw record's unique index refused it, and the group
    was written again). The nodes of an event that turns out to be a repeat are locked for nothing.
    None: not PostgreSQL, or too many events or nodes for one statement; the caller reads as before."""
    if connection.vendor != "postgresql" or len(digests) > LOCKED_READ_MAX_EVENTS:
        return None
    from lineage.ingest.mapping import row_sql

    table = connection.ops.quote_name(IngestedEvent._meta.db_table)
    wanted = sorted(set(digests))
    if store.fast_path():
        rows = _locked_read_prepared(mapper, wanted, table, sql_prefix)
        if rows is None:
            return None
        return _take_locked_read(mapper, rows)
    marks = ", ".join(["%s"] * len(wanted))
    known_sql = row_sql(-1, {"source_id": "digest"}, f"{table} WHERE digest IN ({marks})")
    reserve_sql = row_sql(-2, {"id": "nextval(pg_get_serial_sequence(%s, %s))"}, "generate_series(1, %s)")
    built = mapper.preload_sql(also=[(known_sql, wanted),
                                     (reserve_sql, [RawRecord._meta.db_table, RawRecord._meta.pk.column, len(wanted)])])
    if built is None:
        return None
    sql, params = built
    with connection.cursor() as cur:
        cur.execute(sql_prefix.replace("%", "%%") + sql, params)
        rows = cur.fetchall()
    return _take_locked_read(mapper, rows)


def _locked_read_prepared(mapper: Mapper, wanted: list[str], table: str, sql_prefix: str) -> list | None:
    """`_locked_read` through two prepared statements of one text whatever the number of events, nodes
    and datasets (lineage.store's prepared-statement machinery; Mapper.preload_arrays): the literal SQL
    of `preload_sql` differed per event, so PostgreSQL parsed, analysed and planned it on every POST
    (0.4–1.1 ms with the row locks held). The digests are probed one by one through the unique index
    (OFFSET 0 keeps the planner from merging the subquery), as `_known_digests` does."""
    arrays = mapper.preload_arrays()
    if arrays is None:
        return None
    key_arrays, version_arrays = arrays
    lock_body, read_body = _LOCKED_READ_TEXTS.get(table) or _locked_read_texts(table)
    return store.select_prepared_after(
        [("locked_nodes", ["text[]"] * 3, lock_body, key_arrays)],
        "locked_read", ["text[]"] * 3 + ["text[]", "text[]", "text", "text", "timestamptz", "text[]", "integer"],
        read_body, key_arrays + version_arrays + [wanted, len(wanted)], sql_prefix)


_LOCKED_READ_TEXTS: dict[str, tuple[str, str]] = {}


def _locked_read_texts(table: str) -> tuple[str, str]:
    """The two statement texts of `_locked_read_prepared`, built once per process (they name only tables)."""
    from lineage.ingest.mapping import preload_statements, row_sql

    also = [row_sql(-1, {"source_id": "x.digest"},
                    f"unnest($9::text[]) AS w(digest) CROSS JOIN LATERAL "
                    f"(SELECT digest FROM {table} x WHERE x.digest = w.digest OFFSET 0) x"),
            row_sql(-2, {"id": store.sequence_next(RawRecord)}, "generate_series(1, $10::integer)")]
    texts = _LOCKED_READ_TEXTS[table] = preload_statements(also)
    return texts


def _take_locked_read(mapper: Mapper, rows: list) -> tuple[set[str], list[int]]:
    from lineage.ingest.mapping import _ID, _SOURCE_ID

    known: set[str] = set()
    reserved: list[int] = []
    for row in mapper.take_preload(rows):
        if row[0] == -1:
            known.add(row[1 + _SOURCE_ID])
        else:
            reserved.append(row[1 + _ID])
    return known, reserved


def _event_summary(p: Prepared, counts: dict) -> dict:
    e = p.event
    return {
        "kind": e.kind, "eventType": e.event_type, "eventTime": e.event_time_given, "runId": e.run_id,
        "job": e.job_key if e.job_name else "", "dataset": e.dataset.key if e.dataset else "",
        "duplicate": p.duplicate, "strict_ok": not p.strict_errors, **counts,
    }


def ingest_event(body: object, user=None) -> Prepared:
    """Ingest one decoded event. Raises IngestRejected for a bad event (nothing is stored).

    Outside a transaction the event joins its process's next group (lineage.ingest.group_commit; alone,
    it is a group of one, written at once); inside the caller's transaction (a test, a harvest) it is
    written there, alone, and the caller's COMMIT decides."""
    p = prepare(body)
    p.user, p.ctx = user, context.current()
    if connection.in_atomic_block:
        _write_singles([p])
    else:
        _GROUPS.submit(p)
    if p.error is not None:
        raise p.error
    return p


def _write_group(group: list[Prepared]) -> None:
    """GroupCommitter's `write`: the group's transaction(s), committed and durable; the writer role is
    handed on before the round trip that carries the COMMIT and the wait for the WAL flush
    (`_begin_with_first_statement`), so nothing is left to do once the role is gone."""
    _write_singles(group)


def _write_singles(group: list[Prepared]) -> None:
    """Write single POSTs' events in one transaction, each with its own audit entry; the outcome of each is
    left on it (`error`: IngestRejected for an event the database refuses). A group the database refuses
    whole, or that keeps losing races, is written again one event per transaction, so that one bad event
    cannot sink the others."""
    for attempt in range(RETRIES):
        try:
            with _unit_of_work() as tx:
                stored = _store(group, None)
                _record_singles(group, stored, tx.held)
            return
        except Exception as exc:
            if isinstance(exc, (IntegrityError, OperationalError)) and _retriable(exc) and attempt < RETRIES - 1:
                # A concurrent request created one of the same nodes (or the same event) first, or the
                # database broke a lock cycle between the two: start again and re-read what is there now.
                _reset(group)
                continue
            if len(group) > 1:
                break  # whatever it was, it may be one event's: each event alone, below
            if _unstorable(exc):
                log.warning("the database refused an event", exc_info=exc)
                group[0].error = IngestRejected(
                    422, "unstorable_event", "the database refused a value of this event (a text or number it cannot hold)")
                return
            raise
    _reset(group)
    for p in group:
        try:
            _write_singles([p])
        except Exception as exc:
            p.error = exc


def _unstorable(exc: Exception) -> bool:
    """A value of the event the database cannot hold: PostgreSQL refuses "\\u0000" inside JSON text
    (DataError), and psycopg2 a NUL character in a text parameter (ValueError, before sending anything)."""
    return isinstance(exc, DataError) or (isinstance(exc, ValueError) and "NUL" in str(exc))


def _reset(group: list[Prepared]) -> None:
    for p in group:
        p.duplicate, p.ingested = False, None


def _record_singles(group: list[Prepared], stored: Stored, held: list | None = None) -> None:
    """One `ingest.event` entry per event, as its own poster; the counts of facts written are per
    transaction, so a group's entries carry the group's (under "group"), not counts of their own.
    `held`: see _Transaction (the entries' INSERT rides with the COMMIT)."""
    if len(group) == 1:
        p = group[0]
        record("ingest.event", f"openlineage.{p.event.kind}", p.event.subject, after=_event_summary(p, stored.counts),
               ctx=p.ctx, sql_prefix=stored.pending_sql, held=held)
        return
    group_facts = {"events": len(group), **stored.counts}
    record_many([{"action": "ingest.event", "object_type": f"openlineage.{p.event.kind}", "object_id": p.event.subject,
                  "after": {**_event_summary(p, {}), "group": group_facts}, "ctx": p.ctx} for p in group],
                ctx=_GROUP_WRITER, sql_prefix=stored.pending_sql, held=held)


# The actor of what a group's write adds besides its events' own entries (a periodic checkpoint): not
# whichever poster's thread happened to write the group.
_GROUP_WRITER = context.AuditContext(username="ingest", service="ingest", request_id="ingest-group-commit")


_GROUPS = GroupCommitter(_write_group)


# PostgreSQL: unique_violation, deadlock_detected, serialization_failure
_RETRIABLE_PGCODES = {"23505", "40P01", "40001"}


def _retriable(exc: Exception) -> bool:
    code = getattr(exc.__cause__, "pgcode", None)
    if code is not None:
        return code in _RETRIABLE_PGCODES
    # SQLite: a UNIQUE constraint raced us, or another writer committed after our transaction's first read
    return isinstance(exc, IntegrityError) or "database is locked" in str(exc)


@contextmanager
def _cyclic_gc_paused():
    """A batch allocates a few dozen objects per event (parsed events, facts, model instances) that live
    until it ends, and Python's generational collector kept re-scanning them as they piled up: a tenth
    of a batch's CPU in the service, more behind the full HTTP stack. Reference counting frees what the
    batch drops as usual; the collector resumes when the batch is done and collects any cycle then."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def ingest_batch(items: object, user=None) -> dict:
    """Ingest a JSON array of events; answer in the shape of OpenLineage.yml's `/lineage/batch`."""
    with _cyclic_gc_paused():
        return _ingest_batch(items, user)


def _ingest_batch(items: object, user=None) -> dict:
    from lineage.ingest.events import split_batch

    items = split_batch(items)
    prepared, failed = [], []
    for index, item in enumerate(items):
        try:
            prepared.append(prepare(item, index))
        except IngestRejected as exc:
            failed.append({"index": index, "reason": f"{exc.code}: {exc.detail}", "retriable": False})
    stored_ok: list[Prepared] = []
    if prepared:
        try:
            _store_batch(prepared, user, len(items), failed)
            stored_ok = prepared
        except (DatabaseError, ValueError) as exc:
            if isinstance(exc, ValueError) and not _unstorable(exc):
                raise
            log.warning("batch of %d events refused as a whole; replaying one event per transaction", len(prepared), exc_info=True)
            for p in prepared:
                try:
                    ingest_event(p.event.body, user)
                    stored_ok.append(p)
                except IngestRejected as exc:
                    failed.append({"index": p.index, "reason": f"{exc.code}: {exc.detail}", "retriable": False})
                except DatabaseError as exc:
                    # Lock conflicts and races may pass on a retry; a value the database refuses will not.
                    retriable = isinstance(exc, (OperationalError, IntegrityError))
                    log.warning("event %d of a batch could not be stored", p.index, exc_info=exc)
                    failed.append({"index": p.index, "reason": "server_error: the event could not be stored"
                                   + ("; send it again" if retriable else ""), "retriable": retriable})
    failed.sort(key=lambda f: f["index"])
    retriable = sum(1 for f in failed if f["retriable"])
    return {
        "status": "success" if not failed else "partial_success",
        "summary": {
            "received": len(items),
            "successful": len(stored_ok),
            "failed": len(failed),
            "retriable": retriable,
            "non_retriable": len(failed) - retriable,
            "duplicates": sum(1 for p in stored_ok if p.duplicate),
        },
        "failed_events": failed,
    }


def _store_batch(prepared: list[Prepared], user, received: int, failed: list) -> None:
    """The batch in one transaction, started again from a fresh read when it lost a race (a concurrent
    batch created one of its nodes or edges first, or PostgreSQL broke a lock cycle): concurrent
    producers posting batches about the same datasets do that routinely, and replaying such a batch one
    event per transaction would cost a transaction per event. Anything else, or a race lost RETRIES
    times, is raised for the per-event replay."""
    for attempt in range(RETRIES):
        try:
            with _unit_of_work() as tx:
                stored = _store(prepared, user)
                record("ingest.batch", "openlineage.batch", context.current().request_id,
                       after=_batch_summary(received, stored, failed), sql_prefix=stored.pending_sql, held=tx.held)
            return
        except (IntegrityError, OperationalError) as exc:
            if not _retriable(exc) or attempt == RETRIES - 1:
                raise
            log.info("batch of %d events lost a race (%s); retrying it whole", len(prepared), exc.__class__.__name__)
            for p in prepared:
                p.duplicate, p.ingested = False, None


def _batch_summary(received: int, stored: Stored, failed: list) -> dict:
    kinds = Counter(p.event.kind for p in stored.created)
    runs = [p.event.run_id for p in stored.created if p.event.run_id]
    return {
        "received": received, "stored": len(stored.created), "duplicates": len(stored.duplicates),
        "rejected": len(failed), "rejected_indexes": [f["index"] for f in failed][:100],
        "kinds": dict(kinds), "run_ids": sorted(set(runs))[:100], "run_count": len(set(runs)),
        "strict_failures": sum(1 for p in stored.created if p.strict_errors), **stored.counts,
    }
