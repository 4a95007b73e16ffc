"""Time from navigation to an interactive 300-node lineage graph in headless Chromium (goal <= 2 s).

    python -m bench.dashboard                      # 300 nodes, 5 navigations
    python -m bench.dashboard --nodes 1000 --runs 10

Database: `DATABASE_URL` when set (a PostgreSQL database is created when missing), otherwise a fresh
embedded SQLite file in a temporary LL_DATA_DIR, the way `make demo` runs. Generates a layered lineage of
`--nodes` nodes upstream of one model version through lineage.store.apply, serves the real Django
application (the same WSGI app as production: middleware, session login, the Dash bridge) from a
threaded server on 127.0.0.1, signs in through the login form once, then for each run:

  t0            page.goto(/dashboard/lineage?node=<model version>&direction=upstream&depth=50&max=N)
  drawn         cytoscape holds all N nodes and has fitted them into the visible canvas (polled every frame)
  interactive   a real mouse click on a drawn node has been answered: the details panel shows that node
                (a callback round trip through Django's CSRF check and the ORM); a click not answered
                within 1 s is repeated, and the time of the unanswered ones counts

and prints the median and worst of each, plus the first (cold browser cache) run on its own, and the CPU
time Chromium (all its processes, from /proc) and the server (this process) spent over the same span,
which does not stretch when other processes compete for the CPU the way wall time does. The headline
figure compared with the 2 s goal is "interactive". BENCH_DEBUG=1 also prints where the time went
(CPU per Chromium process, callback request timings). Needs Debian's chromium at /usr/bin/chromium (or
CHROMIUM_PATH) and the playwright Python package; no browser download.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from bench._db import ensure_database

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "bench-dashboard-password"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage"]
CY = "[...document.querySelectorAll('#lin-graph, #lin-graph *')].find(e => e._cyreg && e._cyreg.cy)"


def _serve():
    """The production WSGI application on 127.0.0.1:<free port>, in a daemon thread."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=True)
    server.set_app(get_wsgi_application())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _browser_cpu(profile: str) -> dict[str, int]:
    """CPU ticks (user + system) used so far by each Chromium process of this profile, read from /proc."""
    ticks = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if profile.encode() not in f.read():
                    continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            continue
    return ticks


def _browser_cpu_since(profile: str, before: dict[str, int]) -> float:
    """Seconds of CPU Chromium used since `before`; processes started since count from zero."""
    after = _browser_cpu(profile)
    return sum(t - before.get(pid, 0) for pid, t in after.items()) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def _measure(page, profile: str, url: str, nodes: int, node_id: int) -> tuple[float, float, float, float]:
    # Start from a tiny page of the same site, so the same renderer process serves the measured navigation.
    page.goto(url.split("/dashboard/")[0] + "/accounts/login/")
    browser_before, server_before = _browser_cpu(profile), _own_cpu_seconds()
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    # Drawn: every node is in cytoscape and the preset layout has fitted them into the visible canvas.
    page.wait_for_function(
        f"(n) => {{ const el = {CY}; if (!el) return false; const cy = el._cyreg.cy;"
        " if (cy.nodes().length < n) return false; const bb = cy.nodes().renderedBoundingBox();"
        " return bb.x1 >= -1 && bb.y1 >= -1 && bb.x2 <= cy.width() + 1 && bb.y2 <= cy.height() + 1; }",
        arg=nodes, polling="raf", timeout=60_000)
    drawn = time.perf_counter() - started
    # Click the model version where cytoscape drew it, as a person would.
    page.locator("#lin-graph").scroll_into_view_if_needed()
    box = page.evaluate(
        f"(id) => {{ const el = {CY}; const cy = el._cyreg.cy; const p = cy.getElementById(String(id)).renderedPosition();"
        f" const r = el.getBoundingClientRect(); return {{x: r.left + p.x, y: r.top + p.y}}; }}", node_id)
    clicked = page.evaluate("() => performance.now()")
    # A click that lands while the page is still settling can go unanswered; like a person, click again
    # after a second. Every retry stays inside the measured time.
    clicks = 0
    while True:
        clicks += 1
        page.mouse.click(box["x"], box["y"])
        try:
            page.wait_for_selector(f"#lin-details [data-node='{node_id}']", timeout=1_000)
            break
        except Exception:
            if clicks >= 30:
                page.screenshot(path=os.path.join(tempfile.gettempdir(), "bench-dashboard-failure.png"))
                print("click at", box, "never answered; screenshot in", tempfile.gettempdir())
                raise
    interactive = time.perf_counter() - started
    browser_cpu = _browser_cpu_since(profile, browser_before)
    if os.environ.get("BENCH_DEBUG"):
        after = _browser_cpu(profile)
        for pid, t in after.items():
            if t - browser_before.get(pid, 0) > 5:
                kind = open(f"/proc/{pid}/cmdline", "rb").read().split(b"--type=")[-1][:20]
                print("  cpu", pid, kind, (t - browser_before.get(pid, 0)) / os.sysconf("SC_CLK_TCK"))
    server_cpu = _own_cpu_seconds() - server_before
    if os.environ.get("BENCH_DEBUG"):  # where the time went: click time and callback requests (ms since navigation)
        print("clicked at", round(clicked), "now", round(page.evaluate("() => performance.now()")), page.evaluate(
            "() => JSON.stringify(performance.getEntriesByType('resource').filter(e => e.name.includes('update'))"
            ".map(e => [Math.round(e.startTime), Math.round(e.responseEnd)]))"))
    return drawn, interactive, browser_cpu, server_cpu, clicks


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=300, help="nodes in the drawn lineage graph")
    parser.add_argument("--runs", type=int, default=5, help="navigations measured")
    args = parser.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        print(f"SKIPPED: Chromium not found at {CHROMIUM} (apt-get install -y chromium chromium-driver)")
        return 0

    data_dir = tempfile.mkdtemp(prefix="ll-dashboard-bench-")
    os.environ["LL_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    if os.environ.get("DATABASE_URL"):
        ensure_database(os.environ["DATABASE_URL"])
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from devtools.dashboard import layered_lineage
    from common.roles import ENGINEER
    from tests.conftest import make_user

    call_command("migrate", verbosity=0, interactive=False)
    prefix = f"bench-{int(time.time() * 1000)}"
    started = time.perf_counter()
    model_version = layered_lineage(args.nodes, width=12, prefix=prefix)
    print(f"database: {connection.vendor}; generated {args.nodes} nodes in {time.perf_counter() - started:.1f} s")
    username = f"bench-{prefix[-6:]}"
    make_user(username, ENGINEER, password=PASSWORD)

    from playwright.sync_api import sync_playwright

    server, base = _serve()
    profile = tempfile.mkdtemp(prefix="ll-dashboard-chromium-")
    url = f"{base}/dashboard/lineage?node={model_version}&direction=upstream&depth=50&max={args.nodes}"
    drawn, interactive, browser_cpu, server_cpu, clicks = [], [], [], [], []
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                            args=LAUNCH_ARGS, viewport={"width": 1400, "height": 1100})
            page = context.new_page()
            page.goto(f"{base}/accounts/login/?next=/dashboard/")
            page.fill("#id_username", username)
            page.fill("#id_password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_selector("#whoami")
            for _ in range(args.runs):
                d, i, b, c, k = _measure(page, profile, url, args.nodes, model_version)
                clicks.append(k)
                drawn.append(d)
                interactive.append(i)
                browser_cpu.append(b)
                server_cpu.append(c)
            count = page.evaluate(f"() => {CY}._cyreg.cy.nodes().length")
            context.close()
    finally:
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)
    assert count == args.nodes, f"drew {count} nodes, expected {args.nodes}"
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
          "(1/5/15 min; browser timings stretch with it)")
    print(f"lineage graph: {args.nodes} nodes drawn by dash-cytoscape in headless Chromium, {args.runs} navigations")
    print(f"first navigation (cold cache): drawn {drawn[0]:.2f} s, interactive {interactive[0]:.2f} s")
    warm_d, warm_i = (drawn[1:], interactive[1:]) if len(drawn) > 1 else (drawn, interactive)
    print(f"navigation -> graph drawn:        median {statistics.median(warm_d):.2f} s, worst {max(warm_d):.2f} s")
    print(f"navigation -> interactive (click answered): median {statistics.median(warm_i):.2f} s, "
          f"worst {max(warm_i):.2f} s (goal <= 2 s); clicks needed per run: {clicks}")
    warm_b = browser_cpu[1:] if len(browser_cpu) > 1 else browser_cpu
    warm_c = server_cpu[1:] if len(server_cpu) > 1 else server_cpu
    print(f"CPU used from navigation to interactive: Chromium {statistics.median(warm_b):.2f} s, "
          f"Django+Dash server (this process) {statistics.median(warm_c):.2f} s (median; CPU time does not "
          "stretch with machine load the way wall time does)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
