"""Callbacks re-check the caller's role on the server: calling them as the wrong role is refused and
changes nothing, whatever the page showed."""
import json

import pytest
from django.test import Client

from connectors.models import ConnectorConfig, Harvest
from dashboard import auth
from dashboard.app import get_app
from devtools.dashboard import DashCaller, demo_model
from governance.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def caller_for(user) -> DashCaller:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return DashCaller(client)


@pytest.fixture
def connector(db):
    return ConnectorConfig.objects.create(name="kfp-local", kind="kubeflow", settings={"kfp_host": "http://127.0.0.1:9", "timeout": 2,
                                                                                          "retry_attempts": 1})


@pytest.mark.parametrize("role", ["engineer", "auditor", "approver", "outsider"])
def test_harvest_now_is_refused_to_everyone_but_admins(users, connector, role):
    audit_before = AuditEntry.objects.count()
    response = caller_for(users[role]).call_json(
        "conn-result.children", {"conn-harvest.n_clicks": 1, "conn-pick.value": "kfp-local"})
    text = json.dumps(response)
    assert "conn-refused" in text and "needs the role admin" in text
    assert Harvest.objects.count() == 0
    # Nothing but the refusal itself is recorded (governance.audit.refusals), under the caller's name.
    added = list(AuditEntry.objects.order_by("seq"))[audit_before:]
    assert [(e.action, e.actor_username, e.object_id) for e in added] == [("connector.harvest.refused", role, "kfp-local")]
    assert "needs the role admin" in added[0].reason and added[0].request_id


def test_harvest_button_is_only_drawn_for_admins(users, connector):
    engineer = caller_for(users["engineer"]).call_json(
        "page.children", {"url.pathname": "/dashboard/connectors", "url.search": ""})
    admin = caller_for(users["admin"]).call_json(
        "page.children", {"url.pathname": "/dashboard/connectors", "url.search": ""})
    assert "conn-harvest-denied" in json.dumps(engineer) and '"conn-harvest"' not in json.dumps(engineer)
    assert '"conn-harvest"' in json.dumps(admin)


def test_admin_harvest_now_runs_a_harvest_and_reports_its_outcome(users, connector):
    """The admin's click reaches the connector: against a port nothing listens on, the harvest fails,
    is recorded as failed with its error, audited under the admin's name, and the error is shown."""
    pytest.importorskip("connectors.kubeflow.plugin")
    response = caller_for(users["admin"]).call_json(
        "conn-result.children", {"conn-harvest.n_clicks": 1, "conn-pick.value": "kfp-local"})
    harvest = Harvest.objects.get()
    text = json.dumps(response)
    if harvest.status == "failed":
        assert "conn-failed" in text and harvest.error.split(":")[0] in text
    else:
        assert "conn-done" in text
    entries = list(AuditEntry.objects.filter(object_type="harvest", object_id=str(harvest.pk)))
    assert [e.actor_username for e in entries] == ["admin"]


def test_lineage_callbacks_refuse_users_without_a_role(users):
    ids = demo_model()
    caller = caller_for(users["outsider"])
    details = caller.call_json("lin-details.children", {"lin-graph.tapNodeData": {"id": str(ids["dataset"])}})
    assert "You need" not in json.dumps(details)  # not a leak of an API message
    assert "needs the role" in json.dumps(details)
    assert "train.csv" not in json.dumps(details)
    hits = caller.call_json("lin-search-results.children", {"lin-search-go.n_clicks": 1, "lin-search.value": "churn"})
    assert "needs the role" in json.dumps(hits) and "churn-model" not in json.dumps(hits)


def test_without_the_django_view_in_front_there_is_no_user():
    """A request that reaches the Flask app directly (not through dashboard.views) carries no user."""
    server = get_app().server
    with server.test_request_context("/dashboard/_dash-update-component", method="POST"):
        assert auth.current_user() is None
        with pytest.raises(auth.PermissionRefused):
            auth.require_role("admin")


def test_direct_flask_callback_post_is_refused(users):
    ids = demo_model()
    caller = caller_for(users["engineer"])
    payload = caller.payload("lin-details.children", {"lin-graph.tapNodeData": {"id": str(ids["dataset"])}})
    client = get_app().server.test_client()
    response = client.post("/dashboard/_dash-update-component", data=json.dumps(payload),
                           content_type="application/json")
    assert response.status_code == 200
    assert "needs the role" in response.get_data(as_text=True) or "not signed in" in response.get_data(as_text=True)
    assert "train.csv" not in response.get_data(as_text=True)
