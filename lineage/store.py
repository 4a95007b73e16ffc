"""The one write path into the lineage store. Knows nothing of Kubeflow, Viya or OpenLineage.

Mappers turn source records into `NodeFact` / `EdgeFact` values and hand them to `apply`. The store
dedupes raw payloads, creates nodes or refreshes them (appending a revision when properties change),
opens edges or refreshes open ones, and closes edges that stopped holding. Applying the same facts twice
changes nothing but `last_seen`.

`apply` works set-at-a-time, not fact-at-a-time: whatever the number of facts, it reads raw records,
nodes and open edges with one query each (chunked for very large calls) and writes them with bulk
inserts and bulk updates. The OpenLineage ingest depends on that for its throughput; the facts are still
applied with the same meaning as if they were applied one by one in the order given (node facts first,
then edges and closes in their order).

Order-independence rules the store keeps so that sources replaying or reordering records end in the
same state: `first_seen`/`valid_from` only move earlier and `last_seen` only later; a node's `raw` points
at the payload of its latest observation (it moves only when `seen_at` is not older than `last_seen`);
an edge's `raw` points at the payload that established its earliest `valid_from`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import json
import operator
import re
import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

import orjson
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, models, transaction
from django.db.models.base import ModelState
from django.utils import timezone

from lineage import job_io
from lineage.models import Edge, Node, NodeRevision, RawRecord

# Ids per IN (...) list: well under SQLite's 32766-variable limit (3.32+) and cheap for PostgreSQL.
CHUNK = 2000

# PostgreSQL's fast path: prepared array-parameter statements, COPY for batches, writes held and sent with
# the next round trip (see _Writes, _Statement). False gives the portable path SQLite takes (one literal
# statement per execute), which tests/ingest/test_ingest_write_paths.py compares it with.
FAST_PATH = True
# Whether the fast path's statements are prepared (EXECUTE) or sent as plain text with array literals
# (the same statements, parsed, analysed and planned at each execute). Measured in-process on populated,
# analysed tables, CPU per single event (this process / PostgreSQL): prepared 2.13–2.49 / 2.37–2.58 ms,
# plain array statements 2.51–2.64 / 3.10–3.18, the portable path's literal VALUES 3.07–3.22 /
# 3.10–3.32; per batched event (250 per batch, COPY from COPY_MIN_ROWS rows either way) prepared
# 0.38 / 0.32, plain 0.37 / 0.31, portable 0.55 / 0.43 — the same within noise, as a batch's few
# statements carry hundreds of rows each. Prepared, then.
PREPARE_STATEMENTS = True


def fast_path() -> bool:
    return FAST_PATH and connection.vendor == "postgresql"


class NodeKey(NamedTuple):
    """A node's identity. A named tuple rather than a frozen dataclass: the store and the mappers hash and
    compare keys dozens of times per event (dict lookups), and the dataclass's generated __hash__ and
    __eq__ ran as Python code each time (a seventh of a batch's store CPU); a tuple's run in C."""

    source: str
    kind: str
    source_id: str


@dataclass
class RawPayload:
    source: str
    kind: str
    source_id: str
    body: object
    # Filled in by the store on first use; callers never set it (the digest of `body`).
    _digest: str | None = field(default=None, repr=False, compare=False)
    # The canonical JSON text of `body` when the caller has it (the ingest made it for the digest): the
    # PostgreSQL fast path sends it as the jsonb instead of encoding `body` again (jsonb keeps neither key
    # order nor spacing, so it is the value json.dumps(body) gives).
    text: str | None = field(default=None, repr=False, compare=False)

    @property
    def digest(self) -> str:
        if self._digest is None:
            self._digest = canonical_digest(self.body)
        return self._digest


@dataclass
class NodeFact:
    key: NodeKey
    name: str
    namespace: str = ""
    display_name: str = ""
    properties: dict = field(default_factory=dict)
    seen_at: dt.datetime | None = None
    raw: RawPayload | None = None
    # When False, an existing node's properties are merged with these rather than replaced.
    replace_properties: bool = False
    # When True, a fact older than the node's last observation (`seen_at` < `last_seen`) only adds the
    # properties the node lacks: for sources whose `seen_at` is the object's own update time and that may be
    # read out of order (Kubeflow harvest partitions reading one ML Metadata object either side of a change).
    # Mappers that merge by event time themselves (OpenLineage) leave it off.
    older_never_overwrites: bool = False
    # The same rule for a node that other sources describe too, each on its own clock (the node's
    # `last_seen` mixes them): the name of a property of this fact holding its own observation time
    # (ISO 8601); the fact is older when that time is before the value the node holds under that name.
    newer_by: str = ""


@dataclass
class EdgeFact:
    kind: str
    src: NodeKey
    dst: NodeKey
    source: str
    valid_from: dt.datetime | None = None
    properties: dict = field(default_factory=dict)
    raw: RawPayload | None = None


@dataclass
class EdgeClose:
    kind: str
    src: NodeKey
    dst: NodeKey
    at: dt.datetime | None = None


@dataclass
class ApplyResult:
    raw_created: int = 0
    nodes_created: int = 0
    nodes_updated: int = 0
    edges_created: int = 0
    edges_closed: int = 0
    # (source, kind, source_id, digest) -> the raw record's row (`.pk`, `.source` … as a RawRecord reads,
    # without its body when it was stored before the call): what `also_insert` is given too.
    raw: dict = field(default_factory=dict)
    pending_sql: str = ""  # apply(hold_writes=True): writes the caller sends ahead of its next statement
    _node_rows: dict = field(default_factory=dict, repr=False, compare=False)
    _nodes: dict | None = field(default=None, repr=False, compare=False)

    @property
    def nodes(self) -> dict:
        """NodeKey -> Node, as saved by the call. Made from the call's rows on first use (the ingest never
        asks); a Node the caller passed in (`apply(nodes=...)`) is that instance, brought up to date."""
        if self._nodes is None:
            self._nodes = {key: row.as_model() for key, row in self._node_rows.items()}
        return self._nodes

    def as_counts(self) -> dict:
        return {
            "raw_created": self.raw_created,
            "nodes_created": self.nodes_created,
            "nodes_updated": self.nodes_updated,
            "edges_created": self.edges_created,
            "edges_closed": self.edges_closed,
        }

    def add(self, other: "ApplyResult") -> None:
        for name in ("raw_created", "nodes_created", "nodes_updated", "edges_created", "edges_closed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


class _Row:
    """A row of a lineage table as `apply` holds it: the model's attribute names (`id`, `src_id`,
    `raw_id` …) in a plain object, no Model.__init__, descriptors or ModelState. `apply` reads and
    changes a few attributes of each row several times per fact, and writes them out as columns
    (operator.attrgetter); model instances cost more to make (ModelState, defaults), to read (`pk` is a
    property over a field lookup) and to set (a foreign key through its descriptor): measured with
    bench.store_apply against main, store.apply's CPU per single event 0.47 ms with rows, 0.50 with
    instances.

    A row made from a model instance the caller passed keeps it (`_model`): a field that instance had
    deferred is read through it when first asked for (Django's deferred loading), and `as_model`
    hands back that instance with the row's values."""

    model = None

    @property
    def pk(self):
        return self.id

    @pk.setter
    def pk(self, value):
        self.id = value

    def __getattr__(self, name):  # only for an attribute the row lacks
        model = self.__dict__.get("_model")
        if model is None or name.startswith("_"):
            raise AttributeError(name)
        value = getattr(model, name)
        self.__dict__[name] = value
        return value

    @classmethod
    def of(cls, instance) -> "_Row":
        """The row of a model instance (the values it holds; deferred fields on demand, see above)."""
        if isinstance(instance, _Row):
            return instance
        row = cls.__new__(cls)
        data = row.__dict__
        data.update(instance.__dict__)
        data.pop("_state", None)
        data["_model"] = instance
        return row

    def as_model(self):
        """A saved instance of the row's model with the row's values."""
        data = self.__dict__
        instance = data.get("_model")
        attnames = _ATTNAMES[self.model]
        values = {name: data[name] for name in attnames if name in data}
        if instance is not None:
            instance.__dict__.update(values)
            return instance
        instance = self.model.__new__(self.model)
        instance.__dict__.update(values)
        state = ModelState()
        state.adding, state.db = False, connection.alias
        instance._state = state
        return instance

    def __repr__(self):
        return f"<{type(self).__name__} {self.__dict__.get('id')}>"


class _NodeRow(_Row):
    model = Node


class _EdgeRow(_Row):
    model = Edge


class _RawRow(_Row):
    model = RawRecord


_ATTNAMES = {model: tuple(f.attname for f in model._meta.concrete_fields) for model in (Node, Edge, RawRecord)}


def canonical_digest(body) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _aware(value: dt.datetime | None, default: dt.datetime) -> dt.datetime:
    if value is None:
        return default
    if timezone.is_naive(value):
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def _older(fact: NodeFact, seen: dt.datetime, node) -> bool:
    """Whether `fact` observed its object before what `node` already holds (see NodeFact.older_never_overwrites
    and newer_by); an unreadable time never counts as older."""
    if fact.newer_by:
        mine, held = fact.properties.get(fact.newer_by), node.properties.get(fact.newer_by)
        try:
            return dt.datetime.fromisoformat(mine) < dt.datetime.fromisoformat(held)
        except (TypeError, ValueError):  # absent on either side, or not a time
            return False
    return fact.older_never_overwrites and seen < node.last_seen


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def load_nodes(keys, *, lock: bool = False, _cls=None) -> dict[NodeKey, Node]:
    """Existing nodes for `keys`, in as few queries as the chunking allows.

    `lock=True` takes row locks (SELECT … FOR UPDATE on PostgreSQL; SQLite serializes writers anyway) so a
    caller can read properties, merge, and write them back through `apply(..., nodes=...)` safely.
    (`_cls`: `apply`'s own reads take the nodes as rows, see _Row.)
    """
    found: dict[NodeKey, Node] = {}
    if fast_path():
        keys = set(keys)
        if not keys:
            return found
        pending: list = []
        sql = _call(_nodes_statement(lock), pending, rows=len(keys))
        params = [[k.source for k in keys], [k.kind for k in keys], [k.source_id for k in keys]]
        with connection.cursor() as cur:
            _run(cur, sql, params, pending)
            names = tuple(f.column for f in Node._meta.concrete_fields)
            rows = cur.fetchall()
        for node in _from_rows(Node, names, rows, _cls):
            found[NodeKey(node.source, node.kind, node.source_id)] = node
        return found
    by_group: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key in set(keys):
        by_group[(key.source, key.kind)].append(key.source_id)
    pairs = [(group, sid) for group, ids in by_group.items() for sid in ids]
    table = connection.ops.quote_name(Node._meta.db_table)
    for chunk in _chunks(pairs):
        grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
        for group, sid in chunk:
            grouped[group].append(sid)
        # Plain SQL (see _instances): the ORM's compilation of this OR-of-IN filter cost more CPU than
        # the query itself (it runs once per ingested event).
        clauses, params = [], []
        for (source, kind), ids in grouped.items():
            clauses.append(f"(source = %s AND kind = %s AND source_id IN ({', '.join(['%s'] * len(ids))}))")
            params += [source, kind, *ids]
        sql = f"SELECT * FROM {table} WHERE {' OR '.join(clauses)}"
        if lock:
            # Always lock in id order, so two writers touching the same nodes cannot deadlock on them.
            sql += " ORDER BY id" + (" FOR UPDATE" if connection.features.has_select_for_update else "")
        for node in _instances(Node, sql, params, _cls):
            found[NodeKey(node.source, node.kind, node.source_id)] = node
    return found


_READ_PLANS: dict[tuple, tuple] = {}


def _instances(model, sql: str, params: list, cls=None) -> list:
    """Model instances for `SELECT *` rows of `model`'s table: what Model.objects.raw gives, without its
    per-query setup (column resolution, converter lookup), which cost more than the rows themselves for
    the handful an event reads. Columns are matched by name, not assumed in the model's field order.
    `cls`: a _Row class to make instead of model instances."""
    with connection.cursor() as cur:
        cur.execute(sql, params)
        names = tuple(d[0] for d in cur.description)
        rows = cur.fetchall()
    return _from_rows(model, names, rows, cls)


def _from_rows(model, names: tuple, rows, cls=None) -> list:
    db = connections[DEFAULT_DB_ALIAS]  # what the `connection` proxy resolves to, once
    key = (model, db.vendor, names)
    plan = _READ_PLANS.get(key)
    if plan is None:
        by_column = {f.column: f for f in model._meta.concrete_fields}
        fields = [by_column[name] for name in names]
        order = sorted(range(len(fields)), key=lambda i: model._meta.concrete_fields.index(fields[i]))
        converters = [tuple(_json_from_db if _plain_json(f, conv) else conv
                            for conv in connection.ops.get_db_converters(f.get_col(model._meta.db_table))
                            + f.get_db_converters(connection))
                      for f in fields]
        converting = [(i, convs, fields[i]) for i, convs in enumerate(converters) if convs]
        plan = ([fields[i].attname for i in order], order, converting, tuple(f.attname for f in fields))
        _READ_PLANS[key] = plan
    attnames, order, converting, column_attnames = plan
    if cls is not None:
        new = cls.__new__
        out = []
        for row in rows:
            values = _converted(row, converting, db)
            obj = new(cls)
            obj.__dict__.update(zip(column_attnames, values))
            out.append(obj)
        return out
    alias = db.alias
    new = model.__new__
    out = []
    for row in rows:
        values = _converted(row, converting, db)
        # What Model.from_db leaves (attribute values, a ModelState "from this database, not adding"),
        # without Model.__init__'s per-field descriptor work, which cost more than converting the row; the
        # lineage models have no pre_init/post_init receivers, which is all __init__ would add besides.
        obj = new(model)
        obj.__dict__.update(zip(attnames, [values[i] for i in order]))
        state = ModelState()
        state.adding = False
        state.db = alias
        obj._state = state
        out.append(obj)
    return out


def _converted(row, converting, db) -> list:
    """A row's values with the database converters of the columns that have any applied."""
    values = list(row)
    for i, convs, f in converting:
        for conv in convs:
            values[i] = conv(values[i], f, db)
    return values


def _plain_json(field, converter) -> bool:
    return isinstance(field, models.JSONField) and field.decoder is None and converter == field.from_db_value


# An integer orjson would read as a float (beyond 64 bits), or anything else that long: json reads those.
_LONG_NUMBER = re.compile(r"[0-9]{19}")


def _json_from_db(value, field, db):
    """JSONField.from_db_value, through orjson (a third of json's cost for the properties of the nodes
    and edges an event reads): the same values, but for integers beyond 64 bits, which orjson reads as
    floats — a text with a run of 19 digits takes json's way."""
    if value is None or not isinstance(value, str) or _LONG_NUMBER.search(value):
        return field.from_db_value(value, None, db)
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return field.from_db_value(value, None, db)


def id_reservation(model, count: int, width: int = 2) -> tuple[str, list]:
    """PostgreSQL: a query giving `count` rows (NULL, a new id of `model`'s table, then NULLs up to `width`
    columns), to join with UNION ALL to a query the caller makes anyway, so that reserving the ids of rows
    to insert costs no round trip. Ids reserved but not used are skipped, as a rolled-back insert's are."""
    pad = ", NULL" * (width - 2)
    return (f"SELECT NULL, nextval(pg_get_serial_sequence(%s, %s)){pad} FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count])


def _getter(field):
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return lambda obj: field.pre_save(obj, True)
    attname = field.attname
    return lambda obj: getattr(obj, attname)


def _preparer(field):
    """Database value of a field. psycopg2 adapts strings, numbers, booleans and aware datetimes itself,
    so on PostgreSQL those skip Django's generic (and, per value, costly) preparation."""
    generic = lambda value: field.get_db_prep_save(value, connection)
    if connection.vendor != "postgresql":
        return generic
    if isinstance(field, models.DateTimeField):
        return lambda value: value if value is None or (isinstance(value, dt.datetime) and value.tzinfo) else generic(value)
    if isinstance(field, (models.CharField, models.TextField, models.BooleanField, models.IntegerField, models.ForeignKey)):
        return _same
    return generic


def _same(value):
    return value


class _Writes:
    """Writes whose results nothing reads (revision and edge inserts, node and edge updates).

    On PostgreSQL they are held and sent in one round trip together with the next statement that
    returns rows, or at the end of `apply`: psycopg2 sends several statements in one execute, and on a
    busy machine each round trip (two process wake-ups) cost more than the statement. The order of the
    statements is kept, and an error in any of them fails the execute that carries it, inside the same
    transaction. Elsewhere (SQLite runs one statement per execute) each runs at once."""

    def __init__(self):
        # The connection proxy resolves the thread's connection on every attribute (an asgiref Local
        # lookup): a tenth of a single event's store CPU went there. Resolved once per call here.
        self.db = connections[DEFAULT_DB_ALIAS]
        self.batched = FAST_PATH and self.db.vendor == "postgresql"
        self.held: list[str] = []
        self.pending: list = []  # statements the held text prepares (see _ConnectionStatements)
        if self.batched:
            state = _statements(self.db)
            self.mogrify, self.literals = state.mogrify, state.literals

    def run(self, sql: str, params: list) -> None:
        if self.batched:
            self.held.append(self.mogrify(sql, params).decode())
            return
        with connection.cursor() as cur:
            cur.execute(sql, params)

    def run_prepared(self, stmt: "_Statement", params: list, rows: int = 1) -> None:
        """Hold an EXECUTE of `stmt` (PostgreSQL fast path) for `rows` rows; `params`: one list per
        parameter (stmt.types, arrays all)."""
        sql = _call(stmt, self.pending, self.db, rows)
        if self.literals:
            args = tuple(map(_array_literal, params, stmt.types))
            if None not in args:
                text = sql % args
                if "\x00" not in text and (text.isascii() or _encodes(text)):
                    self.held.append(text)
                    return
        # What _array_literal leaves to psycopg2 (and its errors: a NUL, a lone surrogate)
        self.held.append(self.mogrify(sql, params).decode())

    def execute(self, cur, sql: str, params: list) -> None:
        """Run a statement with parameters, the held writes ahead of it in the same round trip."""
        _run(cur, self.prefix() + sql, params, self.pending, self.db)

    def send(self, copy_sql: str, buffer) -> None:
        """Run a COPY … FROM STDIN with `buffer`, the held writes ahead of it in the same round trip
        (libpq hands the COPY over once the statements before it have run)."""
        text, self.held = "".join(s + "; " for s in self.held), []
        with connection.cursor() as cur, connection.wrap_database_errors:
            try:
                cur.cursor.copy_expert(text + copy_sql, buffer)
            except Exception as exc:  # psycopg2's own class here: wrapped on the way out
                if getattr(exc, "pgcode", None) == "26000":
                    self.db._lineage_statements = None
                raise
        _statements(self.db).confirm(self.pending)
        self.pending = []

    def prefix(self) -> str:
        """The held statements as SQL to send ahead of a statement with parameters ('%' doubled)."""
        if not self.held:
            return ""
        text = "; ".join(self.held).replace("%", "%%") + "; "
        self.held = []
        return text

    def take(self) -> str:
        """The held statements as SQL to send ahead of a statement without parameters (the caller's
        next round trip carries them), '' when none are held; they are no longer held here."""
        if not self.held:
            return ""
        text, self.held = "; ".join(self.held) + "; ", []
        if self.pending:
            # They run when the caller sends them: known to have run once this transaction commits.
            pending, self.pending = self.pending, []
            if len(self.db.atomic_blocks) > 1:  # not committed by apply's own atomic, before they run
                state = _statements(self.db)
                transaction.on_commit(lambda: state.confirm(pending))
        return text

    def flush(self) -> None:
        if self.held:
            text, self.held = "; ".join(self.held), []
            with connection.cursor() as cur:
                if self.batched:
                    _run(cur, text, None, self.pending, self.db)
                else:
                    cur.execute(text)


def _array_literal(values: list, kind: str) -> str | None:
    """An array parameter of an EXECUTE as SQL text, what psycopg2's mogrify makes of it (`ARRAY[…]`, or
    '{}' when empty; the statement casts it to `kind`), at under half its cost: mogrify adapts each value
    through an adapter object (a datetime through Python code), and was the largest Python item of a
    single event's store.apply under cProfile (0.17 of 0.9 ms). Only for the types the fast path sends — strings (text, and JSON as text), ints, aware
    datetimes, booleans, None — and only on a connection in UTF-8 with standard_conforming_strings on
    (`_Writes.literals`), where a string literal is its text between single quotes, each quote doubled,
    backslashes literal. None for anything else (psycopg2 then quotes the statement, as before)."""
    if len(values) == 1:  # most arrays of a single event: one value, no list to build
        v = values[0]
        if v is None:
            return "ARRAY[NULL]"
        t = type(v)
        if t is str and (kind == "text[]" or kind == "jsonb[]"):
            return "ARRAY['" + v.replace("'", "''") + "']" if "'" in v else "ARRAY['" + v + "']"
        if t is int and (kind == "bigint[]" or kind == "integer[]"):
            return f"ARRAY[{v}]"
        if t is dt.datetime and kind == "timestamptz[]" and v.tzinfo is not None:
            return "ARRAY['" + v.isoformat() + "']"
        if t is bool and kind == "boolean[]":
            return "ARRAY[true]" if v else "ARRAY[false]"
        return None
    if not values:
        return "'{}'"
    parts = []
    add = parts.append
    if kind == "text[]" or kind == "jsonb[]":
        for v in values:
            if type(v) is str:
                add("'" + v.replace("'", "''") + "'" if "'" in v else "'" + v + "'")
            elif v is None:
                add("NULL")
            else:
                return None
    elif kind == "bigint[]" or kind == "integer[]":
        for v in values:
            if type(v) is int:
                add(str(v))
            elif v is None:
                add("NULL")
            else:
                return None
    elif kind == "timestamptz[]":
        for v in values:
            if type(v) is dt.datetime and v.tzinfo is not None:
                add("'" + v.isoformat() + "'")
            elif v is None:
                add("NULL")
            else:
                return None
    elif kind == "boolean[]":
        for v in values:
            if v is None:
                add("NULL")
            elif type(v) is bool:
                add("true" if v else "false")
            else:
                return None
    else:
        return None
    return "ARRAY[" + ",".join(parts) + "]"


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_INSERT_PLANS: dict[tuple, tuple] = {}


def _insert_plan(model, vendor: str, with_pk: bool = False) -> tuple:
    """Per model and database vendor, once: the column list, one VALUES row, rows per statement and the
    value getters/preparers (building them per call was a tenth of a single event's store CPU)."""
    plan = _INSERT_PLANS.get((model, vendor, with_pk))
    if plan is None:
        fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
        quote = connection.ops.quote_name
        preparers = [_preparer(f) for f in fields]
        plain = not any(getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) for f in fields)
        plan = (
            ", ".join(quote(f.column) for f in fields),
            "(" + ", ".join(["%s"] * len(fields)) + ")",
            max(1, 30000 // max(1, len(fields))),  # stay under SQLite's 32766 variables
            [(_getter(f), prep) for f, prep in zip(fields, preparers)],
            # Without auto_now fields: all values read by one attrgetter call, and only the values that
            # need preparing prepared (per value, the Python calls were a seventh of a batch's CPU).
            operator.attrgetter(*(f.attname for f in fields)) if plain and len(fields) > 1 else None,
            [(i, prep) for i, prep in enumerate(preparers) if prep is not _same],
        )
        _INSERT_PLANS[(model, vendor, with_pk)] = plan
    return plan


class _RevisionRow:
    """A NodeRevision row to insert: the attributes `insert` reads, without a model instance (building
    one per revision was a tenth of a batch's store CPU; nothing reads the revisions back)."""

    __slots__ = ("node_id", "valid_from", "properties", "raw_id", "recorded_at", "pk")

    def __init__(self, node_id, valid_from, properties, raw_id, recorded_at):
        self.node_id, self.valid_from, self.properties = node_id, valid_from, properties
        self.raw_id, self.recorded_at, self.pk = raw_id, recorded_at, None


def insert(objects: list, writes: _Writes | None = None, model=None, *, with_pk: bool = False,
           carry: _Writes | None = None) -> None:
    """INSERT … RETURNING id for unsaved model instances of one model, setting their primary keys.

    What bulk_create does, without its per-call compilation cost; PostgreSQL and SQLite (3.35+) both
    return the ids in the order of the VALUES rows, as bulk_create itself relies on. With `writes`, the
    rows are inserted through it, without RETURNING: for rows whose ids nothing reads (they stay None).
    `model` names the model when the objects are plain rows with its attributes (`_Row`, `_RevisionRow`).
    `with_pk`: the objects carry their ids already (reserved, see `id_reservation`), inserted as given.
    `carry`: held writes to send ahead of the INSERT … RETURNING, in the same round trip."""
    if not objects:
        return
    model = model or type(objects[0])
    fast = writes if writes is not None else carry
    if fast is not None and fast.batched:
        fields, fetch, preparers = _fast_plan(model, with_pk)
        rows = [fetch(obj) for obj in objects]
        columns = [list(col) if prep is _same else list(map(prep, col)) for col, prep in zip(zip(*rows), preparers)]
        ids = _write_columns(model, fields, columns, writes, carry)
        if ids is not None:
            _saved(objects, ids, DEFAULT_DB_ALIAS)
        return
    meta = model._meta
    quote = connection.ops.quote_name
    columns, row, per_statement, preparers, fetch, conversions = _insert_plan(model, connection.vendor, with_pk)
    for start in range(0, len(objects), per_statement):
        chunk = objects[start:start + per_statement]
        if fetch is not None:
            params = []
            for obj in chunk:
                values = list(fetch(obj))
                for i, prep in conversions:
                    values[i] = prep(values[i])
                params += values
        else:
            params = [prep(getter(obj)) for obj in chunk for getter, prep in preparers]
        sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row] * len(chunk))}"
        if writes is not None:
            writes.run(sql, params)
            continue
        with connection.cursor() as cur:
            prefix = carry.prefix() if carry is not None else ""
            cur.execute(f"{prefix}{sql} RETURNING {quote(meta.pk.column)}", params)
            ids = [r[0] for r in cur.fetchall()]
        _saved(chunk, ids, connection.alias)


def _saved(objects: list, ids: list, alias: str) -> None:
    """Inserted objects get their ids; model instances (not _Row rows) are marked saved to `alias` too."""
    for obj, pk in zip(objects, ids):
        obj.pk = pk
        state = getattr(obj, "_state", None)
        if state is not None:
            state.adding = False
            state.db = alias


_FAST_PLANS: dict[tuple, tuple] = {}


def _fast_plan(model, with_pk: bool) -> tuple:
    """Per model, once: the columns the PostgreSQL fast path inserts, one getter of all their values,
    and a preparer per column (`_same` where psycopg2 takes the value as it is)."""
    plan = _FAST_PLANS.get((model, with_pk))
    if plan is None:
        fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
        if any(getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) for f in fields):
            getters = [_getter(f) for f in fields]
            fetch = lambda obj: tuple(g(obj) for g in getters)
        else:
            fetch = operator.attrgetter(*(f.attname for f in fields))
            if len(fields) == 1:
                one = fetch
                fetch = lambda obj: (one(obj),)
        plan = _FAST_PLANS[(model, with_pk)] = (fields, fetch, [_fast_preparer(f) for f in fields])
    return plan


def _write_columns(model, fields: list, columns: list[list], writes: "_Writes | None", carry: "_Writes | None"):
    """Insert rows given column by column (PostgreSQL fast path). With `writes`: held, or from
    COPY_MIN_ROWS rows by COPY; None returned. Otherwise INSERT … RETURNING in a round trip carrying
    `carry`'s held writes: the new ids, in row order."""
    count = len(columns[0]) if columns else 0
    if writes is not None:
        if count >= COPY_MIN_ROWS:
            _copy(writes, model, fields, columns)
        else:
            writes.run_prepared(_insert_statement(model, fields), columns, count)
        return None
    stmt = _insert_statement(model, fields, returning=True)
    with connection.cursor() as cur:
        carry.execute(cur, _call(stmt, carry.pending, carry.db, count), columns)
        return [r[0] for r in cur.fetchall()]


_NODE_ORDER = operator.attrgetter("source", "kind", "source_id")
_EDGE_ORDER = operator.attrgetter("src_id", "dst_id", "kind")
_ROW_DEFAULTS = {model: model._meta.get_field(name) for model, name in
                 ((Node, "recorded_at"), (Edge, "recorded_at"))}


class _Session:
    """One `apply` call: what is loaded, what is pending, and the counts. Nodes, edges and raw records
    are held as rows (_Row), made straight from the facts or the database's answer; a Node the caller
    passes in is taken as a row of its values (see _Row.of)."""

    def __init__(self, now: dt.datetime, nodes: dict[NodeKey, Node | None] | None):
        self.now = now
        self.raw: dict[tuple, _RawRow] = {}
        self.nodes: dict[NodeKey, _NodeRow | None] = (
            {key: None if node is None else _NodeRow.of(node) for key, node in nodes.items()} if nodes else {})
        self.new_nodes: list[_NodeRow] = []
        self.created_nodes: set[int] = set()  # id() of rows inserted by this call: no edge can touch them yet
        self.dirty_nodes: dict[int, tuple[_NodeRow, set[str]]] = {}  # id(row) -> (row, changed attnames)
        # (node, valid_from, properties, raw row): NodeRevision rows, made into tuples only when written
        self.revisions: list[tuple[_NodeRow, dt.datetime, dict, _RawRow | None]] = []
        self.result = ApplyResult()
        self.writes = _Writes()
        self.open_edges: dict[tuple, _EdgeRow] | None = None  # read ahead by flush_nodes (fast path)
        self.edge_changes: list = []  # the edge items that opened or closed an edge (for job_io)
        self.defaults: dict = {}

    def recorded_at(self, model) -> dt.datetime:
        """The `recorded_at` default of `model`'s rows inserted by this call: one instant per call (the
        field's default, asked once, not once per row)."""
        value = self.defaults.get(model)
        if value is None:
            value = self.defaults[model] = _ROW_DEFAULTS[model].get_default()
        return value

    # -- raw payloads ---------------------------------------------------------------------------------
    def load_raw(self, payloads: list[RawPayload], assume_new: bool = False, reserved_ids=()) -> None:
        wanted: dict[tuple, RawPayload] = {}
        for payload in payloads:
            cache_key = (payload.source, payload.kind, payload.source_id, payload.digest)
            if cache_key not in self.raw:
                wanted.setdefault(cache_key, payload)
        if not wanted:
            return
        if not assume_new:
            table = connection.ops.quote_name(RawRecord._meta.db_table)
            for chunk in _chunks(sorted({key[3] for key in wanted})):
                with connection.cursor() as cur:
                    cur.execute(f"SELECT id, source, kind, source_id, digest FROM {table} "
                                f"WHERE digest IN ({', '.join(['%s'] * len(chunk))})", chunk)
                    found = cur.fetchall()
                for pk, source, kind, source_id, digest in found:
                    cache_key = (source, kind, source_id, digest)
                    if cache_key in wanted:
                        row = _RawRow.__new__(_RawRow)
                        row.__dict__.update(id=pk, source=source, kind=kind, source_id=source_id, digest=digest)
                        self.raw[cache_key] = row
        missing = [(key, p) for key, p in wanted.items() if key not in self.raw]
        if not missing:
            return
        rows = []
        for (source, kind, source_id, digest), p in missing:
            row = _RawRow.__new__(_RawRow)
            row.__dict__.update(id=None, source=source, kind=kind, source_id=source_id, digest=digest, body=p.body,
                                received_at=self.now)
            rows.append(row)
        if self.writes.batched:
            # The rows' columns straight from the payloads, the body as its canonical text where known.
            payloads = [p for _, p in missing]
            values = {"source": [p.source for p in payloads], "kind": [p.kind for p in payloads],
                      "source_id": [p.source_id for p in payloads], "digest": [key[3] for key, _ in missing],
                      "body": [p.text if p.text is not None else _json_text(p.body) for p in payloads],
                      "received_at": [self.now] * len(payloads)}
            if len(reserved_ids) >= len(missing):
                # Ids the caller reserved: the insert needs no answer, so it rides with the next statement.
                fields = _fast_plan(RawRecord, True)[0]
                ids = list(reserved_ids[:len(missing)])
                _write_columns(RawRecord, fields, [ids if f.primary_key else values[f.attname] for f in fields],
                               self.writes, None)
            else:
                fields = _fast_plan(RawRecord, False)[0]
                ids = _write_columns(RawRecord, fields, [values[f.attname] for f in fields], None, self.writes)
            for row, pk in zip(rows, ids):
                row.id = pk
        else:
            insert(rows, model=RawRecord, carry=self.writes)
        for (key, _), row in zip(missing, rows):
            self.raw[key] = row
        self.result.raw_created += len(missing)

    def raw_record(self, payload: RawPayload | None) -> _RawRow | None:
        if payload is None:
            return None
        cache_key = (payload.source, payload.kind, payload.source_id, payload.digest)
        if cache_key not in self.raw:
            self.load_raw([payload])
        return self.raw[cache_key]

    # -- nodes ----------------------------------------------------------------------------------------
    def load_nodes(self, keys) -> None:
        # A key the caller passed with None is known not to exist: no need to ask again.
        missing = {k for k in keys if k not in self.nodes}
        if missing:
            found = load_nodes(missing, _cls=_NodeRow)
            self.nodes.update({k: found.get(k) for k in missing})

    def _new_node(self, key: NodeKey, name: str, namespace: str, display_name: str, properties: dict,
                  seen: dt.datetime, raw_id) -> _NodeRow:
        node = _NodeRow.__new__(_NodeRow)
        node.__dict__.update(id=None, kind=key.kind, source=key.source, source_id=key.source_id, namespace=namespace,
                             name=name, display_name=display_name, properties=properties, first_seen=seen,
                             last_seen=seen, raw_id=raw_id, recorded_at=self.recorded_at(Node), archived_at=None)
        self.new_nodes.append(node)
        self.nodes[key] = node
        self.result.nodes_created += 1
        return node

    def placeholder(self, key: NodeKey) -> _NodeRow:
        node = self.nodes.get(key)
        if node is None:
            # An edge may name a node before any fact describes it (e.g. an input dataset): create a
            # placeholder named after its id; a later NodeFact fills it in.
            node = self._new_node(key, key.source_id, "", "", {}, self.now, None)
        return node

    def put_node(self, fact: NodeFact) -> _NodeRow:
        seen = _aware(fact.seen_at, self.now)
        raw = self.raw_record(fact.raw)
        node = self.nodes.get(fact.key)
        if node is None:
            node = self._new_node(fact.key, fact.name, fact.namespace, fact.display_name, fact.properties, seen,
                                  None if raw is None else raw.id)
            self.revisions.append((node, seen, fact.properties, raw))
            return node
        props = node.properties
        if _older(fact, seen, node):
            new_props = {**fact.properties, **props}
        elif fact.replace_properties:
            new_props = fact.properties
        else:
            new_props = {**props, **fact.properties}
        if node.archived_at is not None:
            # Frozen by an evidence bundle: record what the source says now as a revision only.
            if new_props != props:
                self.revisions.append((node, seen, new_props, raw))
            return node
        # Each comparison below reads the values the node held before this fact (first_seen and
        # last_seen change last).
        changed = []
        if new_props != props:
            changed.append("properties")
            self.revisions.append((node, max(seen, node.first_seen), new_props, raw))
            node.properties = new_props
        if fact.name and fact.name != node.name:
            changed.append("name")
            node.name = fact.name
        if fact.namespace and fact.namespace != node.namespace:
            changed.append("namespace")
            node.namespace = fact.namespace
        if fact.display_name and fact.display_name != node.display_name:
            changed.append("display_name")
            node.display_name = fact.display_name
        if raw is not None and node.raw_id != raw.id and seen >= node.last_seen:
            changed.append("raw_id")
            node.raw_id = raw.id
        if changed and node.id is not None:
            self.result.nodes_updated += 1
        if seen < node.first_seen:
            changed.append("first_seen")
            node.first_seen = seen
        if seen > node.last_seen:
            changed.append("last_seen")
            node.last_seen = seen
        if changed and node.id is not None:
            entry = self.dirty_nodes.get(id(node))
            if entry is None:
                self.dirty_nodes[id(node)] = (node, set(changed))
            else:
                entry[1].update(changed)
        return node

    def flush_nodes(self, edge_items=()) -> None:
        new = self.new_nodes
        if new:
            # Inserted in key order: two transactions creating some of the same nodes then wait on each
            # other's unique-index entries in one order, never crosswise (a deadlock PostgreSQL would break
            # only after deadlock_timeout, a second by default, with one of them failed).
            new.sort(key=_NODE_ORDER)
        if self.writes.batched and (new or edge_items):
            # The open edges the items may touch and the new nodes' ids in one round trip (see
            # _edges_statement); the nodes then go in with the writes held after it.
            self.open_edges = self.read_open_edges(edge_items, reserve=len(new))
            if new:
                insert(new, self.writes, Node, with_pk=True)
        elif new:
            insert(new, model=Node, carry=self.writes)
        self.created_nodes.update(map(id, new))
        if self.revisions:
            recorded_at = timezone.now()
            rows = [_RevisionRow(node.id, valid_from, properties, None if raw is None else raw.id, recorded_at)
                    for node, valid_from, properties, raw in self.revisions]
            insert(rows, self.writes, model=NodeRevision)
        if self.dirty_nodes:
            entries = self.dirty_nodes.values()
            _update(Node, [node for node, _ in entries], set().union(*(names for _, names in entries)), self.writes)
        self.new_nodes, self.revisions, self.dirty_nodes = [], [], {}

    # -- edges ----------------------------------------------------------------------------------------
    def read_open_edges(self, items: list, reserve: int = 0) -> dict[tuple, _EdgeRow]:
        """The open edges between the (src, dst) pairs `items` name, by (src id, dst id, kind).

        Only the exact pairs can matter, and a pair with a node created in this call has no edge yet.
        Asking by pair uses the open-edge unique index; asking by "src in ids and dst in ids" read every
        open edge of a hub dataset (hundreds per event as the graph grows). `reserve` (fast path): ids to
        reserve in the same round trip for `self.new_nodes`, which get them in order."""
        created = self.created_nodes
        nodes = self.nodes
        pairs = set()
        for item in items:
            src, dst = nodes.get(item.src), nodes.get(item.dst)
            if src is not None and dst is not None:
                src_id, dst_id = src.id, dst.id
                if src_id is not None and dst_id is not None and id(src) not in created and id(dst) not in created:
                    pairs.add((src_id, dst_id))
        open_edges: dict[tuple, _EdgeRow] = {}
        if self.writes.batched:
            if not pairs and not reserve:
                return open_edges
            pairs = sorted(pairs)
            with connection.cursor() as cur:
                # The held writes ride along (see _Writes); the edges read here are not among them.
                self.writes.execute(cur, _call(_edges_statement(), self.writes.pending, self.writes.db, len(pairs)),
                                    [[p[0] for p in pairs], [p[1] for p in pairs], reserve])
                rows = cur.fetchall()
            edge_rows, reserved = [], []
            for row in rows:
                if row[0]:
                    reserved.append(row[1])
                else:
                    edge_rows.append(row[1:])
            for node, pk in zip(self.new_nodes, sorted(reserved)):
                node.id = pk
            for edge in _from_rows(Edge, _EDGE_COLUMNS, edge_rows, _EdgeRow):
                open_edges[(edge.src_id, edge.dst_id, edge.kind)] = edge
            return open_edges
        table = connection.ops.quote_name(Edge._meta.db_table)
        for chunk in _chunks(sorted(pairs), CHUNK // 2):
            # The held node writes ride along (see _Writes); the edges read here are not among them.
            sql = (f"{self.writes.prefix()}SELECT * FROM {table} WHERE valid_to IS NULL AND (src_id, dst_id) IN "
                   f"(VALUES {', '.join(['(%s, %s)'] * len(chunk))})")
            for edge in _instances(Edge, sql, [v for pair in chunk for v in pair], _EdgeRow):
                open_edges[(edge.src_id, edge.dst_id, edge.kind)] = edge
        return open_edges

    def apply_edges(self, items: list) -> None:
        if not items:
            return
        open_edges = self.open_edges if self.open_edges is not None else self.read_open_edges(items)
        nodes = self.nodes
        new_edges: list[_EdgeRow] = []
        dirty: dict[int, tuple[_EdgeRow, set[str]]] = {}
        recorded_at = None

        def mark(edge: _EdgeRow, attrs) -> None:
            if edge.id is not None and attrs:
                entry = dirty.get(id(edge))
                if entry is None:
                    dirty[id(edge)] = (edge, set(attrs))
                else:
                    entry[1].update(attrs)

        for item in items:
            if type(item) is EdgeFact or isinstance(item, EdgeFact):
                src_id, dst_id = nodes[item.src].id, nodes[item.dst].id
                valid_from = _aware(item.valid_from, self.now)
                raw = self.raw_record(item.raw)
                key = (src_id, dst_id, item.kind)
                edge = open_edges.get(key)
                if edge is None:
                    if recorded_at is None:
                        recorded_at = self.recorded_at(Edge)
                    edge = _EdgeRow.__new__(_EdgeRow)
                    edge.__dict__.update(id=None, kind=item.kind, src_id=src_id, dst_id=dst_id, source=item.source,
                                         valid_from=valid_from, valid_to=None, last_seen=valid_from,
                                         properties=item.properties, raw_id=None if raw is None else raw.id,
                                         recorded_at=recorded_at)
                    new_edges.append(edge)
                    open_edges[key] = edge
                    self.edge_changes.append(item)
                    self.result.edges_created += 1
                    continue
                updates = []
                if valid_from < edge.valid_from:
                    # Out-of-order arrival (COMPLETE before START): the edge held from the earlier time,
                    # and the payload that says so becomes its evidence.
                    edge.valid_from = valid_from
                    updates.append("valid_from")
                    if raw is not None:
                        edge.raw_id = raw.id
                        updates.append("raw_id")
                if valid_from > edge.last_seen:
                    edge.last_seen = valid_from
                    updates.append("last_seen")
                if item.properties:
                    merged = {**edge.properties, **item.properties}
                    if merged != edge.properties:
                        edge.properties = merged
                        updates.append("properties")
                mark(edge, updates)
            else:  # EdgeClose
                src, dst = nodes.get(item.src), nodes.get(item.dst)
                if src is None or dst is None:
                    continue
                edge = open_edges.pop((src.id, dst.id, item.kind), None)
                if edge is None:
                    continue
                edge.valid_to = _aware(item.at, self.now)
                mark(edge, ("valid_to",))
                self.result.edges_closed += 1
                self.edge_changes.append(item)
        if dirty:
            # Before the inserts: an edge this call closed and then stated again is a new open row, which
            # the open-edge unique index admits only once the old one's valid_to is written.
            entries = dirty.values()
            _update(Edge, [edge for edge, _ in entries], set().union(*(names for _, names in entries)), self.writes)
        if new_edges:
            # In key order, for the same reason as new nodes (the open-edge unique index).
            new_edges.sort(key=_EDGE_ORDER)
            insert(new_edges, self.writes, Edge)


_EDGE_COLUMNS = tuple(f.column for f in Edge._meta.concrete_fields)
_UPDATE_PLANS: dict[tuple, tuple] = {}


def _update_plan(model, fields: tuple, vendor: str) -> tuple:
    """Per model, changed-field set and vendor, once: the statement's fixed parts, the attribute names and
    the value preparers (working them out per call — a field lookup, db_type and a cast per column —
    was a tenth of a single event's store CPU)."""
    key = (model, fields, vendor)
    plan = _UPDATE_PLANS.get(key)
    if plan is None:
        db_fields = [model._meta.get_field(name) for name in fields]
        pk = model._meta.pk
        quote = connection.ops.quote_name
        table = quote(model._meta.db_table)
        columns = [pk.column] + [f.column for f in db_fields]
        assignments = ", ".join(f"{quote(c)} = v.{quote(c)}" for c in columns[1:])
        names = ", ".join(quote(c) for c in columns)
        if vendor == "postgresql":
            casts = [pk.db_type(connection)] + [f.db_type(connection) for f in db_fields]
            row_sql = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
            head = f"UPDATE {table} AS t SET {assignments} FROM (VALUES "
            tail = f") AS v({names}) WHERE t.{quote(pk.column)} = v.{quote(pk.column)}"
        else:
            row_sql = None
            head = (f"UPDATE {table} SET {assignments} FROM (SELECT "
                    + ", ".join(f"%s AS {quote(c)}" for c in columns))
            tail = f") AS v WHERE {table}.{quote(pk.column)} = v.{quote(pk.column)}"
        plan = (head, tail, row_sql, len(columns), [(f.attname, _preparer(f)) for f in db_fields])
        _UPDATE_PLANS[key] = plan
    return plan


_FAST_UPDATES: dict[tuple, tuple] = {}  # (model, attnames) -> (statement, [(attname, preparer)]), PostgreSQL
_PK = operator.attrgetter("pk")


def _update(model, objects: list, fields: set[str], writes: _Writes | None = None) -> None:
    """One UPDATE … FROM (rows) for all changed rows of `model` (its instances or _Row rows; `fields`:
    attribute names), on PostgreSQL and SQLite (3.33+) alike.

    Django's bulk_update builds a CASE WHEN per row and field, which costs more to compile and plan than
    the write itself for the handful of rows an event touches. Unchanged values among the union of
    changed fields are written back as they are."""
    # Rows in id order (the order the join meets them for the few rows an event updates), so concurrent
    # writers take their row locks in one order.
    objects = sorted(objects, key=_PK)
    names = tuple(sorted(fields))
    if writes is not None and writes.batched:
        plan = _FAST_UPDATES.get((model, names))
        if plan is None:
            db_fields = [model._meta.get_field(name) for name in names]
            plan = _FAST_UPDATES[(model, names)] = (
                _update_statement(model, db_fields), [(f.attname, _fast_preparer(f)) for f in db_fields])
        stmt, preparers = plan
        columns = [[obj.pk for obj in objects]]
        for attname, prep in preparers:
            values = [getattr(obj, attname) for obj in objects]
            columns.append(values if prep is _same else list(map(prep, values)))
        writes.run_prepared(stmt, columns, len(objects))
        return
    head, tail, row_sql, width, preparers = _update_plan(model, names, connection.vendor)
    for chunk in _chunks(objects, 500):
        params: list = []
        for obj in chunk:
            params.append(obj.pk)
            for attname, prep in preparers:
                params.append(prep(getattr(obj, attname)))
        if row_sql is not None:
            sql = head + ", ".join([row_sql] * len(chunk)) + tail
        else:
            sql = head + (" UNION ALL SELECT " + ", ".join(["%s"] * width)) * (len(chunk) - 1) + tail
        if writes is not None:
            writes.run(sql, params)
            continue
        with connection.cursor() as cur:
            cur.execute(sql, params)


def apply(facts, *, now: dt.datetime | None = None, nodes: dict[NodeKey, Node | None] | None = None,
          assume_new_raw: bool = False, also_insert=None, hold_writes: bool = False,
          reserved_raw_ids=()) -> ApplyResult:
    """Apply NodeFact / EdgeFact / EdgeClose / RawPayload values in one transaction.

    `nodes` may pass nodes the caller already loaded in this transaction (see `load_nodes(lock=True)`),
    with None for a key known not to exist, saving the store from reading them again.
    `assume_new_raw` says the caller has already established, in this transaction, that none of the raw
    payloads is stored yet (the OpenLineage ingest does, by event digest); the store then skips looking.
    A concurrent writer storing the same payload makes the insert fail rather than duplicate it.
    `also_insert(raw)`, given the raw records by (source, kind, source_id, digest), returns unsaved model
    instances, or (model, rows with the model's attributes), to insert with the call's last writes (their
    ids stay None): the ingest's log rows, which
    point at the raw records, cost no round trip of their own.
    `reserved_raw_ids`: ids reserved for the raw payloads to insert (`id_reservation(RawRecord, n)`, at
    least one per payload): on PostgreSQL their insert then needs no round trip of its own.
    `hold_writes=True` leaves the call's last writes unsent, as SQL in `result.pending_sql`: the caller
    must send it, in this transaction, ahead of its next statement (the ingest sends it with the audit
    chain's lock, one round trip fewer per request); '' when nothing is pending (always so on SQLite).
    """
    facts = list(facts)
    session = _Session(now or timezone.now(), nodes)
    node_facts, edge_items, payloads = [], [], []
    for fact in facts:
        if isinstance(fact, NodeFact):
            node_facts.append(fact)
            if fact.raw is not None:
                payloads.append(fact.raw)
        elif isinstance(fact, EdgeFact):
            edge_items.append(fact)
            if fact.raw is not None:
                payloads.append(fact.raw)
        elif isinstance(fact, EdgeClose):
            edge_items.append(fact)
        elif isinstance(fact, RawPayload):
            payloads.append(fact)
        else:
            raise TypeError(f"not a lineage fact: {fact!r}")
    # No savepoint: when the caller holds a transaction, a failure here must fail the caller's unit of
    # work anyway, and the savepoint would cost two round trips per call.
    with transaction.atomic(savepoint=False):
        session.load_raw(payloads, assume_new=assume_new_raw, reserved_ids=reserved_raw_ids)
        keys = {f.key for f in node_facts}
        for item in edge_items:
            keys.add(item.src)
            keys.add(item.dst)
        session.load_nodes(keys)
        for fact in node_facts:
            session.put_node(fact)
        for item in edge_items:
            if isinstance(item, EdgeFact):
                session.placeholder(item.src)
                session.placeholder(item.dst)
        session.flush_nodes(edge_items)
        session.apply_edges(edge_items)
        # Derived rows the Marquez reads walk (each job's current io): kept true by every write.
        job_io.refresh(session.writes, node_facts, session.edge_changes, session.nodes)
        if also_insert is not None:
            extra = also_insert(session.raw)
            model = None
            if isinstance(extra, tuple):  # (model, plain rows with its attributes)
                model, extra = extra
            insert(extra, session.writes, model=model)
        if hold_writes:
            session.result.pending_sql = session.writes.take()
        else:
            session.writes.flush()
    session.result._node_rows = {k: n for k, n in session.nodes.items() if n is not None}
    session.result.raw = session.raw
    return session.result


# -- PostgreSQL: prepared array-parameter statements and COPY ------------------------------------------
#
# psycopg2 speaks only the simple query protocol, so a statement's text was parsed, analysed and planned
# on every execute: with writes inlined as literal VALUES lists that was 61 % of PostgreSQL's CPU per
# single event, and no two texts were alike. Here each write and hot read has one text whatever its row
# count (arrays as parameters: `unnest($1::bigint[], $2::text[], …)`, `= ANY($1)`), prepared once per
# connection (PREPARE name(types) AS …, sent in the same round trip as its first EXECUTE) and run as
# `EXECUTE name(ARRAY[…]::bigint[], …)`, whose own text parses in a lexer pass. Batches from
# COPY_MIN_ROWS rows per table go in by COPY instead (see `_copy`).

def _array_type(field) -> str:
    """The element type a column's values travel in. Text for CharField: an explicit cast to varchar(n)
    would truncate silently, where the INSERT's assignment to the column refuses a value too long."""
    if field.is_relation:
        field = field.target_field
    return {"BigAutoField": "bigint", "AutoField": "integer", "BigIntegerField": "bigint", "IntegerField": "integer",
            "PositiveIntegerField": "integer", "CharField": "text", "TextField": "text", "DateTimeField": "timestamptz",
            "BooleanField": "boolean", "JSONField": "jsonb"}[field.get_internal_type()]


class _Statement:
    """One statement text with `$n` parameters of `types`, prepared per connection under `tag` + a serial.

    Each runs with the generic plan PostgreSQL makes once (plan_cache_mode = force_generic_plan, SET
    LOCAL per transaction, see _call). With the default (auto) PostgreSQL plans the first five EXECUTEs
    for their values and then compares, and a plan made for the actual array lengths always looks
    cheaper than the generic one (which assumes 100 elements), so it kept planning every EXECUTE.
    Measured in-process, PostgreSQL CPU per single event: on populated, analysed tables 2.76 ms with
    auto for all, 2.55 with generic plans for the inserts only (the reads and updates, which join a table
    with many indexes, planned per EXECUTE: 0.65 ms of planning per event), 1.81 with generic plans for
    all (planning 0.20 ms, log_planner_stats); on a fresh database analysed empty, as the benchmark's
    single phase runs, 3.9–4.1 ms with generic plans for all against 4.4–4.8 with auto for the reads
    and updates — generic plans made on young tables are kept fresh by _call's schedule."""

    __slots__ = ("key", "tag", "types", "body", "args", "type_list")

    def __init__(self, key, tag: str, types: list[str], body: str):
        self.key, self.tag, self.types, self.body = key, tag, types, body
        # psycopg2 fills the %s with literals (ARRAY[…], '{}' when empty); the cast types each argument,
        # whatever psycopg2 made of it (an all-NULL ARRAY, an empty one). Without parameters, no
        # parentheses: PostgreSQL refuses empty ones after PREPARE and EXECUTE names.
        self.args = f"({', '.join(f'%s::{t}' for t in types)})" if types else ""
        self.type_list = f"({', '.join(types)})" if types else ""


class _ConnectionStatements:
    """What is prepared on one psycopg2 connection (a reconnect brings a new one, and nothing prepared).

    A PREPARE goes out with the first EXECUTE of its statement, in the same round trip, and counts as
    prepared only once a round trip carrying it is known to have succeeded: a later execute of this
    module in the same transaction returned (PREPARE is not undone by a rollback), or the transaction
    committed (held writes sent by another module's execute). Until then every use prepares again under
    a new name, so that a PREPARE lost with a failed round trip is never relied on, and one that did run
    is never prepared twice under one name (which PostgreSQL refuses). A prepared statement gone from
    under us (DISCARD ALL, DEALLOCATE by hand) fails one execute with 26000, after which all are prepared
    again."""

    def __init__(self, raw):
        self.raw = weakref.ref(raw)
        # psycopg2's own quoting (what Django's cursor would do), and whether _array_literal's is the
        # server's reading (see there): asked once per connection, not per apply.
        self.mogrify = raw.cursor().mogrify
        self.literals = raw.encoding == "UTF8" and raw.get_parameter_status("standard_conforming_strings") == "on"
        self.ready: dict = {}
        # (outermost atomic block, plan_cache_mode SET LOCAL last in its transaction): a guess that only
        # costs time when wrong (a savepoint rolled back, one Atomic reused by a decorated function).
        self.mode: tuple = (None, None)
        self.uses: dict = {}  # EXECUTEs per statement since it was prepared
        self.replan: dict = {}  # EXECUTEs after which it is prepared again (see _call)

    def confirm(self, pending: list) -> None:
        for key, name in pending:
            self.ready[key] = name
            self.uses[key] = 0


def _statements(db=None) -> _ConnectionStatements:
    db = db or connections[DEFAULT_DB_ALIAS]
    raw = db.connection
    if raw is None:  # (ensure_connection does nothing else; as an async-unsafe method it cost a call layer)
        db.ensure_connection()
        raw = db.connection
    state = getattr(db, "_lineage_statements", None)
    if state is None or state.raw() is not raw:
        state = _ConnectionStatements(raw)
        db._lineage_statements = state
    return state


_SERIALS = itertools.count(1)

# Array length from which an EXECUTE is planned for its values (plan_cache_mode auto) instead of taking
# the generic plan: see _call.
CUSTOM_PLAN_ROWS = 32


def _call(stmt: _Statement, pending: list, db=None, rows: int = 1) -> str:
    """SQL running `stmt` (its arguments as %s), preceded by its PREPARE where this connection has none
    known; the name then goes into `pending`, for the caller to confirm once the text has run."""
    if not PREPARE_STATEMENTS:
        return re.sub(r"\$(\d+)", lambda m: f"%s::{stmt.types[int(m.group(1)) - 1]}", stmt.body)
    db = db or connections[DEFAULT_DB_ALIAS]
    state = _statements(db)
    head = ""
    # A generic plan assumes 10 elements for `= ANY($1)` and 100 for unnest($1): the plan for a single
    # event's handful fits a batch's hundreds badly (a batch's digest check took a sequential scan with
    # 250 comparisons per row, 3.6 ms a batch on a small table, where a plan for 250 probes the unique
    # index). From CUSTOM_PLAN_ROWS elements, planning for the values costs little per row: auto, which
    # plans them (a plan for the actual arrays always looks cheaper to it than the generic one).
    mode = "force_generic_plan" if rows < CUSTOM_PLAN_ROWS else "auto"
    outermost = db.atomic_blocks[0] if db.atomic_blocks else None
    if state.mode != (outermost, mode) or outermost is None:
        # SET LOCAL: the connection's later transactions keep the server's setting (force_custom_plan
        # there had every deferred foreign key check at COMMIT planned again per row). Held writes and
        # reads go out in the order made, so each SET takes effect before the EXECUTEs after it.
        head = f"SET LOCAL plan_cache_mode TO {mode}; "
        state.mode = (outermost, mode)
    name = state.ready.get(stmt.key)
    if name is not None:
        uses = state.uses[stmt.key] = state.uses[stmt.key] + 1
        due = state.replan.get(stmt.key, 8)
        if uses < due:
            return f"{head}EXECUTE {name}{stmt.args}"
        # A generic plan is made once, for the tables as they were then, and PostgreSQL makes it again
        # only when their statistics change (ANALYZE, autovacuum). A plan made on a young table (a
        # sequential scan of its few pages) would otherwise serve it grown a thousandfold where
        # autovacuum is off or behind: prepared again after 8, 16, 32 … EXECUTEs (then every 1024), so
        # a plan never serves a table much larger than it was made for.
        state.replan[stmt.key] = min(2 * due, due + 1024)
        del state.ready[stmt.key]
        head += f"DEALLOCATE {name}; "
    # A process-wide serial: a connection's state made anew (after a 26000, see _run) must not reuse a
    # name its statements still hold there (PostgreSQL refuses a second PREPARE of one name).
    name = f"ll_{stmt.tag}_{next(_SERIALS)}"
    pending.append((stmt.key, name))
    return f"{head}PREPARE {name}{stmt.type_list} AS {stmt.body}; EXECUTE {name}{stmt.args}"


def _run(cur, sql: str, params, pending: list, db=None):
    """Execute on PostgreSQL; the statements in `pending` are prepared once it returns."""
    try:
        cur.execute(sql, params)
    except DatabaseError as exc:
        if getattr(exc.__cause__, "pgcode", None) == "26000":  # invalid_sql_statement_name
            (db or connections[DEFAULT_DB_ALIAS])._lineage_statements = None
        raise
    if pending:
        _statements(db).confirm(pending)
        pending.clear()


def select_prepared(tag: str, types: list[str], body: str, params: list, sql_prefix: str = "", rows: int = 1) -> list[tuple]:
    """Rows of a read through a prepared statement (PostgreSQL), `sql_prefix` sent ahead in the same
    round trip (statements without parameters). For the ingest's hot reads outside this module; `rows`:
    the length of its arrays (see _call)."""
    stmt = _select_statement(tag, types, body)
    pending: list = []
    sql = _call(stmt, pending, rows=rows)
    with connection.cursor() as cur:
        _run(cur, sql_prefix.replace("%", "%%") + sql, params, pending)
        return cur.fetchall()


def select_prepared_after(before: list[tuple[str, list[str], str, list]], tag: str, types: list[str], body: str,
                          params: list, sql_prefix: str = "", rows: int = 1) -> list[tuple]:
    """As `select_prepared`, with the prepared statements `before` ((tag, types, body, params) each, their
    rows not read) run ahead of it in the same round trip: the ingest's row locks ahead of its read, whose
    snapshot is then taken once they are granted."""
    pending: list = []
    sql, values = [], []
    for before_tag, before_types, before_body, before_params in before:
        sql.append(_call(_select_statement(before_tag, before_types, before_body), pending, rows=rows))
        values += before_params
    sql.append(_call(_select_statement(tag, types, body), pending, rows=rows))
    with connection.cursor() as cur:
        _run(cur, sql_prefix.replace("%", "%%") + "; ".join(sql), values + list(params), pending)
        return cur.fetchall()


def _select_statement(tag: str, types: list[str], body: str) -> "_Statement":
    stmt = _STATEMENTS.get(("select", tag, body))
    if stmt is None:
        stmt = _STATEMENTS[("select", tag, body)] = _Statement(("select", tag, body), tag, types, body)
    return stmt


_STATEMENTS: dict = {}


_INSERT_BY_LIST: dict = {}


def _insert_statement(model, fields: list, returning: bool = False) -> _Statement:
    # By the identity of the field list first (the plans' lists live as long as the process): building the
    # key from the field names cost more than the rest of the lookup, four times per event.
    known = _INSERT_BY_LIST.get((id(fields), returning))
    if known is not None and known[0] is fields:
        return known[1]
    stmt = _insert_statement_by_names(model, fields, returning)
    _INSERT_BY_LIST[(id(fields), returning)] = (fields, stmt)
    return stmt


def _insert_statement_by_names(model, fields: list, returning: bool) -> _Statement:
    key = ("insert", model, tuple(f.attname for f in fields), returning)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        quote = connection.ops.quote_name
        types = [_array_type(f) + "[]" for f in fields]
        body = (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
                f"SELECT * FROM unnest({', '.join(f'${i + 1}' for i in range(len(fields)))})")
        if returning:
            body += f" RETURNING {quote(model._meta.pk.column)}"
        stmt = _STATEMENTS[key] = _Statement(key, f"ins_{model._meta.model_name}", types, body)
    return stmt


def _update_statement(model, fields: list) -> _Statement:
    key = ("update", model, tuple(f.attname for f in fields))
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        quote = connection.ops.quote_name
        pk = model._meta.pk
        table = quote(model._meta.db_table)
        columns = [pk.column] + [f.column for f in fields]
        types = [_array_type(pk) + "[]"] + [_array_type(f) + "[]" for f in fields]
        body = (f"UPDATE {table} AS t SET {', '.join(f'{quote(c)} = v.{quote(c)}' for c in columns[1:])} "
                f"FROM unnest({', '.join(f'${i + 1}' for i in range(len(columns)))}) AS v({', '.join(quote(c) for c in columns)}) "
                f"WHERE t.{quote(pk.column)} = v.{quote(pk.column)}")
        stmt = _STATEMENTS[key] = _Statement(key, f"upd_{model._meta.model_name}", types, body)
    return stmt


def _nodes_statement(lock: bool) -> _Statement:
    key = ("nodes", lock)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        quote = connection.ops.quote_name
        columns = ", ".join(f"n.{quote(f.column)}" for f in Node._meta.concrete_fields)
        # (As ids from per-key probes, OFFSET 0, then rows by id: 50 % more PostgreSQL CPU than this join.)
        body = (f"SELECT {columns} FROM unnest($1, $2, $3) AS k(source, kind, source_id) "
                f"JOIN {quote(Node._meta.db_table)} n ON n.source = k.source AND n.kind = k.kind AND n.source_id = k.source_id")
        if lock:
            body += " ORDER BY n.id FOR UPDATE OF n"
        stmt = _STATEMENTS[key] = _Statement(key, "nodes_lock" if lock else "nodes", ["text[]", "text[]", "text[]"], body)
    return stmt


def sequence_next(model) -> str:
    return f"nextval(pg_get_serial_sequence('{model._meta.db_table}', '{model._meta.pk.column}'))"


def _edges_statement() -> _Statement:
    """Open edges between given (src, dst) pairs, and, in the same answer, ids reserved for the nodes
    the call is about to insert (rows whose first column is true, the id in the second): the node insert then needs no
    RETURNING and rides with a later round trip, as the edge and revision inserts that name them do."""
    key = ("edges",)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        quote = connection.ops.quote_name
        fields = Edge._meta.concrete_fields
        columns = ", ".join(f"e.{quote(f.column)}" for f in fields)
        nulls = ", NULL" * (len(fields) - 1)
        # Per pair, a subquery the planner may not merge into a join (OFFSET 0): an index probe of the
        # open-edge unique index whatever the table's statistics say. As a join, plans made on young
        # tables (hash joins, nested loops over a sequential scan) cost 0.7 ms per single event.
        body = (f"SELECT false, {columns} FROM unnest($1, $2) AS p(src, dst) CROSS JOIN LATERAL "
                f"(SELECT * FROM {quote(Edge._meta.db_table)} x WHERE x.src_id = p.src AND x.dst_id = p.dst "
                f"AND x.valid_to IS NULL OFFSET 0) e "
                f"UNION ALL SELECT true, {sequence_next(Node)}{nulls} FROM generate_series(1, $3)")
        stmt = _STATEMENTS[key] = _Statement(key, "edges", ["bigint[]", "bigint[]", "integer"], body)
    return stmt


def _json_text(value) -> str:
    """A JSON field's value as the text Django's JSONField would send (json.dumps), for the jsonb the
    database makes of it: orjson writes the same jsonb (numbers in another notation at most, which jsonb
    reads to the same numeric) at a fraction of the cost. What orjson refuses (a non-str key, an integer
    beyond 64 bits, a datetime, which json refuses too) take json's way, and so does a text holding `null`
    that does not read back as the value: orjson writes NaN and Infinity as null where json writes NaN,
    which PostgreSQL refuses — a NaN or an infinity reads back as None, which equals neither. (Reading the
    text back costs a fifth of json.dumps; most properties hold a None somewhere, an OpenLineage run's
    `parent` for one, and took json's way every time.) So the outcome is json's in every case."""
    try:
        data = orjson.dumps(value, option=_ORJSON_STRICT)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value)
    if b"null" in data and orjson.loads(data) != value:
        return json.dumps(value)
    return data.decode()


_ORJSON_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def _fast_preparer(field):
    """Array element value of a field on the PostgreSQL fast path: JSON as text (cast to jsonb by the
    statement), the rest as `_preparer` gives it."""
    if isinstance(field, models.JSONField):
        return lambda value: None if value is None else _json_text(value)
    return _preparer(field)


# Rows per table from which COPY is used instead of the prepared INSERT … SELECT FROM unnest(…): below,
# COPY's own round trip (it cannot ride with a later statement) costs more than it saves. Measured
# (this process + its backend, CPU per row, NodeRevision and RawRecord rows, each way in its own
# round trip): 4 rows 71 µs by COPY / 62 by EXECUTE; 8 rows 40 / 46; 32 rows 20 / 35; 128 rows 16 / 27.
COPY_MIN_ROWS = 8

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _copy_column(field, values: list) -> list[str]:
    """A column's values in COPY's text format (PostgreSQL parses each as it would the literal): NULL
    as \\N, text with backslash, newline, carriage return and tab escaped. Per column, in comprehensions:
    a function call per value was most of the formatting's cost."""
    kind = _array_type(field)
    if kind in ("text", "jsonb"):
        esc = _COPY_ESCAPES
        values = [v if v is None or type(v) is str else str(v) for v in values]
        return ["\\N" if v is None else (v.translate(esc) if ("\\" in v or "\n" in v or "\r" in v or "\t" in v) else v)
                for v in values]
    if kind == "timestamptz":
        return ["\\N" if v is None else v.isoformat() for v in values]
    if kind == "boolean":
        return ["\\N" if v is None else ("t" if v else "f") for v in values]
    return ["\\N" if v is None else str(v) for v in values]


def _copy(writes: "_Writes", model, fields: list, columns: list[list]) -> None:
    """COPY rows (given column by column, values as the fast path prepares them) into `model`'s table,
    the held writes sent ahead in the same round trip."""
    quote = connection.ops.quote_name
    text = "\n".join(map("\t".join, zip(*[_copy_column(f, col) for f, col in zip(fields, columns)]))) + "\n"
    buffer = io.BytesIO(text.encode("utf-8"))
    sql = (f"COPY {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) FROM STDIN")
    writes.send(sql, buffer)
