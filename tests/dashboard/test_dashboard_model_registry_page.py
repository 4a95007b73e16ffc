"""/dashboard/models: every model version with its governance state, filtered, sorted and paged on the
server through the registry filterset; the callback re-checks the caller's role; overview tiles link here."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from dashboard.pages.models import PAGE_SIZE
from devtools.dashboard import DashCaller, find_component
from lineage import store
from lineage.kinds import NodeKind
from lineage.store import NodeFact, NodeKey

pytestmark = pytest.mark.django_db
WHEN = dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)


def caller(user) -> DashCaller:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return DashCaller(client)


def page(user, path, search=""):
    return caller(user).call_json("page.children", {"url.pathname": path, "url.search": search})


@pytest.fixture
def versions(users):
    """30 Viya versions, one promoted to staging."""
    from governance.approvals import services
    from governance.approvals.models import Stage
    from tests.support.approvals import open_policy
    from common.audit import context
    from lineage.models import Node

    store.apply([NodeFact(NodeKey("viya", NodeKind.MODEL_VERSION, f"v/model/m{i:02d}/version/1.0"),
                          name=f"scorer-{i:02d} 1.0", seen_at=WHEN + dt.timedelta(hours=i)) for i in range(30)])
    open_policy("staging", approvals=1)
    node = Node.objects.get(name="scorer-17 1.0")
    with context.acting_as(context.for_user(users["engineer"])):
        req = services.create_request(users["engineer"], node=node, target_stage=Stage.objects.get(name="staging"),
                                      justification="ok", submit=True)
    with context.acting_as(context.for_user(users["approver"])):
        services.decide(users["approver"], req.pk, "approve", "ok")
    return node


def filters(**values):
    base = {"reg-q.value": "", "reg-stage.value": "", "reg-source.value": "", "reg-flags.value": [],
            "reg-sort.value": "name", "reg-prev.n_clicks": 0, "reg-next.n_clicks": 0, "reg-offset.data": 0}
    base.update({f"reg-{k}.value" if not k.startswith("reg-") else k: v for k, v in values.items()})
    return base


def test_first_render_lists_the_first_page_with_links_to_each_card(users, versions):
    tree = page(users["auditor"], "/dashboard/models")
    table = json.dumps(find_component(tree, "reg-table"))
    assert "scorer-00 1.0" in table and f"scorer-{PAGE_SIZE - 1:02d} 1.0" in table and f"scorer-{PAGE_SIZE:02d}" not in table
    assert f"/dashboard/model/{versions.pk}" in table
    assert find_component(tree, "reg-summary")["props"]["children"] == "1–25 of 30 model versions"
    staged = page(users["auditor"], "/dashboard/models", "?stage=staging")
    assert "scorer-17 1.0" in json.dumps(find_component(staged, "reg-table"))
    assert "scorer-00" not in json.dumps(find_component(staged, "reg-table"))


def test_filters_sorting_and_paging_run_on_the_server(users, versions):
    c = caller(users["engineer"])
    out = c.call_json("reg-results.children", filters(stage="staging"), changed="reg-stage.value")
    text = json.dumps(out)
    assert "scorer-17 1.0" in text and "scorer-16" not in text and "approve by approver" in text
    out = c.call_json("reg-results.children", filters(sort="-created"), changed="reg-sort.value")
    rows = json.dumps(out["reg-results"]["children"])
    assert rows.index("scorer-29 1.0") < rows.index("scorer-28 1.0")
    out = c.call_json("reg-results.children", filters(**{"reg-next.n_clicks": 1}), changed="reg-next.n_clicks")
    assert out["reg-offset"]["data"] == PAGE_SIZE and out["reg-next"]["disabled"] is True
    assert "scorer-29 1.0" in json.dumps(out) and "scorer-00 1.0" not in json.dumps(out)
    out = c.call_json("reg-results.children", filters(q="scorer-2"), changed="reg-q.value")
    assert out["reg-summary"]["children"] == "1–10 of 10 model versions"


def test_the_registry_callback_refuses_callers_without_a_role(users, versions):
    out = caller(users["outsider"]).call_json("reg-results.children", filters(stage="staging"), changed="reg-stage.value")
    text = json.dumps(out)
    assert "reg-refused" in text and "scorer-17" not in text
    refused = page(users["outsider"], "/dashboard/models")
    assert find_component(refused, "reg-table") is None


def test_overview_tiles_and_stage_rows_link_to_the_registry(users, versions):
    tree = json.dumps(page(users["engineer"], "/dashboard/"))
    assert '"/dashboard/models"' in tree and '"/dashboard/models?pending=true"' in tree
    assert '"/dashboard/models?stage=staging"' in tree and '"/dashboard/models?stage=none"' in tree
    shell = Client()
    shell.force_login(users["engineer"])
    assert b'"nav-models"' in shell.get("/dashboard/_dash-layout").content
