"""The store's PostgreSQL fast path (writes held and sent in one round trip with the next statement or
with the audit chain's lock, raw record ids reserved with the duplicate check) leaves exactly the store
that the portable path (one statement per execute, as on SQLite) leaves."""
from __future__ import annotations

import json

import pytest

from governance.audit.verify import verify_chain
from lineage import store
from lineage.ingest import service
from devtools.ingest_demo import generate_events
from lineage.ingest.models import IngestedEvent
from lineage.models import Edge, Node, NodeRevision, RawRecord

pytestmark = pytest.mark.postgres_only  # SQLite has only the portable path (one statement per execute)


def _snapshot():
    nodes = sorted((n.kind, n.source_id, n.name, n.namespace, n.display_name, json.dumps(n.properties, sort_keys=True),
                    n.first_seen, n.last_seen, n.raw.digest if n.raw_id else None) for n in Node.objects.select_related("raw"))
    revisions = sorted((r.node.source_id, r.valid_from, json.dumps(r.properties, sort_keys=True), r.raw.digest if r.raw_id else None)
                       for r in NodeRevision.objects.select_related("node", "raw"))
    edges = sorted((e.kind, e.src.source_id, e.dst.source_id, e.valid_from, e.valid_to, e.last_seen,
                    e.raw.digest if e.raw_id else None) for e in Edge.objects.select_related("src", "dst", "raw"))
    log = sorted(IngestedEvent.objects.values_list("digest", "raw__digest", "event_kind", "event_type", "run_id", "strict_ok"))
    return nodes, revisions, edges, log


def _wipe():
    IngestedEvent.objects.all().delete()
    Edge.objects.all().delete()
    NodeRevision.objects.all().delete()
    Node.objects.all().delete()
    RawRecord.objects.all().delete()


def _ingest(events):
    # a batch, then the rest one by one: some in order (their inputs resolve to versions already
    # stored), the others out of order, and one repeated
    service.ingest_batch(events[:40])
    for event in events[40:70]:
        service.ingest_event(event)
    for event in reversed(events[70:]):
        service.ingest_event(event)
    service.ingest_event(events[-1])


@pytest.mark.django_db
def test_held_writes_leave_the_same_store_as_one_statement_per_execute(monkeypatch):
    events = generate_events(seed=7, n_pipelines=6)
    assert len(events) > 60
    held = []
    real_flush = store._Writes.flush

    def counting_flush(self):
        held.append(len(self.held))
        real_flush(self)

    real_take = store._Writes.take

    def counting_take(self):
        # writes handed to the caller (the ingest sends them with the audit chain's lock)
        held.append(len(self.held))
        return real_take(self)

    monkeypatch.setattr(store._Writes, "flush", counting_flush)
    monkeypatch.setattr(store._Writes, "take", counting_take)
    _ingest(events)
    fast = _snapshot()
    assert any(held), "the fast path held no write: the test would compare the portable path with itself"

    _wipe()
    portable_init = store._Writes.__init__

    def portable(self):
        portable_init(self)
        self.batched = False

    monkeypatch.setattr(store._Writes, "__init__", portable)
    held.clear()
    _ingest(events)
    assert not any(held)
    assert _snapshot() == fast
    assert verify_chain().ok  # the writes sent with the chain's lock left a chain that verifies
    assert fast[0] and fast[1] and fast[2] and len(fast[3]) == len({json.dumps(e, sort_keys=True) for e in events})
