"""lineage.marquez.marquez_lineage: Marquez's job/dataset graph derived from runs and dataset versions.

The store facts are written here directly, the way lineage/ingest/mapping.py documents it, so the
derivation is checked independently of the ingest code.
"""
import datetime as dt

import pytest

from lineage import store
from lineage.marquez import marquez_lineage

OL = "openlineage"
T = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
PG = "postgres://db:5432"  # a namespace with colons, as real producers send


def job(name):
    return store.NodeKey(OL, "job", f"etl:{name}")


def run(run_id):
    return store.NodeKey(OL, "run", run_id)


def ds(ns, name):
    return store.NodeKey(OL, "dataset", f"{ns}:{name}")


def ver(ns, name, run_id):
    return store.NodeKey(OL, "dataset_version", f"{ns}:{name}@{run_id}")


def edge(kind, src, dst, hours=0):
    return store.EdgeFact(kind=kind, src=src, dst=dst, source=OL, valid_from=T + dt.timedelta(hours=hours))


@pytest.fixture
def pipeline(db):
    """extract -> raw -> transform -> features -> train -> model; audit also reads raw; report (a JobEvent's
    design-time lineage) reads features; old once wrote raw but that edge is closed; lonely has no job."""
    facts = []
    for name in ("extract", "transform", "train", "audit", "report", "old"):
        facts.append(store.NodeFact(key=job(name), namespace="etl", name=name, seen_at=T))
    schema = {"schema": {"fields": [{"name": "id", "type": "INTEGER"}, {"name": "amount", "type": "DECIMAL"}]}}
    for ns, name, props in ((PG, "public.raw", {"facets": schema}), ("s3://lake", "features", {}),
                            ("s3://lake", "model", {}), ("s3://lake", "lonely", {})):
        facts.append(store.NodeFact(key=ds(ns, name), namespace=ns, name=name, properties=props, seen_at=T))
    for run_id, job_name, state in (("r1", "extract", "COMPLETE"), ("r2", "transform", "COMPLETE"),
                                    ("r3", "train", "FAIL"), ("r4", "audit", "START")):
        facts.append(store.NodeFact(key=run(run_id), namespace="etl", name=run_id, seen_at=T,
                                    properties={"run_id": run_id, "state": state, "state_time": "2024-05-01T01:00:00"}))
        facts.append(edge("instance_of", job(job_name), run(run_id)))
    facts += [
        store.NodeFact(key=ver(PG, "public.raw", "r1"), namespace=PG, name="public.raw", seen_at=T),
        store.NodeFact(key=ver("s3://lake", "features", "r2"), namespace="s3://lake", name="features", seen_at=T),
        store.NodeFact(key=ver("s3://lake", "model", "r3"), namespace="s3://lake", name="model", seen_at=T),
        edge("produced", run("r1"), ver(PG, "public.raw", "r1")),
        edge("version_of", ver(PG, "public.raw", "r1"), ds(PG, "public.raw")),
        edge("consumed", ver(PG, "public.raw", "r1"), run("r2")),
        edge("produced", run("r2"), ver("s3://lake", "features", "r2")),
        edge("version_of", ver("s3://lake", "features", "r2"), ds("s3://lake", "features")),
        edge("consumed", ds("s3://lake", "features"), run("r3")),  # read before any version existed
        edge("produced", run("r3"), ver("s3://lake", "model", "r3")),
        edge("version_of", ver("s3://lake", "model", "r3"), ds("s3://lake", "model")),
        edge("consumed", ver(PG, "public.raw", "r1"), run("r4")),
        edge("consumed", ds("s3://lake", "features"), job("report")),
        edge("produced", job("old"), ds(PG, "public.raw")),
    ]
    store.apply(facts, now=T)
    store.apply([store.EdgeClose(kind="produced", src=job("old"), dst=ds(PG, "public.raw"), at=T)])


def by_id(answer):
    return {node["id"]: node for node in answer["graph"]}


RAW, FEATURES, MODEL = f"dataset:{PG}:public.raw", "dataset:s3://lake:features", "dataset:s3://lake:model"


def test_job_at_depth_zero_has_its_own_inputs_and_outputs(pipeline):
    graph = by_id(marquez_lineage("job:etl:transform", 0))
    assert set(graph) == {"job:etl:transform", RAW, FEATURES}
    transform = graph["job:etl:transform"]
    assert transform["type"] == "JOB"
    assert transform["inEdges"] == [{"origin": RAW, "destination": "job:etl:transform"}]
    assert transform["outEdges"] == [{"origin": "job:etl:transform", "destination": FEATURES}]
    assert transform["data"]["inputs"] == [{"namespace": PG, "name": "public.raw"}]
    assert transform["data"]["outputs"] == [{"namespace": "s3://lake", "name": "features"}]
    assert transform["data"]["id"] == {"namespace": "etl", "name": "transform"}
    assert transform["data"]["latestRun"]["id"] == "r2" and transform["data"]["latestRun"]["state"] == "COMPLETED"
    assert graph[RAW]["type"] == "DATASET"
    assert graph[RAW]["outEdges"] == [{"origin": RAW, "destination": "job:etl:transform"}]
    assert graph[RAW]["inEdges"] == []  # extract is one job further away: its edge is not in this answer


def test_depth_counts_jobs_and_siblings_sharing_a_dataset_are_included(pipeline):
    graph = by_id(marquez_lineage("job:etl:transform", 1))
    assert set(graph) == {"job:etl:transform", "job:etl:extract", "job:etl:audit", "job:etl:train",
                          "job:etl:report", RAW, FEATURES, MODEL}
    assert "job:etl:old" not in graph  # its only edge is closed
    assert graph[RAW]["inEdges"] == [{"origin": "job:etl:extract", "destination": RAW}]
    assert graph[RAW]["outEdges"] == [{"origin": RAW, "destination": "job:etl:audit"},
                                      {"origin": RAW, "destination": "job:etl:transform"}]
    assert graph[FEATURES]["outEdges"] == [{"origin": FEATURES, "destination": "job:etl:report"},
                                           {"origin": FEATURES, "destination": "job:etl:train"}]
    assert graph["job:etl:train"]["data"]["latestRun"]["state"] == "FAILED"
    assert "latestRun" not in graph["job:etl:report"]["data"]  # unknown fields are left out, as Marquez's description has none nullable
    assert by_id(marquez_lineage("job:etl:transform", 20)).keys() == graph.keys()


def test_every_edge_is_listed_on_both_of_its_ends(pipeline):
    graph = by_id(marquez_lineage("job:etl:extract", 20))
    outs = {(e["origin"], e["destination"]) for n in graph.values() for e in n["outEdges"]}
    ins = {(e["origin"], e["destination"]) for n in graph.values() for e in n["inEdges"]}
    assert outs == ins and len(outs) == 7
    for node_id, node in graph.items():
        assert all(e["origin"] == node_id for e in node["outEdges"])
        assert all(e["destination"] == node_id for e in node["inEdges"])


def test_dataset_start_with_a_colon_namespace_and_its_data(pipeline):
    graph = by_id(marquez_lineage(RAW, 0))
    assert set(graph) == {RAW, FEATURES, "job:etl:extract", "job:etl:transform", "job:etl:audit"}
    data = graph[RAW]["data"]
    assert data["id"] == {"namespace": PG, "name": "public.raw"}
    assert [f["name"] for f in data["fields"]] == ["id", "amount"]
    assert data["createdAt"] == "2024-05-01T00:00:00Z"


def test_a_dataset_no_job_touches_comes_back_alone(pipeline):
    answer = marquez_lineage("dataset:s3://lake:lonely", 5)
    assert [(n["id"], n["inEdges"], n["outEdges"]) for n in answer["graph"]] == [("dataset:s3://lake:lonely", [], [])]


@pytest.mark.parametrize("bad", ["", "dataset", "table:ns:name", "dataset:no-name", "dataset::name", "job:ns:"])
def test_malformed_node_ids_raise_value_error(pipeline, bad):
    with pytest.raises(ValueError):
        marquez_lineage(bad, 1)


def test_bad_depth_raises_value_error_and_unknown_nodes_lookup_error(pipeline):
    with pytest.raises(ValueError):
        marquez_lineage("job:etl:transform", -1)
    with pytest.raises(ValueError):
        marquez_lineage("job:etl:transform", "deep")
    with pytest.raises(LookupError):
        marquez_lineage("job:etl:nope", 1)
    with pytest.raises(LookupError):
        marquez_lineage("job:s3://lake:features", 1)  # a dataset's name is not a job
