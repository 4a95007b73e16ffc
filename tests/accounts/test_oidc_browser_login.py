"""The whole single sign-on in a real browser: Chromium goes from the dashboard to the login page, on to
the OpenID provider (oidc-provider on 127.0.0.1), signs in there and lands on the dashboard with the roles
its groups give; it makes an API token on the token page and signs out. After the provider drops a group,
the next sign-in shows the role gone."""
from __future__ import annotations

import pytest
import requests

from governance.audit.models import AuditEntry
from tests.support.browser import chromium_page, needs_chromium
from tests.support.oidc import GROUPS, OidcProvider

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_chromium,
              pytest.mark.flaky(reruns=2, only_rerun=["Target crashed"])]


@pytest.mark.django_db(transaction=True)
def test_single_sign_on_in_chromium(live_server, settings):
    provider = OidcProvider(redirect_uris=[live_server.url + "/accounts/oidc/callback/"])
    try:
        provider.settings(settings)
        provider.set_people({"emp-42": {"preferred_username": "harriet", "email": "h@example.org",
                                        "groups": [GROUPS["auditor"], GROUPS["approver"]]}})
        with chromium_page() as page:
            page.goto(live_server.url + "/dashboard/")
            page.wait_for_selector("#sso-login")
            assert "/accounts/login/" in page.url
            page.click("#sso-login")
            page.wait_for_selector("input[name=login]")
            assert page.url.startswith(provider.issuer)
            page.fill("input[name=login]", "emp-42")
            page.fill("input[name=password]", "the provider checks this, not us")
            page.click("button[type=submit]")
            page.wait_for_selector("#whoami")
            assert page.url.startswith(live_server.url + "/dashboard/")
            assert page.inner_text("#whoami") == "harriet"
            assert page.inner_text("#my-roles") == "approver, auditor"
            assert page.is_visible("#nav-audit")  # an auditor's page

            page.click("#my-tokens")
            page.wait_for_selector("#token-name")
            page.fill("#token-name", "from the browser")
            page.fill("#token-days", "7")
            page.click("#token-create")
            page.wait_for_selector("#token-value")
            key = page.inner_text("#token-value").strip()
            api = requests.get(live_server.url + "/api/audit/entries/", headers={"Authorization": f"Bearer {key}"},
                               timeout=30)
            assert api.status_code == 200

            page.goto(live_server.url + "/dashboard/")
            page.wait_for_selector("#logout")
            page.click("#logout")
            page.wait_for_selector("#sso-login")
            assert "/accounts/login/" in page.url

            # The provider drops the auditor group; the next sign-in (the provider's session still open, so
            # no form there) gives the dashboard without the role.
            provider.set_people({"emp-42": {"preferred_username": "harriet", "groups": [GROUPS["approver"]]}})
            page.click("#sso-login")
            page.wait_for_selector("#whoami")
            assert page.inner_text("#my-roles") == "approver"
            assert not page.is_visible("#nav-audit")
        actions = list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))
        assert actions.count("auth.login") == 2 and "auth.logout" in actions and "token.create" in actions
        assert "user.roles.remove" in actions
    finally:
        provider.stop()
