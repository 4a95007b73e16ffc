"""GET /api/model-registry/: every model version from every source with its governance state; filters,
sorting and offset pages through the one registry filterset, one SQL statement per page."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lineage import store
from lineage.kinds import EdgeKind, NodeKind
from lineage.store import EdgeFact, NodeFact, NodeKey
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
WHEN = dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def registry(users):
    """Twelve Viya versions (two promoted to staging, one with a pending request, one archived), a Kubeflow
    version produced by a pipeline run, and an OpenLineage model output."""
    from governance.approvals import services
    from governance.approvals.models import Stage
    from tests.support.approvals import open_policy
    from governance.archive.services import build_bundle
    from common.audit import context
    from lineage.models import Node

    facts = []
    for i in range(12):
        facts.append(NodeFact(NodeKey("viya", NodeKind.MODEL_VERSION, f"v/model/m{i:02d}/version/1.0"),
                              name=f"scorer-{i:02d} 1.0", seen_at=WHEN + dt.timedelta(hours=i)))
    job, run = NodeKey("kubeflow", NodeKind.JOB, "k/pipeline/p"), NodeKey("kubeflow", NodeKind.RUN, "k/run/r")
    kfp = NodeKey("kubeflow", NodeKind.MODEL_VERSION, "k/artifact/9")
    ol = NodeKey("openlineage", NodeKind.DATASET_VERSION, "mlflow://registry:models/x@run1")
    facts += [NodeFact(job, name="train-pipeline", seen_at=WHEN), NodeFact(run, name="r", seen_at=WHEN),
              NodeFact(kfp, name="s3://m/model", display_name="model", seen_at=WHEN),
              NodeFact(ol, name="models/x", namespace="mlflow://registry", seen_at=WHEN,
                       properties={"facets": {"datasetType": {"datasetType": "MODEL"}}}),
              EdgeFact(EdgeKind.INSTANCE_OF, job, run, "kubeflow", valid_from=WHEN),
              EdgeFact(EdgeKind.PRODUCED, run, kfp, "kubeflow", valid_from=WHEN)]
    store.apply(facts)
    nodes = {n.name: n for n in Node.objects.filter(source="viya")}
    open_policy("staging", approvals=1)
    staging = Stage.objects.get(name="staging")
    for name in ("scorer-03 1.0", "scorer-07 1.0"):
        with context.acting_as(context.for_user(users["engineer"])):
            req = services.create_request(users["engineer"], node=nodes[name], target_stage=staging,
                                          justification="ok", submit=True)
        with context.acting_as(context.for_user(users["approver"])):
            services.decide(users["approver"], req.pk, "approve", "ok")
    # Production asks for a producing run, which scorer-05 lacks: its gate fails.
    open_policy("production", approvals=2, require_producing_run=True)
    with context.acting_as(context.for_user(users["engineer"])):
        pending = services.create_request(users["engineer"], node=nodes["scorer-05 1.0"],
                                          target_stage=Stage.objects.get(name="production"),
                                          justification="please", submit=True)
    with context.acting_as(context.for_user(users["auditor"])):
        build_bundle(nodes["scorer-09 1.0"], users["auditor"], depth=2)
    return {"nodes": nodes, "pending": pending}


def page(client, **params):
    response = client.get("/api/model-registry/", params)
    assert response.status_code == 200, response.content[:300]
    return response.json()


def test_rows_carry_the_governance_state(registry, users):
    body = page(client_for(users["engineer"]), limit=100)
    assert body["count"] == 14
    rows = {r["label"]: r for r in body["results"]}
    assert rows["scorer-03 1.0"]["stage"] == "staging" and rows["scorer-03 1.0"]["last_decision"] == "approve"
    assert rows["scorer-03 1.0"]["last_decision_by"] == "approver"
    assert rows["scorer-03 1.0"]["gate_status"] is None  # its stage policy switches every gate off
    assert rows["scorer-05 1.0"]["open_request"] == registry["pending"].pk
    assert rows["scorer-05 1.0"]["open_request_state"] == "pending"
    assert rows["scorer-05 1.0"]["open_request_stage"] == "production"
    assert rows["scorer-05 1.0"]["gate_status"] == "fail" and rows["scorer-05 1.0"]["gates_failing"] == 1
    assert rows["scorer-09 1.0"]["has_evidence"] is True and rows["scorer-08 1.0"]["has_evidence"] is False
    assert rows["model"]["producer"] == "train-pipeline" and rows["model"]["source"] == "kubeflow"
    assert rows["models/x"]["source"] == "openlineage"
    assert rows["scorer-00 1.0"]["card_url"] == f"/api/model-versions/{rows['scorer-00 1.0']['id']}/provenance/"


def test_filters(registry, users):
    client = client_for(users["approver"])
    assert {r["label"] for r in page(client, stage="staging")["results"]} == {"scorer-03 1.0", "scorer-07 1.0"}
    assert page(client, stage="none")["count"] == 12
    assert [r["label"] for r in page(client, pending="true")["results"]] == ["scorer-05 1.0"]
    assert page(client, pending="false")["count"] == 13
    assert [r["label"] for r in page(client, has_evidence="true")["results"]] == ["scorer-09 1.0"]
    assert page(client, source="openlineage")["count"] == 1
    assert {r["label"] for r in page(client, q="scorer-1")["results"]} == {"scorer-10 1.0", "scorer-11 1.0"}


def test_sorting_and_paging(registry, users):
    client = client_for(users["auditor"])
    first = page(client, sort="-created", limit=5)
    assert first["count"] == 14 and [r["label"] for r in first["results"][:2]] == ["scorer-11 1.0", "scorer-10 1.0"]
    rest = page(client, sort="-created", limit=5, offset=5)["results"] + page(client, sort="-created", limit=5, offset=10)["results"]
    labels = [r["label"] for r in first["results"] + rest]
    assert len(labels) == len(set(labels)) == 14
    by_stage = page(client, sort="stage", limit=2)["results"]
    assert {r["stage"] for r in by_stage} == {"staging"}
    assert page(client, offset=100)["results"] == [] and page(client, offset=100)["count"] == 14


def test_a_page_is_one_statement(registry, users):
    from governance.provenance.views import registry_page

    with CaptureQueriesContext(connection) as queries:
        rows, total = registry_page({"stage": "none", "sort": "-created", "q": "scorer"}, offset=5, limit=5)
    assert total == 10 and len(rows) == 5
    assert len(queries.captured_queries) == 1, [q["sql"][:200] for q in queries.captured_queries]


@pytest.mark.parametrize("params,field", [({"pending": "maybe"}, "pending"), ({"sort": "size"}, "sort"),
                                          ({"limit": "0"}, "limit"), ({"offset": "-1"}, "offset")])
def test_bad_filters_are_400s_naming_the_field(registry, users, params, field):
    response = client_for(users["engineer"]).get("/api/model-registry/", params)
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")
    assert field in response.content.decode()


@pytest.mark.parametrize("who,status", [("outsider", 403), ("anonymous", 401)])
def test_no_role_no_registry(registry, clients, who, status):
    assert clients[who].get("/api/model-registry/").status_code == status


def test_an_overridden_gate_no_longer_counts_as_failing(registry, users):
    from governance.approvals import services
    from common.audit import context

    req = registry["pending"]
    with context.acting_as(context.for_user(users["admin"])):
        services.override_gate(users["admin"], req.pk, "producing_run", "Built in SAS; run not harvested.")
    [row] = page(client_for(users["engineer"]), pending="true")["results"]
    assert row["gate_status"] == "pass" and row["gates_evaluated"] >= 1
