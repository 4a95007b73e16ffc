"""/api/docs/ (Swagger UI) works on an air-gapped network: in real Chromium, with every request to another
host refused, it renders the API description, under the production
Content-Security-Policy (DEBUG off), and no request left the service."""
from __future__ import annotations

import os

import pytest

from tests.conftest import make_user
from tests.support.browser import CHROMIUM, PASSWORD, chromium_context

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium not installed at {CHROMIUM}"),
]


@pytest.mark.django_db(transaction=True)
def test_api_docs_render_without_any_other_host(live_server):
    make_user("reader", "engineer", password=PASSWORD)
    outside, csp_errors = [], []
    with chromium_context() as context:
        page = context.new_page()
        page.set_default_timeout(20_000)

        def guard(route):
            if route.request.url.startswith(live_server.url) or route.request.url.startswith(("data:", "blob:")):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", guard)
        page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(live_server.url + "/accounts/login/?next=/api/docs/")
        page.fill("#id_username", "reader")
        page.fill("#id_password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_selector(".swagger-ui .info .title")
        assert "Lineage Ledger API" in page.inner_text(".swagger-ui .info .title")
        page.wait_for_selector(".opblock-tag")  # the operations, read from /api/schema/
    assert outside == []
    assert csp_errors == []
