"""Real Chromium (Debian's package) driven by Playwright, for the dashboard's browser tests, at the
smallest screen the dashboard is designed for: 1024x768 (and `chromium_page`, one page in a fresh profile).
Registered as a pytest plugin by tests/conftest.py: `browser_1024` and `page_1024` are fixtures everywhere.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PASSWORD = "browser-test-password"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1024, "height": 768}

browser_marks = [
    pytest.mark.browser,
    pytest.mark.flaky(reruns=2, only_rerun=["Target crashed"]),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium not installed at {CHROMIUM} "
                       "(apt-get install -y chromium chromium-driver)"),
]

needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium not installed at {CHROMIUM} "
                                    "(apt-get install -y chromium)")

# cytoscape.js keeps its instance on the container element as `_cyreg.cy`.
CY = "[...document.querySelectorAll('#lin-graph, #lin-graph *')].find(e => e._cyreg && e._cyreg.cy)._cyreg.cy"


@contextlib.contextmanager
def chromium_context(**options):
    """A persistent Chromium context in a fresh profile: the one way every browser test starts the browser.

    Django refuses ORM calls from a thread with a running event loop; Playwright's sync API runs one in the
    test thread, so Django's own (synchronous) code is let run there for the context's life."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="ll-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS, accept_downloads=True,
                viewport=options.pop("viewport", VIEWPORT), **options)
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


@pytest.fixture(scope="module")
def browser_1024():
    with chromium_context() as context:
        yield context


@pytest.fixture(scope="module")
def browser_wide():
    """A wider screen (1400x950), for the tests that read whole pages rather than check the smallest layout."""
    with chromium_context(viewport={"width": 1400, "height": 950}) as context:
        yield context


@pytest.fixture
def page(browser_wide):
    page = new_page(browser_wide)
    yield page
    if not page.is_closed():
        page.close()


@pytest.fixture
def page_1024(browser_1024):
    page = new_page(browser_1024)
    yield page
    if not page.is_closed():
        page.close()


@contextlib.contextmanager
def chromium_page(timeout_ms: int = 20_000):
    """One page in a fresh Chromium profile, for tests that need no shared browser (the single sign-on
    flow starts with no cookies at all)."""
    with chromium_context(viewport={"width": 1300, "height": 900}) as context:
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        yield page


def shot(page, name: str, *, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def sign_in(page, base: str, username: str, next_path: str = "/dashboard/") -> None:
    page.goto(base + next_path)
    page.wait_for_selector("#id_username")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#whoami")
    assert page.inner_text("#whoami") == username


def wait_for_graph(page, at_least: int = 2) -> None:
    page.wait_for_function(
        "(n) => { const el = [...document.querySelectorAll('#lin-graph, #lin-graph *')].find(e => e._cyreg && e._cyreg.cy);"
        " return el && el._cyreg.cy.nodes().length >= n; }", arg=at_least)


# What a page must satisfy at 1024x768 (issue 13's basics): measured in the page, returned as a report.
BASICS_JS = """() => {
  const luminance = (rgb) => {
    const [r, g, b] = rgb.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map(x => parseFloat(x)); return {rgb: p.slice(0, 3), a: p.length > 3 ? p[3] : 1}; };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c.rgb;
    }
    return [255, 255, 255];
  };
  const lowContrast = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el);
    const rect = el.getBoundingClientRect();
    if (style.visibility === 'hidden' || style.display === 'none' || rect.width === 0 || rect.height === 0) continue;
    if (el.closest('[disabled], [aria-disabled="true"]')) continue;
    let opacity = 1;
    for (let e = el; e; e = e.parentElement) opacity *= parseFloat(getComputedStyle(e).opacity);
    const fg = parse(style.color); const bg = background(el);
    const mixed = fg.rgb.map((v, i) => v * fg.a * opacity + bg[i] * (1 - fg.a * opacity));
    const l1 = luminance(mixed), l2 = luminance(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    if (ratio < 4.5) lowContrast.push(`${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  const unlabelled = [];
  for (const el of document.querySelectorAll('input, select, textarea')) {
    // Dash's dropdown keeps an aria-hidden focus target beside its labelled button: not exposed, not a field.
    if (el.type === 'hidden' || el.offsetParent === null || el.getAttribute('aria-hidden') === 'true') continue;
    const labelled = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.closest('label')
      || (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`));
    if (!labelled) unlabelled.push(`${el.tagName} #${el.id} .${el.className}`);
  }
  const graph = document.querySelector('#lin-graph');
  return {
    title: document.title, lang: document.documentElement.lang,
    h1: [...document.querySelectorAll('h1')].map(h => h.innerText.trim()),
    horizontalScroll: document.documentElement.scrollWidth > document.documentElement.clientWidth,
    lowContrast, unlabelled,
    graphBottom: graph ? graph.getBoundingClientRect().bottom : null,
  };
}"""
