"""The dashboard shows connector settings (URL, user name) only to the roles GET /api/connectors/ shows them
to (admins): the page as each role draws it, through the same callback the browser calls."""
import json

import pytest
from django.test import Client

from connectors.models import ConnectorConfig
from devtools.dashboard import DashCaller

pytestmark = pytest.mark.django_db

URL = "https://viya.internal.example:8443"


def _page(user) -> str:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return json.dumps(DashCaller(client).call_json(
        "page.children", {"url.pathname": "/dashboard/connectors", "url.search": ""}))


@pytest.mark.parametrize("role", ["engineer", "auditor", "approver", "outsider", "admin"])
def test_connector_settings_follow_the_api_rule(users, clients, role):
    ConnectorConfig.objects.create(name="viya-prod", kind="viya", settings={"url": URL, "username": "svc-ledger"})
    api_shows = clients[role].get("/api/connectors/").status_code == 200
    page = _page(users[role])
    assert (URL in page) == api_shows and ("svc-ledger" in page) == api_shows
    assert api_shows == (role == "admin")
    if not api_shows and role != "outsider":
        assert "conn-configs-denied" in page
