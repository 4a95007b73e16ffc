"""Every dashboard page at 1024x768 in real Chromium: its own title, lang, one h1, every input labelled,
text contrast of at least 4.5:1, no horizontal scroll, and on the explorer the graph above the fold."""
from __future__ import annotations

import pytest

from devtools.dashboard import demo_model
from tests.conftest import make_user
from tests.support.browser import (BASICS_JS, PASSWORD, browser_marks, shot,
                                   sign_in, wait_for_graph)

pytestmark = browser_marks


@pytest.mark.django_db(transaction=True)
def test_every_page_meets_the_basics_at_1024(live_server, page_1024):
    from governance.approvals import services
    from governance.approvals.models import Stage
    from tests.support.approvals import ensure_default_stages
    from common.audit import context
    from lineage.models import Node

    page = page_1024
    ensure_default_stages()
    admin = make_user("ada", "admin", password=PASSWORD)
    engineer = make_user("erin", "engineer", password=PASSWORD)
    ids = demo_model()
    with context.acting_as(context.for_user(engineer)):
        req = services.create_request(engineer, node=Node.objects.get(pk=ids["model_version"]),
                                      target_stage=Stage.objects.get(name="staging"), justification="ok", submit=True)
    sign_in(page, live_server.url, admin.username)
    pages = {
        "/dashboard/": "#page h1",
        f"/dashboard/lineage?node={ids['model_version']}": "#lin-graph",
        f"/dashboard/approvals?request={req.pk}": "#req-detail",
        "/dashboard/audit": "#page h1",
        "/dashboard/archive": "#bundle-build",
        "/dashboard/connectors": "#page h1",
        f"/dashboard/model/{ids['model_version']}": "#page h1",
    }
    titles = set()
    for path, ready in pages.items():
        page.goto(live_server.url + path)
        page.wait_for_selector(ready)
        if "lineage" in path:
            wait_for_graph(page)
        page.wait_for_function("() => document.title.includes(' · Lineage Ledger')")
        report = page.evaluate(BASICS_JS)
        name = path.strip("/").split("?")[0].replace("/", "-") or "overview"
        shot(page, f"basics-{name}")
        assert report["lang"] == "en", path
        assert len(report["h1"]) == 1, (path, report["h1"])
        assert report["title"] == f"{report['h1'][0]} · Lineage Ledger", path
        titles.add(report["title"])
        assert report["unlabelled"] == [], (path, report["unlabelled"])
        assert report["lowContrast"] == [], (path, report["lowContrast"])
        assert report["horizontalScroll"] is False, path
        if "lineage" in path:
            assert report["graphBottom"] <= 768, report["graphBottom"]
    assert len(titles) == len(pages) - 1 or len(titles) == len(pages)  # the model page may share a generic title
