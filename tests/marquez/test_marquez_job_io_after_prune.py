"""Retention deletes nodes without passing through store.apply: the kept job io rows (lineage.job_io) must
still be true afterwards. A job whose latest run is pruned falls back to its previous run's inputs; a pruned
dataset version leaves its producer's and readers' rows as the derivation says."""
from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from governance.archive import retention
from lineage.kinds import NodeKind, Source
from lineage.models import JobIO, JobLatestRun, Node
from tests.conftest import client_for, make_user
from tests.support.job_io import when, assert_rows_true
from tests.support.marquez import DB, PRODUCER, RUN_SCHEMA, _dataset

pytestmark = pytest.mark.django_db


def _event(run_id, minutes, inputs, outputs=(), job="load"):
    return {"eventType": "COMPLETE", "eventTime": when(minutes), "producer": PRODUCER, "schemaURL": RUN_SCHEMA,
            "run": {"runId": run_id}, "job": {"namespace": "etl", "name": job, "facets": {}},
            "inputs": [{"namespace": DB, "name": n} for n in inputs],
            "outputs": [_dataset(n, {"x": "INTEGER"}) for n in outputs]}


def _prune(node: Node) -> None:
    """Retention's own prune of one node (what apply_retention does for each node it decided to prune)."""
    Node.objects.filter(pk=node.pk).update(archived_at=timezone.now())
    node.refresh_from_db()
    decision = retention.Decision(node_id=node.pk, kind=node.kind, source=node.source, source_id=node.source_id,
                                  name=node.name, first_seen=node.first_seen.isoformat(), action=retention.PRUNE,
                                  reason="test", bundles=[])
    retention._prune(decision)
    assert decision.action == retention.PRUNE, decision.reason
    assert not Node.objects.filter(pk=node.pk).exists()


def _reads(job: Node) -> set[str]:
    return set(Node.objects.filter(pk__in=JobIO.objects.filter(job=job, role="in").values("dataset_id"))
               .values_list("name", flat=True))


def test_pruning_the_latest_run_falls_back_to_the_previous_run():
    old, new = (str(uuid.UUID(int=i, version=4)) for i in (11, 12))
    engineer = client_for(make_user("producer", "engineer"))
    for body in (_event(old, 10, ["a"]), _event(new, 60, ["b", "c"])):
        assert engineer.post("/api/v1/lineage", body, format="json").status_code == 201
    load = Node.objects.get(source=Source.OPENLINEAGE, kind=NodeKind.JOB, name="load")
    assert JobLatestRun.objects.get(job=load).run.source_id == new and _reads(load) == {"b", "c"}

    _prune(Node.objects.get(source=Source.OPENLINEAGE, kind=NodeKind.RUN, source_id=new))
    assert_rows_true()
    assert JobLatestRun.objects.get(job=load).run.source_id == old
    assert _reads(load) == {"a"}

    _prune(Node.objects.get(source=Source.OPENLINEAGE, kind=NodeKind.RUN, source_id=old))
    assert_rows_true()
    assert not JobLatestRun.objects.filter(job=load).exists() and _reads(load) == set()


def test_pruning_a_dataset_version_keeps_producer_and_reader_rows_true():
    writer, reader = (str(uuid.UUID(int=i, version=4)) for i in (21, 22))
    engineer = client_for(make_user("producer", "engineer"))
    for body in (_event(writer, 10, [], outputs=["t"], job="make"), _event(reader, 20, ["t"], job="use")):
        assert engineer.post("/api/v1/lineage", body, format="json").status_code == 201
    assert_rows_true()
    versions = Node.objects.filter(source=Source.OPENLINEAGE, kind=NodeKind.DATASET_VERSION)
    assert versions.exists()
    for version in versions:
        _prune(version)
        assert_rows_true()
