"""A manager's job in real Chromium at 1024x768: approve a pending request and see it leave the open
list, in at most three clicks after signing in, without reloading the page."""
from __future__ import annotations

import pytest

from devtools.dashboard import demo_model
from tests.conftest import make_user
from tests.support.browser import PASSWORD, browser_marks, shot, sign_in

pytestmark = browser_marks


def pending_request(requester):
    from governance.approvals import services
    from governance.approvals.models import Stage
    from tests.support.approvals import ensure_default_stages
    from common.audit import context
    from lineage.models import Node

    ensure_default_stages()  # a transactional test starts from an empty database
    ids = demo_model("churn-model", "3")
    with context.acting_as(context.for_user(requester)):
        return services.create_request(requester, node=Node.objects.get(pk=ids["model_version"]),
                                       target_stage=Stage.objects.get(name="staging"),
                                       justification="holdout accuracy 0.91", submit=True)


@pytest.mark.django_db(transaction=True)
def test_manager_approves_a_pending_request_and_sees_it_leave_the_open_list(live_server, page_1024):
    from governance.approvals.models import PromotionRequest

    page = page_1024
    requester = make_user("erin", "engineer", password=PASSWORD)
    make_user("mona", "approver", password=PASSWORD)
    make_user("carl", "approver", password=PASSWORD)
    req = pending_request(requester)
    sign_in(page, live_server.url, "mona")
    clicks = 0

    def click(selector):
        nonlocal clicks
        clicks += 1
        page.click(selector)

    click("#nav-approvals")
    page.wait_for_selector(f"#open-requests #req-link-{req.pk}")
    click(f"#waiting-for-me #req-link-{req.pk}")
    page.wait_for_selector("#req-detail #req-approve")
    # Before deciding, the page names who may approve it.
    assert "carl" in page.inner_text("#req-who-else") and "mona" in page.inner_text("#req-who-else")
    assert page.is_enabled("#req-approve")
    shot(page, "job-approve-before")
    click("#req-approve")
    page.wait_for_selector("#req-decided")
    # Redrawn in place: the request left the open list and is recently closed; no button is left to press.
    page.wait_for_function(f"() => !document.querySelector('#open-requests #req-link-{req.pk}')")
    assert page.locator(f"#closed-requests #req-link-{req.pk}").count() == 1
    assert page.locator(f"#waiting-for-me #req-link-{req.pk}").count() == 0
    assert page.inner_text("#req-state") == "executed"
    assert page.locator("#req-approve").count() == 0 and page.locator("#req-closed").count() == 1
    shot(page, "job-approve-after")
    assert clicks <= 3
    assert PromotionRequest.objects.get(pk=req.pk).state == "executed"
