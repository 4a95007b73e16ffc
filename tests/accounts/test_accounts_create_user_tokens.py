"""`manage.py create_user`: the embedded default's token path (a hashed default token, printed only when
made, rotated on request) and passwords held to the same validators as everywhere else."""
from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from governance.audit.models import AuditEntry
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def run(*args) -> list[str]:
    out = io.StringIO()
    call_command("create_user", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def works(key: str) -> bool:
    return client_for(None).get("/api/nodes/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200


def test_rotate_token_revokes_the_old_one_and_prints_a_new_one():
    first = run("uma", "--role", "engineer")[-1]
    assert works(first)
    again = run("uma", "--role", "auditor")
    assert "unchanged" in again[-1] and works(first)  # no new token without --rotate-token
    second = run("uma", "--role", "engineer", "--rotate-token")[-1]
    assert second != first and works(second) and not works(first)
    user = get_user_model().objects.get(username="uma")
    assert [t.state() for t in user.api_tokens.filter(is_default=True).order_by("id")] == ["revoked", "active"]
    revoke = AuditEntry.objects.filter(action="token.revoke").latest("seq")
    assert revoke.reason == "rotated" and revoke.actor_username == "cli:create_user"


def test_a_user_whose_default_token_expired_gets_a_new_one(settings):
    first = run("vic", "--role", "engineer", "--token-days", "1")[-1]
    user = get_user_model().objects.get(username="vic")
    from django.utils import timezone

    user.api_tokens.update(expires_at=timezone.now())
    assert not works(first)
    second = run("vic", "--role", "engineer")[-1]
    assert works(second)


def test_token_days_beyond_the_maximum_are_refused(settings):
    settings.API_TOKEN_MAX_DAYS = 30
    with pytest.raises(CommandError, match="at most 30 days"):
        run("wes", "--role", "engineer", "--token-days", "31")
    assert not get_user_model().objects.filter(username="wes").exists()


@pytest.mark.parametrize("password", ["1", "short-pw", "12345678901234", "password1234"])
def test_weak_passwords_are_refused_and_nothing_is_made(password):
    with pytest.raises(CommandError, match="password refused"):
        run("xena", "--role", "engineer", "--password", password)
    assert not get_user_model().objects.filter(username="xena").exists()


def test_a_good_password_signs_in():
    run("yuri", "--role", "engineer", "--password", "correct-horse-battery")
    from django.test import Client

    response = Client().post("/accounts/login/", {"username": "yuri", "password": "correct-horse-battery"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
