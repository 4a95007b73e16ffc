"""The same events in any arrival order end in the same graph, and an event sent again changes nothing
(the audit trail alone notes the repeat)."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from governance.audit.models import AuditEntry
from lineage.ingest import service
from lineage.ingest.models import IngestedEvent
from lineage.models import Edge, Node, NodeRevision, RawRecord

RUN = "6e1f5a3c-9a57-4d0b-a9a3-1c2b3d4e5f60"
PARENT = "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"
PRODUCER = "https://example.com/spark"


def _facet(**fields):
    return {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/X.json", **fields}


def _events() -> list[dict]:
    base = {
        "run": {"runId": RUN, "facets": {
            "parent": _facet(run={"runId": PARENT}, job={"namespace": "airflow", "name": "dag"}),
            "nominalTime": _facet(nominalStartTime="2024-03-01T00:00:00Z"),
        }},
        "job": {"namespace": "spark", "name": "etl.features"},
        "inputs": [{"namespace": "s3://lake", "name": "raw/events"}],
        "outputs": [{"namespace": "s3://lake", "name": "features/daily",
                     "facets": {"schema": _facet(fields=[{"name": "a", "type": "int"}])}}],
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }
    start = json.loads(json.dumps(base)) | {"eventType": "START", "eventTime": "2024-03-01T00:00:00Z"}
    running = json.loads(json.dumps(base)) | {"eventType": "RUNNING", "eventTime": "2024-03-01T00:01:00Z"}
    running["run"]["facets"]["progress"] = _facet(percent=50)
    complete = json.loads(json.dumps(base)) | {"eventType": "COMPLETE", "eventTime": "2024-03-01T00:02:00Z"}
    complete["run"]["facets"]["progress"] = _facet(percent=100)
    complete["outputs"][0]["facets"]["schema"] = _facet(fields=[{"name": "a", "type": "int"}, {"name": "b", "type": "int"}])
    complete["outputs"][0]["outputFacets"] = {"outputStatistics": _facet(rowCount=10)}
    other = json.loads(json.dumps(base)) | {"eventType": "OTHER", "eventTime": "2024-03-01T00:03:00Z"}
    other["run"]["facets"]["extra"] = _facet(note="added after completion")
    return [start, running, complete, other]


def _wipe():
    IngestedEvent.objects.all().delete()
    NodeRevision.objects.all().delete()
    Edge.objects.all().delete()
    Node.objects.all().delete()
    RawRecord.objects.all().delete()


def _state():
    nodes = {
        (n.kind, n.source_id): (n.namespace, n.name, n.display_name, json.dumps(n.properties, sort_keys=True),
                                n.first_seen, n.last_seen, n.raw.digest if n.raw else None)
        for n in Node.objects.select_related("raw")
    }
    edges = sorted(
        (e.kind, e.src.source_id, e.dst.source_id, e.valid_from, e.valid_to, e.last_seen,
         json.dumps(e.properties, sort_keys=True), e.raw.digest if e.raw else None)
        for e in Edge.objects.select_related("src", "dst", "raw")
    )
    return nodes, edges, sorted(IngestedEvent.objects.values_list("digest", flat=True))


@pytest.mark.django_db
def test_complete_before_start_ends_like_start_before_complete():
    events = _events()
    for e in events:
        service.ingest_event(e)
    in_order = _state()
    run = Node.objects.get(kind="run", source_id=RUN).properties
    assert run["state"] == "COMPLETE" and run["facets"]["progress"]["percent"] == 100
    assert run["facets"]["extra"]["note"] == "added after completion"  # OTHER adds facets, keeps the state
    _wipe()
    for e in reversed(events):
        service.ingest_event(e)
    assert _state() == in_order


@pytest.mark.django_db
@hsettings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(4)))
def test_any_arrival_order_ends_in_the_same_state(order):
    events = _events()
    _wipe()
    for e in events:
        service.ingest_event(e)
    expected = _state()
    _wipe()
    for i in order:
        service.ingest_event(events[i])
    assert _state() == expected


@pytest.mark.django_db
def test_the_same_event_twice_changes_nothing_the_second_time():
    events = _events()
    first = [service.ingest_event(e) for e in events]
    assert not any(p.duplicate for p in first)
    state = _state()
    revisions = NodeRevision.objects.count()
    raws = RawRecord.objects.count()
    audit = AuditEntry.objects.count()
    again = [service.ingest_event(json.loads(json.dumps(e, sort_keys=True))) for e in events]  # key order differs
    assert all(p.duplicate for p in again)
    assert _state() == state
    assert NodeRevision.objects.count() == revisions and RawRecord.objects.count() == raws
    repeats = AuditEntry.objects.order_by("-seq")[: len(events)]
    assert AuditEntry.objects.count() == audit + len(events)
    assert all(entry.after["duplicate"] is True and entry.action == "ingest.event" for entry in repeats)
