"""A token's user and roles are remembered between requests (API_TOKEN_CACHE_SECONDS), and forgotten as soon
as the token is revoked, renamed, deleted or runs out, or the user or their roles change: the next request
is judged on what is in the database, not on what was remembered."""
from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance.accounts import token_cache, tokens
from governance.accounts.models import ApiToken
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cache_on(settings):
    settings.API_TOKEN_CACHE_SECONDS = 60
    token_cache.forget()


def _token_queries(captured) -> int:
    return sum(1 for q in captured.captured_queries if "accounts_apitoken" in q["sql"])


def test_a_remembered_token_is_not_looked_up_again(users):
    client = client_for(users["engineer"])
    assert client.get("/api/whoami/").json() == {"username": "engineer", "roles": ["engineer"]}
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/whoami/").status_code == 200
    assert _token_queries(captured) == 0


def test_off_when_the_setting_is_zero(users, settings):
    settings.API_TOKEN_CACHE_SECONDS = 0
    client = client_for(users["engineer"])
    client.get("/api/whoami/")
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/whoami/").status_code == 200
    assert _token_queries(captured) == 1


def test_revoked_token_is_refused_at_the_next_request(users):
    engineer = users["engineer"]
    client = client_for(engineer)
    assert client.get("/api/nodes/").status_code == 200
    assert tokens.revoke(ApiToken.objects.get(pk=engineer.auth_token.pk))
    refused = client.get("/api/nodes/")
    assert refused.status_code == 401 and refused.json()["detail"] == "Token revoked: create a new one."


def test_revoked_through_the_api_is_refused_at_the_next_request(users, clients):
    made = clients["auditor"].post("/api/tokens/", {"name": "ci"}, format="json").json()
    from rest_framework.test import APIClient

    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION="Bearer " + made["token"])
    assert other.get("/api/nodes/").status_code == 200
    assert clients["auditor"].delete(f"/api/tokens/{made['id']}/").status_code == 204
    assert other.get("/api/nodes/").status_code == 401


def test_deleted_token_is_refused_at_the_next_request(users):
    engineer = users["engineer"]
    client = client_for(engineer)
    assert client.get("/api/nodes/").status_code == 200
    ApiToken.objects.get(pk=engineer.auth_token.pk).delete()
    refused = client.get("/api/nodes/")
    assert refused.status_code == 401 and refused.json()["detail"] == "Invalid token."


def test_deleted_user_is_refused_at_the_next_request(users):
    engineer = users["engineer"]
    client = client_for(engineer)
    assert client.get("/api/nodes/").status_code == 200
    type(engineer).objects.get(pk=engineer.pk).delete()
    assert client.get("/api/nodes/").status_code == 401


def test_deactivated_user_is_refused_at_the_next_request(users):
    engineer = users["engineer"]
    client = client_for(engineer)
    assert client.get("/api/nodes/").status_code == 200
    engineer.is_active = False
    engineer.save()
    assert client.get("/api/nodes/").status_code == 401


def test_renamed_token_is_read_again(users):
    engineer = users["engineer"]
    client = client_for(engineer)
    assert client.get("/api/whoami/").status_code == 200
    tokens.rename(ApiToken.objects.get(pk=engineer.auth_token.pk), "renamed")
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/whoami/").status_code == 200
    assert _token_queries(captured) == 1


def test_a_remembered_token_still_expires_on_the_clock(users, monkeypatch):
    engineer = users["engineer"]
    ApiToken.objects.filter(pk=engineer.auth_token.pk).update(expires_at=timezone.now() + dt.timedelta(hours=1))
    client = client_for(engineer)
    assert client.get("/api/nodes/").status_code == 200
    later = timezone.now() + dt.timedelta(hours=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    refused = client.get("/api/nodes/")
    assert refused.status_code == 401 and refused.json()["detail"] == "Token expired: create a new one."


def test_role_withdrawn_counts_at_the_next_request(users):
    engineer = users["engineer"]
    client = client_for(engineer)
    assert client.get("/api/whoami/").json()["roles"] == ["engineer"]
    engineer.groups.remove(Group.objects.get(name="engineer"))
    assert client.get("/api/whoami/").json()["roles"] == []
    assert client.get("/api/nodes/").status_code == 403


def test_role_granted_from_the_role_side_counts_at_the_next_request(users):
    outsider = users["outsider"]
    client = client_for(outsider)
    assert client.get("/api/nodes/").status_code == 403
    Group.objects.get(name="auditor").user_set.add(outsider)
    assert client.get("/api/whoami/").json()["roles"] == ["auditor"]
    Group.objects.get(name="auditor").user_set.clear()
    assert client.get("/api/whoami/").json()["roles"] == []


def test_a_role_renamed_counts_at_the_next_request(users):
    client = client_for(users["auditor"])
    assert client.get("/api/audit/entries/").status_code == 200
    group = Group.objects.get(name="auditor")
    group.name = "former-auditor"
    group.save()
    assert client.get("/api/whoami/").json()["roles"] == []
    assert client.get("/api/audit/entries/").status_code == 403


def test_whoami_needs_credentials(clients):
    refused = clients["anonymous"].get("/api/whoami/")
    assert refused.status_code == 401 and "detail" in refused.json()
