"""The model version page draws the provenance card: the chain at the top, parameters, metrics, code
version, input data, approvals with every decision inline, and `?as_of=` shows the card of that time."""
from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

import pytest
from django.test import Client

from devtools.dashboard import DashCaller, find_component
from tests.support.provenance import T0, timed_story

pytestmark = pytest.mark.django_db


def page(user, node_id, search=""):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return DashCaller(client).call_json("page.children", {"url.pathname": f"/dashboard/model/{node_id}",
                                                          "url.search": search})


def text(tree, component_id):
    found = find_component(tree, component_id)
    assert found is not None, f"{component_id} is not on the page"
    return json.dumps(found, ensure_ascii=False)


def test_the_page_draws_every_section_of_the_card(users):
    from governance.approvals import services
    from governance.approvals.models import Stage
    from tests.support.approvals import open_policy
    from common.audit import context
    from lineage.models import Node

    ids = timed_story()
    open_policy("staging", approvals=1)
    with context.acting_as(context.for_user(users["engineer"])):
        req = services.create_request(users["engineer"], node=Node.objects.get(pk=ids["viya"]),
                                      target_stage=Stage.objects.get(name="staging"), justification="ok", submit=True)
    with context.acting_as(context.for_user(users["approver"])):
        services.decide(users["approver"], req.pk, "approve", "looked at the AUC")
    tree = page(users["approver"], ids["viya"])
    assert "s3://lake/train.csv" in text(tree, "mv-chain-data") and "r1" in text(tree, "mv-chain-runs")
    assert f"#{req.pk} → staging" in text(tree, "mv-chain-approvals")
    assert "learning_rate" in text(tree, "mv-parameters") and "KFP runtime parameters" in text(tree, "mv-parameters")
    assert "auc" in text(tree, "mv-metrics") and "0.93" in text(tree, "mv-metrics")
    assert "Gradient boosting" in text(tree, "mv-code")
    approvals = text(tree, "mv-approvals")
    assert "approver" in approvals and "looked at the AUC" in approvals and "engineer" in approvals
    assert "sha256:aa" in text(tree, "mv-data")
    assert f"/dashboard/model/{ids['viya']}" in text(tree, "mv-identities")  # every id links somewhere
    assert f"/dashboard/lineage?node={ids['run']}" in text(tree, "mv-runs")


def test_as_of_in_the_url_shows_the_card_of_that_time(users):
    ids = timed_story()
    then = quote((T0 + dt.timedelta(days=2, hours=1)).isoformat())
    tree = page(users["engineer"], ids["viya"], f"?as_of={then}")
    assert "2026-03-03T10:00:00Z" in text(tree, "mv-as-of")
    assert "No producing run is known" in text(tree, "mv-runs")  # the same_as link came on day 3
    before = page(users["engineer"], ids["viya"], f"?as_of={quote(T0.isoformat())}")
    assert "at that time" in text(before, "mv-missing")
    bad = page(users["engineer"], ids["viya"], "?as_of=yesterday")
    assert "not an ISO 8601 time" in text(bad, "mv-bad-as-of")
