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


@pytest.mark.django_db
def test_newer_by_compares_the_facts_own_clock_not_the_nodes_last_seen():
    """Another source saw the node later (T3) on its own clock; the two reads by this source (T1, T2) still
    end with the newer one, whichever lands last, and nothing the other source said is overwritten."""
    t3 = T2 + dt.timedelta(hours=1)
    store.apply([fact(t3, {"state": "SUCCEEDED"})])

    def read(seen, mlmd_state):
        return fact(seen, {"mlmd_state": mlmd_state, "mlmd_at": seen.isoformat(), "state": "from-mlmd"},
                    newer_by="mlmd_at")

    for first, last in ((read(T1, "RUNNING"), read(T2, "COMPLETE")), (read(T2, "COMPLETE"), read(T1, "RUNNING"))):
        store.apply([first])
        store.apply([last])
        props = Node.objects.get(source_id="d1").properties
        assert props["mlmd_state"] == "COMPLETE" and props["mlmd_at"] == T2.isoformat()
    assert props["state"] == "from-mlmd"  # a newer read merges over the node, as any fact does
    assert Node.objects.get(source_id="d1").last_seen == t3


def _root_execution(updated, state, run_id="run-42"):
    from connectors.kubeflow.records import ExecutionRecord

    ms = int(updated.timestamp() * 1000)
    return ExecutionRecord(id=300, type="system.DAGExecution", name=f"run/{run_id}", state=state,
                           created_ms=ms - 60_000, updated_ms=ms, properties={}, raw={"id": 300, "state": state},
                           run_id=run_id, pipeline_name="churn")


@pytest.mark.django_db
def test_two_reads_of_a_run_root_execution_out_of_order_end_with_the_newer_beside_the_kfp_api_run():
    """The run node is also the KFP API's, whose facts are seen at the run's finish (after both reads)."""
    from connectors.kubeflow.records import ExecutionBatch

    keys = mapping.Keys("kf")
    finished = T2 + dt.timedelta(hours=1)
    api_run = mapping.run_facts(keys, {"run_id": "run-42", "state": "SUCCEEDED", "created_at": T1.isoformat(),
                                       "finished_at": finished.isoformat()})
    older = mapping.execution_facts(keys, ExecutionBatch(executions=[_root_execution(T1, "RUNNING")]))
    newer = mapping.execution_facts(keys, ExecutionBatch(executions=[_root_execution(T2, "COMPLETE")]))
    key = keys.run("run-42")
    for order in ((api_run, newer, older), (api_run, older, newer), (older, api_run, newer), (newer, older, api_run)):
        Node.objects.all().delete()
        for facts in order:
            store.apply(facts)
        props = Node.objects.get(source=key.source, kind=key.kind, source_id=key.source_id).properties
        assert (props["mlmd_state"], props["state"]) == ("COMPLETE", "SUCCEEDED"), order
