"""/api/docs/ (Swagger UI) works on an air-gapped network: in real Chromium, with every request to another
host refused, it renders the API description, under the production
Content-Security-Policy (DEBUG off), and no request left the service."""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from tests.conftest import make_user

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "docs-test-password"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium not installed at {CHROMIUM}"),
]


@pytest.mark.django_db(transaction=True)
def test_api_docs_render_without_any_other_host(live_server):
    make_user("reader", "engineer", password=PASSWORD)
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="ll-docs-")
    outside, csp_errors = [], []
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                            args=LAUNCH_ARGS)
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
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
    assert outside == []
    assert csp_errors == []
