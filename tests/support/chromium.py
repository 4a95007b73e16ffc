"""Real Chromium (Debian's package) driven by Playwright, for the browser tests: a persistent context, a
page per test, signing in through the login form, screenshots into test-output/screenshots."""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PASSWORD = "browser-test-password"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage"]


@contextlib.contextmanager
def chromium_context(**options):
    # Django refuses ORM calls from a thread with a running event loop; Playwright's sync API runs one in the
    # test thread, so let Django's own (synchronous) code run there.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="ll-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS, accept_downloads=True,
                viewport=options.pop("viewport", {"width": 1400, "height": 950}), **options)
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def new_page(context):
    context.clear_cookies()
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.on("crash", lambda p: print(f"Chromium renderer crashed on {p.url}", file=sys.stderr))
    return page


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, base: str, username: str, next_path: str = "/dashboard/") -> None:
    page.goto(base + next_path)
    page.wait_for_selector("#id_username")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#whoami")
    assert page.inner_text("#whoami") == username
