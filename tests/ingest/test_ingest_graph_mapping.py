"""What an OpenLineage event becomes in the lineage graph (see lineage/ingest/mapping.py): edges point
downstream, outputs get a version per producing run, inputs are read from the version that existed,
parents and job-level (JobEvent) lineage are kept, facets land in properties."""
from __future__ import annotations

import pytest

from lineage import graph
from lineage.ingest import service
from lineage.models import Edge, Node

from tests.support.events import PRODUCER, SCHEMA, _facet, run_event


def node(kind, source_id):
    return Node.objects.get(kind=kind, source="openlineage", source_id=source_id)


def has_edge(kind, src, dst, open_=True):
    qs = Edge.objects.filter(kind=kind, src=src, dst=dst)
    return qs.filter(valid_to__isnull=True).exists() if open_ else qs.filter(valid_to__isnull=False).exists()


@pytest.mark.django_db
def test_run_event_edges_follow_the_direction_rule():
    column_lineage = _facet(fields={"total": {"inputFields": [{"namespace": "wh", "name": "raw", "field": "amount"}]}})
    service.ingest_event(run_event(
        "r1", "build", inputs=["raw"],
        outputs=[{"namespace": "wh", "name": "clean", "facets": {"columnLineage": column_lineage,
                                                                 "schema": _facet(fields=[{"name": "total"}])},
                  "outputFacets": {"outputStatistics": _facet(rowCount=3)}}],
        facets={"parent": _facet(run={"runId": "p1"}, job={"namespace": "sched", "name": "dag"})},
    ))
    job, run = node("job", "demo:build"), node("run", "r1")
    raw, clean = node("dataset", "wh:raw"), node("dataset", "wh:clean")
    version = node("dataset_version", "wh:clean@r1")
    parent_run, parent_job = node("run", "p1"), node("job", "sched:dag")
    assert has_edge("instance_of", job, run)
    assert has_edge("instance_of", parent_job, parent_run)
    assert has_edge("parent_of", parent_run, run)
    assert has_edge("consumed", raw, run)  # nobody produced raw: read from the dataset itself
    assert has_edge("produced", run, version)
    assert has_edge("version_of", version, clean)
    assert clean.properties["facets"]["columnLineage"] == column_lineage
    assert version.properties["facets"]["columnLineage"] == column_lineage
    assert version.properties["output_facets"]["outputStatistics"]["rowCount"] == 3
    assert run.properties["parent"] == {"run_id": "p1", "job": {"namespace": "sched", "name": "dag"}}
    assert parent_run.properties["job"] == {"namespace": "sched", "name": "dag"}
    assert parent_run.raw_id is None and run.raw is not None  # the parent's evidence is its own event
    assert run.raw.kind == "openlineage.RunEvent" and run.raw.body["run"]["runId"] == "r1"


@pytest.mark.django_db
def test_inputs_are_read_from_the_version_that_existed_at_event_time():
    service.ingest_event(run_event("w1", "writer", outputs=["t"], time="2024-04-01T00:00:00Z"))
    service.ingest_event(run_event("w2", "writer", outputs=["t"], time="2024-04-03T00:00:00Z"))
    service.ingest_event(run_event("r-between", "reader", inputs=["t"], time="2024-04-02T00:00:00Z"))
    service.ingest_event(run_event("r-after", "reader", inputs=["t"], time="2024-04-04T00:00:00Z"))
    assert has_edge("consumed", node("dataset_version", "wh:t@w1"), node("run", "r-between"))
    assert has_edge("consumed", node("dataset_version", "wh:t@w2"), node("run", "r-after"))
    # a run reading and writing the same table does not read its own output
    service.ingest_event(run_event("rw", "appender", inputs=["t"], outputs=["t"], time="2024-04-05T00:00:00Z"))
    assert has_edge("consumed", node("dataset_version", "wh:t@w2"), node("run", "rw"))
    # the recursive graph query walks upstream from the reader to the writer run through the version
    found = graph.lineage([node("run", "r-after").pk], direction="upstream", depth=3)
    assert node("run", "w2").pk in {n.pk for n in found.nodes}
    assert node("run", "w1").pk not in {n.pk for n in found.nodes}


@pytest.mark.django_db
def test_job_event_declares_job_level_lineage_and_the_newest_declaration_wins():
    def job_event(time, inputs, outputs):
        return {"eventTime": time, "producer": PRODUCER, "schemaURL": SCHEMA + "JobEvent",
                "job": {"namespace": "demo", "name": "designed", "facets": {"sql": _facet(query="select 1")}},
                "inputs": [{"namespace": "wh", "name": n} for n in inputs],
                "outputs": [{"namespace": "wh", "name": n} for n in outputs]}

    service.ingest_event(job_event("2024-05-01T00:00:00Z", ["a", "b"], ["c"]))
    job = node("job", "demo:designed")
    assert job.properties["facets"]["sql"]["query"] == "select 1"
    assert has_edge("consumed", node("dataset", "wh:a"), job) and has_edge("consumed", node("dataset", "wh:b"), job)
    assert has_edge("produced", job, node("dataset", "wh:c"))
    assert not Node.objects.filter(kind="run").exists()
    service.ingest_event(job_event("2024-05-02T00:00:00Z", ["a"], ["c"]))
    assert not has_edge("consumed", node("dataset", "wh:b"), job)
    assert has_edge("consumed", node("dataset", "wh:b"), job, open_=False)
    assert node("job", "demo:designed").properties["declared_inputs"] == ["wh:a"]
    # an older declaration arriving late does not reopen what the newer one dropped
    service.ingest_event(job_event("2024-04-30T00:00:00Z", ["a", "z"], ["c"]))
    assert not has_edge("consumed", node("dataset", "wh:z"), job)
    assert node("job", "demo:designed").properties["declared_inputs"] == ["wh:a"]


@pytest.mark.django_db
def test_dataset_event_updates_only_the_dataset():
    service.ingest_event({"eventTime": "2024-06-01T00:00:00Z", "producer": PRODUCER, "schemaURL": SCHEMA + "DatasetEvent",
                          "dataset": {"namespace": "wh", "name": "static", "facets": {"schema": _facet(fields=[{"name": "id"}])}}})
    dataset = node("dataset", "wh:static")
    assert dataset.properties["facets"]["schema"]["fields"] == [{"name": "id"}]
    assert Node.objects.count() == 1 and Edge.objects.count() == 0


@pytest.mark.django_db
def test_later_facets_win_per_facet_and_state_follows_event_time():
    service.ingest_event(run_event("s1", "job", event_type="START", time="2024-07-01T00:00:00Z",
                                   facets={"a": _facet(v=1), "b": _facet(v=1)}))
    service.ingest_event(run_event("s1", "job", event_type="FAIL", time="2024-07-01T00:10:00Z", facets={"a": _facet(v=2)}))
    service.ingest_event(run_event("s1", "job", event_type="RUNNING", time="2024-07-01T00:05:00Z",
                                   facets={"a": _facet(v=9), "b": _facet(v=3)}))
    props = node("run", "s1").properties
    assert props["state"] == "FAIL"
    assert props["facets"]["a"]["v"] == 2 and props["facets"]["b"]["v"] == 3
    assert props["started_at"].startswith("2024-07-01T00:00:00") and props["ended_at"].startswith("2024-07-01T00:10:00")
