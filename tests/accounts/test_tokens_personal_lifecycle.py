"""Personal API tokens through the API and the token page: created (shown once), listed, named, expired and
revoked by their owner; an expired or revoked token no longer authenticates; nobody sees another's tokens."""
from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from governance.accounts.models import ApiToken
from governance.audit.models import AuditEntry
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def bearer(key: str):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + key)
    return client


def test_create_list_rename_and_revoke(users, clients):
    created = clients["auditor"].post("/api/tokens/", {"name": "laptop", "expires_in_days": 30}, format="json")
    assert created.status_code == 201
    body = created.json()
    key = body["token"]
    assert key.startswith("llt_") and len(key) == 40 and body["prefix"] == key[:8]
    assert body["state"] == "active" and body["name"] == "laptop"
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert dt.timedelta(days=29, hours=23) < expires - timezone.now() <= dt.timedelta(days=30)
    assert bearer(key).get("/api/audit/entries/").status_code == 200  # the auditor's rights

    listed = clients["auditor"].get("/api/tokens/").json()["results"]
    assert {t["name"] for t in listed} == {"default", "laptop"}
    assert all("token" not in t and "key_hash" not in t for t in listed)
    assert clients["auditor"].get(f"/api/tokens/{body['id']}/").json().get("token") is None  # shown once

    renamed = clients["auditor"].patch(f"/api/tokens/{body['id']}/", {"name": "work laptop"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "work laptop"

    assert clients["auditor"].delete(f"/api/tokens/{body['id']}/").status_code == 204
    refused = bearer(key).get("/api/nodes/")
    assert refused.status_code == 401 and refused.json() == {"error": "authentication_failed",
                                                             "detail": "Token revoked: create a new one."}
    assert clients["auditor"].get(f"/api/tokens/{body['id']}/").json()["state"] == "revoked"
    actions = list(AuditEntry.objects.filter(object_type="token", object_id=str(body["id"]))
                   .order_by("seq").values_list("action", flat=True))
    assert actions == ["token.create", "token.rename", "token.revoke"]
    assert key not in str(list(AuditEntry.objects.values_list("after", "before")))


def test_an_expired_token_is_refused(users, monkeypatch):
    engineer = users["engineer"]
    ApiToken.objects.filter(pk=engineer.auth_token.pk).update(expires_at=timezone.now() + dt.timedelta(minutes=5))
    client = client_for(engineer)
    assert client.get("/api/nodes/").status_code == 200
    later = timezone.now() + dt.timedelta(minutes=5, seconds=1)  # the clock passes the expiry
    monkeypatch.setattr(timezone, "now", lambda: later)
    refused = client.get("/api/nodes/")
    assert refused.status_code == 401 and refused.json()["detail"] == "Token expired: create a new one."


def test_expiry_has_a_default_and_a_maximum(users, clients, settings):
    settings.API_TOKEN_DEFAULT_DAYS, settings.API_TOKEN_MAX_DAYS = 7, 30
    made = clients["engineer"].post("/api/tokens/", {"name": "ci"}, format="json").json()
    left = dt.datetime.fromisoformat(made["expires_at"]) - timezone.now()
    assert dt.timedelta(days=6, hours=23) < left <= dt.timedelta(days=7)
    for days in (31, 0, -1):
        refused = clients["engineer"].post("/api/tokens/", {"name": "long", "expires_in_days": days}, format="json")
        assert refused.status_code == 400 and "expires_in_days" in refused.json()["detail"], days
    settings.API_TOKEN_MAX_DAYS = 0  # no maximum: 0 days means never (from a session: a token would cap it)
    from rest_framework.test import APIClient

    session = APIClient()
    session.force_login(users["engineer"])
    never = session.post("/api/tokens/", {"name": "forever", "expires_in_days": 0}, format="json")
    assert never.status_code == 201 and never.json()["expires_at"] is None


def test_a_token_made_with_a_token_does_not_outlive_it(users, clients):
    parent = ApiToken.objects.get(pk=users["engineer"].auth_token.pk)
    parent.expires_at = timezone.now() + dt.timedelta(days=2)
    parent.save()
    child = clients["engineer"].post("/api/tokens/", {"name": "child", "expires_in_days": 90}, format="json").json()
    assert dt.datetime.fromisoformat(child["expires_at"]) == parent.expires_at


def test_bad_input_is_a_json_400_that_makes_nothing(clients):
    before = ApiToken.objects.count()
    for body in ({}, {"name": ""}, {"name": "x" * 101}, {"name": "ok", "expires_in_days": "soon"}):
        answer = clients["engineer"].post("/api/tokens/", body, format="json")
        assert answer.status_code == 400 and answer.json()["error"] == "invalid", body
    assert ApiToken.objects.count() == before
    assert clients["anonymous"].post("/api/tokens/", {"name": "x"}, format="json").status_code == 401


def test_nobody_sees_or_touches_another_persons_tokens(users, clients):
    theirs = users["admin"].auth_token.pk
    for role in ("engineer", "outsider", "auditor"):
        assert clients[role].get(f"/api/tokens/{theirs}/").status_code == 404
        assert clients[role].delete(f"/api/tokens/{theirs}/").status_code == 404
        assert clients[role].patch(f"/api/tokens/{theirs}/", {"name": "mine"}, format="json").status_code == 404
        assert theirs not in [t["id"] for t in clients[role].get("/api/tokens/").json()["results"]]
    assert ApiToken.objects.get(pk=theirs).state() == "active"
    assert client_for(users["admin"]).get("/api/nodes/").status_code == 200


def test_the_token_page_creates_shows_once_and_revokes(users):
    web = Client()
    web.force_login(users["approver"])
    page = web.post("/accounts/tokens/", {"action": "create", "name": "notebook", "expires_in_days": "10"})
    assert page.status_code == 200
    key = page.context["shown_once"]["key"]
    assert key.encode() in page.content
    assert bearer(key).get("/api/promotion-requests/").status_code == 200
    again = web.get("/accounts/tokens/")
    assert key.encode() not in again.content and key[:8].encode() in again.content
    token = ApiToken.objects.get(user=users["approver"], name="notebook")
    # Another person's token id is not theirs to revoke.
    other = web.post("/accounts/tokens/", {"action": "revoke", "token_id": users["admin"].auth_token.pk})
    assert other.status_code == 404 and ApiToken.objects.get(pk=users["admin"].auth_token.pk).revoked_at is None
    web.post("/accounts/tokens/", {"action": "revoke", "token_id": token.pk})
    assert bearer(key).get("/api/promotion-requests/").status_code == 401
    too_long = web.post("/accounts/tokens/", {"action": "create", "name": "x", "expires_in_days": "9999"})
    assert too_long.status_code == 400 and b"at most" in too_long.content
    assert Client().get("/accounts/tokens/").status_code == 302  # anonymous: to the login form
