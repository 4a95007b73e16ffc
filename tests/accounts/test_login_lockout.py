"""Password sign-in is locked after LOGIN_FAILURE_LIMIT failures (django-axes), on the login form and the
admin site alike: the right password is then refused too. Failures and the lockout are audited."""
from __future__ import annotations

import pytest
from django.test import Client

from governance.audit.models import AuditEntry
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
PASSWORD = "the-right-long-password"


def attempt(password: str, path: str = "/accounts/login/", username: str = "zoe"):
    client = Client()
    response = client.post(path, {"username": username, "password": password, "next": "/dashboard/"})
    return response, client


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_right_password_after_too_many_wrong_ones_is_refused(settings):
    settings.AXES_FAILURE_LIMIT = 5
    make_user("zoe", "engineer", password=PASSWORD)
    for i in range(4):
        response, client = attempt(f"wrong-{i}")
        assert response.status_code == 200 and not signed_in(client)
    locked, client = attempt("wrong-4")
    assert locked.status_code == 429 and b"locked-out" in locked.content
    refused, client = attempt(PASSWORD)
    assert refused.status_code == 429 and not signed_in(client)
    admin, client = attempt(PASSWORD, path="/admin/login/")
    assert admin.status_code == 429 and not signed_in(client)

    failures = AuditEntry.objects.filter(action="auth.login_failed", object_id="zoe")
    assert failures.count() == 7
    assert failures.order_by("seq").last().after == {"method": "password", "locked_out": True}
    # One entry when the limit is reached, and one per attempt refused while locked.
    lockouts = AuditEntry.objects.filter(action="auth.lockout").order_by("seq")
    assert lockouts.count() == 3
    lockout = lockouts.first()
    assert lockout.object_id == "zoe" and lockout.after["failure_limit"] == 5
    assert lockout.client_ip == "127.0.0.1"
    # Another account is not affected.
    make_user("yann", "engineer", password=PASSWORD)
    ok, client = attempt(PASSWORD, username="yann")
    assert ok.status_code == 302 and signed_in(client)


def test_a_success_below_the_limit_clears_the_count(settings):
    settings.AXES_FAILURE_LIMIT = 3
    make_user("zoe", "engineer", password=PASSWORD)
    for _ in range(2):
        attempt("wrong")
    ok, client = attempt(PASSWORD)
    assert ok.status_code == 302 and signed_in(client)
    login = AuditEntry.objects.filter(action="auth.login").latest("seq")
    assert login.after == {"method": "password", "username": "zoe"}
    for _ in range(2):
        attempt("wrong")
    ok, client = attempt(PASSWORD)
    assert ok.status_code == 302 and signed_in(client)
    assert not AuditEntry.objects.filter(action="auth.lockout").exists()


def test_an_unknown_username_is_audited_like_a_wrong_password():
    response, client = attempt("whatever", username="nobody-here")
    assert response.status_code == 200 and not signed_in(client)
    failed = AuditEntry.objects.filter(action="auth.login_failed").latest("seq")
    assert failed.object_id == "nobody-here" and failed.after == {"method": "password", "locked_out": False}
    assert "whatever" not in str(failed.after) and "whatever" not in failed.reason
