"""Bearer/Token authentication reads the token, its user and the user's roles in one statement; the
roles it hands on must be exactly those the groups say, read fresh on every request."""
from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import exceptions

from governance.accounts.authentication import BearerTokenAuthentication
from common.roles import roles_of
from tests.conftest import client_for, make_user

EVENT = {
    "eventType": "START", "eventTime": "2024-01-01T00:00:00Z", "producer": "https://example.com/p",
    "run": {"runId": "0f4f8e5e-0000-4000-8000-000000000001"}, "job": {"namespace": "ns", "name": "auth"},
}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.django_db
def test_roles_match_the_groups_and_come_with_the_token_in_one_query():
    user = make_user("multi", "engineer", "auditor")
    user.groups.add(Group.objects.create(name="not-a-role"))
    with CaptureQueriesContext(connection) as queries:
        authed, token = BearerTokenAuthentication().authenticate_credentials(user.auth_token.key)
    assert len(queries.captured_queries) == 1
    assert (authed.pk, token.pk, token.user_id) == (user.pk, user.auth_token.pk, user.pk)
    assert authed.username == "multi" and authed.date_joined == user.date_joined
    assert roles_of(authed) == {"engineer", "auditor"}


@pytest.mark.django_db
def test_superuser_is_admin_and_a_user_without_groups_has_no_role():
    boss = make_user("boss")
    boss.is_superuser = True
    boss.save()
    nobody = make_user("nobody")
    auth = BearerTokenAuthentication()
    assert roles_of(auth.authenticate_credentials(boss.auth_token.key)[0]) == {"admin"}
    assert roles_of(auth.authenticate_credentials(nobody.auth_token.key)[0]) == set()


@pytest.mark.django_db
def test_unknown_token_and_inactive_user_are_refused():
    user = make_user("gone", "engineer")
    auth = BearerTokenAuthentication()
    with pytest.raises(exceptions.AuthenticationFailed):
        auth.authenticate_credentials("0" * 40)
    user.is_active = False
    user.save()
    with pytest.raises(exceptions.AuthenticationFailed):
        auth.authenticate_credentials(user.auth_token.key)
    response = client_for(user).post("/api/v1/lineage", data=json.dumps(EVENT), content_type="application/json")
    assert response.status_code == 401


@pytest.mark.django_db
def test_a_role_granted_or_withdrawn_counts_from_the_next_request():
    user = make_user("grows")
    client = client_for(user)
    post = lambda: client.post("/api/v1/lineage", data=json.dumps(EVENT), content_type="application/json")
    assert post().status_code == 403
    user.groups.add(Group.objects.get(name="engineer"))
    assert post().status_code == 201
    user.groups.clear()
    assert post().status_code == 403
