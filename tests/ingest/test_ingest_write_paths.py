"""The store's PostgreSQL fast path leaves exactly the tables that the portable path leaves.

The fast path (lineage.store.FAST_PATH): prepared array-parameter statements sent as EXECUTEs, writes held
and sent with the next round trip or with the audit chain's lock, raw record and node ids reserved with a
read the call makes anyway, COPY for the rows of batches, each raw body stored from the canonical text its
digest was made from. The portable path is what SQLite runs: one literal statement per execute, ids read
back with RETURNING, bodies encoded by Django's JSONField.

Both ingest the same events the same way — the shared OpenLineage corpus (accepted and rejected events,
repeats among them) and generated events (devtools.ingest_demo), as batches and as single events, in and
out of order, one repeated — each into empty tables, with real commits (the fast path's statements are
prepared once per connection and kept only once a commit proves they ran). Then every column of every
table the ingest writes is compared: RawRecord, Node, NodeRevision, Edge and IngestedEvent, rows as
multisets, ids mapped through natural keys (a raw record's source, kind, source_id and digest; a node's
source, kind and source_id; a user's username), JSON as sorted-key text.

Wall-clock columns (RawRecord.received_at, IngestedEvent.received_at, the recorded_at of nodes,
revisions and edges, and the `now` that stands in for a missing event time) are frozen rather than left
out: `django.utils.timezone.now` and those fields' defaults return one fixed instant in both runs, so
they are compared too (a path writing one time column in place of another would still show, since the
event times differ from that instant)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, models
from django.utils import timezone

from devtools.ingest_demo import generate_events
from governance.audit.verify import verify_chain
from lineage import store
from lineage.ingest import service
from lineage.ingest.events import IngestRejected
from lineage.ingest.models import IngestedEvent
from lineage.models import Edge, Node, NodeRevision, RawRecord
from tests.conftest import shared_fixture
from tests.support.store_tables import snapshot

# SQLite has only the portable path (one statement per execute).
pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

TABLES = [RawRecord, Node, NodeRevision, Edge, IngestedEvent]
FROZEN = dt.datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone.utc)


@pytest.fixture
def frozen_clock(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: FROZEN)
    for model in TABLES:
        for f in model._meta.concrete_fields:
            if isinstance(f, models.DateTimeField) and f.has_default():
                # Field.get_default goes through a cached property holding the default callable.
                monkeypatch.setattr(f, "_get_default", lambda: FROZEN)
    return FROZEN


def _digest(rows: list[tuple]) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def _wipe():
    IngestedEvent.objects.all().delete()
    Edge.objects.all().delete()
    NodeRevision.objects.all().delete()
    Node.objects.all().delete()
    RawRecord.objects.all().delete()


def _corpus() -> list:
    folder = shared_fixture("openlineage", "events")
    return [json.loads(path.read_bytes()) for path in sorted(folder.glob("*.json"))]


def _single(event, user) -> None:
    try:
        service.ingest_event(event, user)
    except IngestRejected:
        pass  # the corpus holds events the ingest refuses; both paths refuse the same (their rows would differ)


def _ingest(corpus: list, generated: list, user) -> list[dict]:
    """The same sequence both times: the corpus's first half in batches of 20, its second half one event
    per request in reverse order and then again (repeats), then generated events: one batch, some one by
    one in order (their inputs resolve to versions already stored), the rest out of order, one repeated."""
    answers = []
    half = len(corpus) // 2
    for start in range(0, half, 20):
        answers.append(service.ingest_batch(corpus[start:min(start + 20, half)], user))
    for event in reversed(corpus[half:]):
        _single(event, user)
    for event in corpus[half::7]:
        _single(event, user)
    answers.append(service.ingest_batch(generated[:40], user))
    for event in generated[40:70]:
        _single(event, user)
    for event in reversed(generated[70:]):
        _single(event, user)
    _single(generated[-1], user)
    return answers


class _Spy:
    """Counts what the fast path did, so that the test cannot compare the portable path with itself."""

    def __init__(self, monkeypatch):
        self.copies = self.executes = self.held_at_audit = 0
        real_copy, real_run, real_take = store._copy, store._Writes.run_prepared, store._Writes.take
        spy = self

        def copy(*args, **kwargs):
            spy.copies += 1
            return real_copy(*args, **kwargs)

        def run_prepared(self, *args, **kwargs):
            spy.executes += 1
            return real_run(self, *args, **kwargs)

        def take(self):
            spy.held_at_audit += len(self.held)
            return real_take(self)

        monkeypatch.setattr(store, "_copy", copy)
        monkeypatch.setattr(store._Writes, "run_prepared", run_prepared)
        monkeypatch.setattr(store._Writes, "take", take)


def test_fast_path_leaves_the_same_tables_as_the_portable_path(monkeypatch, frozen_clock):
    corpus = _corpus()
    generated = generate_events(seed=7, n_pipelines=8)
    assert len(corpus) > 100 and len(generated) > 80
    user = get_user_model().objects.create_user("poster")

    spy = _Spy(monkeypatch)
    fast_answers = _ingest(corpus, generated, user)
    fast = snapshot()
    assert spy.copies and spy.executes and spy.held_at_audit, "the fast path did not run"
    statements = store._statements()
    assert statements.ready, "no statement was ever known prepared: every use prepared again"
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_prepared_statements")
        # prepared once each, not once per use (a handful more where a transaction failed before committing)
        assert len(statements.ready) <= cur.fetchone()[0] <= 2 * len(statements.ready) + 10

    _wipe()
    monkeypatch.setattr(store, "FAST_PATH", False)
    spy.copies = spy.executes = 0
    portable_answers = _ingest(corpus, generated, user)
    assert not spy.copies and not spy.executes
    portable = snapshot()

    assert portable_answers == fast_answers
    assert {t: (len(rows), _digest(rows)) for t, rows in portable.items()} == \
        {t: (len(rows), _digest(rows)) for t, rows in fast.items()}, _first_difference(fast, portable)
    for table, rows in fast.items():
        assert rows, f"{table} is empty: the comparison would prove nothing about it"
    assert any(row for row in fast["lineage_node"] if ("recorded_at", FROZEN.isoformat()) in row)
    assert verify_chain().ok  # the writes sent with the chain's lock left a chain that verifies


def _first_difference(fast: dict, portable: dict) -> str:
    for table in fast:
        only_fast = [r for r in fast[table] if r not in portable[table]]
        only_portable = [r for r in portable[table] if r not in fast[table]]
        if only_fast or only_portable:
            return f"{table}: fast path only {only_fast[:2]}; portable path only {only_portable[:2]}"
    return ""


@pytest.mark.django_db(transaction=False)
def test_json_read_back_through_orjson_gives_what_json_gives():
    """The store reads the properties of the nodes and edges it merges into through orjson
    (lineage.store._json_from_db): the same values as Django's json.loads, including the integers beyond
    64 bits orjson alone would turn into floats, and whatever text orjson refuses."""
    field = Node._meta.get_field("properties")
    texts = [json.dumps(body) for body in _corpus()] + [
        '{"a": 123456789012345678901234567890}', '[18446744073709551616, -9223372036854775809]',
        '{"f": 1.5e300, "z": -0.0, "t": 0.1, "e": 1e-7, "n": null, "s": "\\u00e9\\ud83d\\ude00"}',
        '{"digits": "1234567890123456789012"}', '[1e400]', "not json",
    ]
    for text in texts:
        assert repr(store._json_from_db(text, field, connection)) == repr(field.from_db_value(text, None, connection)), text
