"""An observation older than one already applied must not undo it, for sources that say so.

Kubeflow harvest partitions may read one ML Metadata object on either side of a change and land in the
other order; the store then keeps what the newer read said (its `seen_at` is the object's update time).
Facts that do not ask for it (the OpenLineage mapper merges by event time itself) keep the plain rule:
the fact applied last is merged over the node."""
from __future__ import annotations

import datetime as dt

import pytest

from connectors.kubeflow import mapping
from connectors.kubeflow.records import ArtifactRecord
from lineage import store
from lineage.models import Node, NodeRevision

T1 = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.timezone.utc)
T2 = T1 + dt.timedelta(minutes=5)
KEY = store.NodeKey("manual", "dataset", "d1")


def fact(seen, props, **kw):
    return store.NodeFact(key=KEY, name="d1", properties=props, seen_at=seen, **kw)


@pytest.mark.django_db
def test_an_older_fact_adds_missing_properties_but_overwrites_none():
    store.apply([fact(T2, {"state": "LIVE", "rows": 20}, older_never_overwrites=True)])
    store.apply([fact(T1, {"state": "PENDING", "rows": 10, "owner": "ann"}, older_never_overwrites=True)])
    node = Node.objects.get(source_id="d1")
    assert node.properties == {"state": "LIVE", "rows": 20, "owner": "ann"}
    assert node.last_seen == T2 and node.first_seen == T1


@pytest.mark.django_db
def test_a_newer_fact_still_overwrites():
    store.apply([fact(T1, {"state": "PENDING"}, older_never_overwrites=True)])
    store.apply([fact(T2, {"state": "LIVE"}, older_never_overwrites=True)])
    assert Node.objects.get(source_id="d1").properties == {"state": "LIVE"}


@pytest.mark.django_db
def test_without_the_flag_the_last_applied_fact_wins_as_before():
    store.apply([fact(T2, {"state": "LIVE"})])
    store.apply([fact(T1, {"state": "PENDING"})])
    assert Node.objects.get(source_id="d1").properties == {"state": "PENDING"}


def _artifact(updated, state, uri="gs://b/model"):
    ms = int(updated.timestamp() * 1000)
    return ArtifactRecord(id=7, type="system.Model", uri=uri, name="model", state=state, created_ms=ms - 60_000,
                          updated_ms=ms, properties={"display_name": "model"}, raw={"id": 7, "state": state})


@pytest.mark.django_db
def test_two_reads_of_one_mlmd_artifact_landing_out_of_order_end_with_the_newer():
    keys = mapping.Keys("kf")
    key = keys.artifact(_artifact(T2, "LIVE"))
    newer = mapping.artifact_facts(keys, _artifact(T2, "LIVE"))
    older = mapping.artifact_facts(keys, _artifact(T1, "PENDING"))
    store.apply(newer)
    store.apply(older)  # the partition that read the artifact before its change lands last
    assert Node.objects.get(source=key.source, kind=key.kind, source_id=key.source_id).properties["state"] == "LIVE"
    # the same reads in their natural order end the same
    NodeRevision.objects.all().delete()
    Node.objects.all().delete()
    store.apply(older)
    store.apply(newer)
    assert Node.objects.get(source=key.source, kind=key.kind, source_id=key.source_id).properties["state"] == "LIVE"
