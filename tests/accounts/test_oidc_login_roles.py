"""Sign-in through a real OpenID provider (oidc-provider on 127.0.0.1): the authorization code flow with
PKCE makes a local user linked by (issuer, sub), whose roles are exactly what the groups claim maps to,
evaluated again at every sign-in; sign-ins, sign-outs, failures and role changes are audited."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from governance.accounts.models import OidcIdentity
from common.roles import roles_of
from governance.audit.models import AuditEntry
from tests.conftest import make_user
from tests.support.oidc import GROUPS, OidcProvider, code_challenge_of, sign_in_without_browser

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture(scope="module")
def provider():
    op = OidcProvider(redirect_uris=["http://testserver/accounts/oidc/callback/"])
    yield op
    op.stop()


@pytest.fixture
def sso(provider, settings):
    provider.settings(settings)
    return provider


def actions():
    return list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))


def test_first_sign_in_makes_a_linked_user_with_the_mapped_roles(sso):
    sso.set_people({"u-1001": {"preferred_username": "olivia", "email": "olivia@example.org",
                               "groups": [GROUPS["engineer"], GROUPS["auditor"], "unmapped-group"]}})
    client = Client()
    done = sign_in_without_browser(client, sso, "u-1001", next_path="/dashboard/lineage")
    assert done.status_code == 302 and done["Location"] == "/dashboard/lineage"
    user = get_user_model().objects.get(username="olivia")
    assert OidcIdentity.objects.get(user=user).subject == "u-1001"
    assert OidcIdentity.objects.get(user=user).issuer == sso.issuer
    assert roles_of(user) == {"engineer", "auditor"}
    assert not user.has_usable_password() and user.email == "olivia@example.org"
    assert client.get("/dashboard/").status_code == 200  # the session is signed in
    login = AuditEntry.objects.filter(action="auth.login").latest("seq")
    assert login.after == {"method": "oidc", "username": "olivia"} and login.actor_id == user.pk
    added = AuditEntry.objects.filter(action="user.roles.add", object_id=str(user.pk)).latest("seq")
    assert added.after == {"roles": ["auditor", "engineer"]}
    assert added.actor_username == f"oidc:{sso.issuer}"


def test_the_authorization_request_carries_a_pkce_challenge(sso):
    start = Client().get("/accounts/oidc/login/")
    challenge, method = code_challenge_of(start["Location"])
    assert method == "S256" and len(challenge) >= 43
    assert start["Location"].startswith(sso.issuer + "/auth?")


def test_removed_from_a_group_at_the_provider_loses_the_role_at_the_next_sign_in(sso):
    sso.set_people({"u-2002": {"preferred_username": "paul", "groups": [GROUPS["approver"], GROUPS["admin"]]}})
    sign_in_without_browser(Client(), sso, "u-2002")
    paul = get_user_model().objects.get(username="paul")
    assert roles_of(paul) == {"approver", "admin"} and paul.is_staff

    sso.set_people({"u-2002": {"preferred_username": "paul", "groups": [GROUPS["approver"]]}})
    client = Client()
    sign_in_without_browser(client, sso, "u-2002")
    paul = get_user_model().objects.get(username="paul")
    assert roles_of(paul) == {"approver"} and not paul.is_staff
    removed = AuditEntry.objects.filter(action="user.roles.remove", object_id=str(paul.pk)).latest("seq")
    assert removed.before == {"roles": ["admin", "approver"]} and removed.after == {"roles": ["approver"]}
    # The session of that sign-in has the reduced rights.
    assert client.get("/admin/").status_code == 302

    sso.set_people({"u-2002": {"preferred_username": "paul", "groups": []}})
    sign_in_without_browser(Client(), sso, "u-2002")
    assert roles_of(get_user_model().objects.get(username="paul")) == set()
    # A role granted locally is not kept either: the provider's groups decide.
    paul = get_user_model().objects.get(username="paul")
    from django.contrib.auth.models import Group

    paul.groups.add(Group.objects.get(name="admin"))
    sign_in_without_browser(Client(), sso, "u-2002")
    assert roles_of(get_user_model().objects.get(username="paul")) == set()


def test_sign_out_is_audited(sso):
    sso.set_people({"u-3003": {"preferred_username": "quinn", "groups": [GROUPS["engineer"]]}})
    client = Client()
    sign_in_without_browser(client, sso, "u-3003")
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/dashboard/").status_code == 302
    logout = AuditEntry.objects.filter(action="auth.logout").latest("seq")
    assert logout.after == {"username": "quinn"}


def test_a_local_account_of_the_same_name_is_not_taken_over(sso):
    local = make_user("rachel", "auditor")
    sso.set_people({"u-4004": {"preferred_username": "rachel", "groups": [GROUPS["admin"]]}})
    refused = sign_in_without_browser(Client(), sso, "u-4004")
    assert refused.status_code == 403 and b"a local account" in refused.content
    assert roles_of(get_user_model().objects.get(pk=local.pk)) == {"auditor"}
    assert not OidcIdentity.objects.exists()
    failed = AuditEntry.objects.filter(action="auth.login_failed").latest("seq")
    assert failed.object_id == "rachel" and failed.after["method"] == "oidc" and "a local account" in failed.reason


def test_a_forged_callback_is_refused_and_audited(sso):
    client = Client()
    client.get("/accounts/oidc/login/")  # a real state in the session, then a callback with another one
    refused = client.get("/accounts/oidc/callback/", {"code": "made-up", "state": "not-the-state"})
    assert refused.status_code == 403 and not refused.wsgi_request.user.is_authenticated
    assert "auth.login_failed" in actions()
    denied = client.get("/accounts/oidc/callback/", {"error": "access_denied", "state": "x"})
    assert denied.status_code == 403


def test_password_sign_in_can_be_switched_off(sso, settings):
    make_user("sam", "engineer", password="sams-long-password")
    settings.LOCAL_PASSWORD_LOGIN = False
    settings.AUTHENTICATION_BACKENDS = [b for b in settings.AUTHENTICATION_BACKENDS if not b.endswith("ModelBackend")]
    page = Client().get("/accounts/login/")
    assert b"sso-login" in page.content and b"id_password" not in page.content
    refused = Client().post("/accounts/login/", {"username": "sam", "password": "sams-long-password"})
    assert refused.status_code == 403 and not refused.wsgi_request.user.is_authenticated
    assert AuditEntry.objects.filter(action="auth.login_failed", object_id="sam").exists()
    # The admin site's own form finds no password backend either.
    admin = Client().post("/admin/login/", {"username": "sam", "password": "sams-long-password", "next": "/admin/"})
    assert admin.status_code == 200 and "_auth_user_id" not in admin.wsgi_request.session
    # Single sign-on still works.
    sso.set_people({"u-5005": {"preferred_username": "tess", "groups": [GROUPS["engineer"]]}})
    client = Client()
    sign_in_without_browser(client, sso, "u-5005")
    assert client.get("/dashboard/").status_code == 200
