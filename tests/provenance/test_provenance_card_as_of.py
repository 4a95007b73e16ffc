"""The card with ?as_of= tells the story as the store and governance knew it then: the graph of that time
(a same_as link made later is absent), node properties as they were (a run's status before it was
corrected), and no decision or stage from after it."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import client_for
from tests.support.provenance import T0, timed_story

pytestmark = pytest.mark.django_db


def card(client, node_id, as_of=None):
    params = {"as_of": as_of.isoformat()} if as_of else {}
    return client.get(f"/api/model-versions/{node_id}/provenance/", params)


def test_as_of_reads_the_graph_and_properties_of_that_time(users):
    ids = timed_story()
    client = client_for(users["engineer"])
    now = card(client, ids["viya"]).json()
    assert {i["source"] for i in now["identities"]} == {"viya", "kubeflow"}
    [run] = now["runs"]
    assert run["status"] == "SUCCEEDED" and run["parameters"][0] == {
        "name": "learning_rate", "value": 0.1, "origin": "KFP runtime parameters"}
    assert [m["value"] for m in now["metrics"]] == [0.93]

    before_link = card(client, ids["viya"], T0 + dt.timedelta(days=2, hours=1)).json()
    assert [i["source"] for i in before_link["identities"]] == ["viya"]
    assert before_link["runs"] == [] and before_link["metrics"] == [] and before_link["input_data"] == []
    assert before_link["as_of"] == "2026-03-03T10:00:00Z"

    after_link = card(client, ids["viya"], T0 + dt.timedelta(days=4)).json()
    [run_then] = after_link["runs"]
    assert run_then["status"] == "RUNNING"  # corrected to SUCCEEDED only on day 5
    assert [d["uri"] for d in after_link["input_data"]] == ["s3://lake/train.csv"]


def test_before_the_version_existed_is_a_404(users):
    ids = timed_story()
    response = card(client_for(users["engineer"]), ids["viya"], T0 + dt.timedelta(days=1))
    assert response.status_code == 404 and "did not exist" in response.json()["detail"]


def test_governance_is_cut_at_as_of(users):
    from governance.approvals import services
    from governance.approvals.models import Stage
    from tests.support.approvals import open_policy
    from common.audit import context
    from lineage.models import Node

    ids = timed_story()
    open_policy("staging", approvals=1)
    before = dt.datetime.now(dt.timezone.utc)
    with context.acting_as(context.for_user(users["engineer"])):
        req = services.create_request(users["engineer"], node=Node.objects.get(pk=ids["viya"]),
                                      target_stage=Stage.objects.get(name="staging"), justification="ok", submit=True)
    with context.acting_as(context.for_user(users["approver"])):
        services.decide(users["approver"], req.pk, "approve", "fine")
    client = client_for(users["engineer"])
    now = card(client, ids["viya"]).json()
    assert now["stage"] == "staging" and now["approvals"][0]["decisions"][0]["actor"] == "approver"
    then = card(client, ids["viya"], before).json()
    assert then["stage"] is None and then["approvals"] == [] and then["stage_history"] == []
    assert then["gates"] == {"request": None, "evaluated_at": None, "results": []}
