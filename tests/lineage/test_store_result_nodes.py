"""What store.apply hands back now that it works on plain rows: `result.nodes` are saved Node instances
with the values the call wrote (callers read them: restore, the archive and dashboard samples, harvest
stitching); a Node the caller passed in (`nodes=`) is that same instance, brought up to date, even one
loaded with deferred fields; `result.raw` gives each payload's stored record id (the ingest's log rows
point at them)."""
from __future__ import annotations

import datetime as dt

import pytest

from lineage import store
from lineage.models import Node, RawRecord
from lineage.store import EdgeFact, NodeFact, NodeKey, RawPayload

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
A, B, C = (NodeKey("manual", "dataset", name) for name in "abc")


def _fields(node) -> dict:
    return {f.attname: getattr(node, f.attname) for f in Node._meta.concrete_fields}


@pytest.mark.django_db
def test_result_nodes_are_saved_instances_holding_what_was_written():
    raw = RawPayload("manual", "test", "a", {"v": 1})
    store.apply([NodeFact(A, name="a", properties={"x": 1}, seen_at=T0)])
    result = store.apply([NodeFact(A, name="a2", properties={"y": 2}, seen_at=T0 + dt.timedelta(hours=1), raw=raw),
                          EdgeFact("produced", A, B, "manual", valid_from=T0)])
    assert set(result.nodes) == {A, B}
    for key, node in result.nodes.items():
        assert isinstance(node, Node) and not node._state.adding and node._state.db == "default"
        stored = Node.objects.get(source=key.source, kind=key.kind, source_id=key.source_id)
        assert _fields(node) == _fields(stored)
    assert result.nodes[A].properties == {"x": 1, "y": 2} and result.nodes[A].name == "a2"
    assert result.nodes[A].raw == RawRecord.objects.get(source_id="a")  # the foreign key reads as usual
    assert result.nodes[B].name == "b"  # a placeholder
    assert result.nodes is result.nodes  # made once
    (key,) = [k for k in result.raw]
    assert key == ("manual", "test", "a", raw.digest) and result.raw[key].pk == RawRecord.objects.get().pk


@pytest.mark.django_db
def test_nodes_passed_in_are_the_instances_handed_back_deferred_fields_included():
    store.apply([NodeFact(A, name="a", properties={"x": 1}, seen_at=T0), NodeFact(C, name="c", seen_at=T0)])
    full = store.load_nodes([A])[A]
    partial = Node.objects.only("id", "source", "kind", "source_id").get(source_id="c")  # others deferred
    result = store.apply([NodeFact(A, name="a", properties={"z": 3}, seen_at=T0 + dt.timedelta(days=1)),
                          NodeFact(C, name="c", properties={"w": 4}, seen_at=T0 + dt.timedelta(days=1))],
                         nodes={A: full, C: partial, B: None})
    assert result.nodes[A] is full and result.nodes[C] is partial
    assert full.properties == {"x": 1, "z": 3} and full.last_seen == T0 + dt.timedelta(days=1)
    assert partial.properties == {"w": 4} and partial.first_seen == T0  # read through the deferred field
    assert _fields(partial) == _fields(Node.objects.get(source_id="c"))
    assert Node.objects.get(source_id="a").properties == {"x": 1, "z": 3}
