"""The dashboard in a real browser: headless Chromium (Debian's package) driven by Playwright.

Data is written through lineage.store.apply (and the approvals service) into the live_server's
database; the browser signs in through the login form like a person would."""
from __future__ import annotations

import os

import pytest

from devtools.dashboard import demo_model
from tests.conftest import make_user
from tests.support.browser import (CY, CHROMIUM, PASSWORD, shot as support_shot, sign_in,
                                   wait_for_graph)

# A renderer that dies under the machine's load ("Target crashed", seen once in CI on a 2-core machine running two
# test workers) says nothing about the dashboard: such a test runs again in a fresh page, at most twice. Any
# other failure, an assertion included, fails at once.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.flaky(reruns=2, only_rerun=["Target crashed"]),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium not installed at {CHROMIUM} "
                       "(apt-get install -y chromium chromium-driver)"),
]


def shot(page, name: str) -> None:
    support_shot(page, name, full_page=True)


def graph_node_labels(page) -> list[str]:
    """The nodes' names uncut (the drawn labels are cut in the middle to fit)."""
    return page.evaluate(f"() => {CY}.nodes().map(n => n.data('full'))")


def tap_node(page, node_id) -> None:
    page.evaluate(f"(id) => {CY}.getElementById(String(id)).emit('tap')", node_id)


@pytest.mark.django_db(transaction=True)
def test_lineage_explorer_shows_the_models_upstream_dataset(live_server, page):
    make_user("eve", "engineer", password=PASSWORD)
    ids = demo_model("churn-model", "3")
    sign_in(page, live_server.url, "eve")
    # The Plotly chart draws from plotly.js served by this process (no CDN, no network).
    page.wait_for_selector("#events-chart .main-svg")
    assert page.inner_text("#stat-versions").startswith("1")
    shot(page, "overview")
    page.click("#nav-lineage")
    page.wait_for_selector("#lin-search")
    page.fill("#lin-search", "churn-model v3")
    page.click("#lin-search-go")
    page.wait_for_selector("#lin-hits")
    page.click("text=model_version · churn-model v3")
    page.wait_for_selector("#lin-summary")
    page.wait_for_function("() => document.querySelector('#lin-start-label').innerText.includes('churn-model v3')")
    wait_for_graph(page)
    labels = graph_node_labels(page)
    assert "churn-model training data" in labels, labels
    assert "churn-model-training · 2026-01-10 12:00" in labels  # a run is its job and start time
    shot(page, "lineage-explorer")
    # Click the dataset node: its details, source link and raw payload appear.
    tap_node(page, ids["dataset"])
    page.wait_for_selector("#lin-node-table")
    details = page.inner_text("#lin-details")
    assert "s3://demo-bucket/churn-model/train.csv" in details
    assert page.get_attribute("#lin-source-link", "href").startswith("https://minio.example/")
    shot(page, "lineage-node-details")
    # Path between the dataset and the deployment, picked by clicking nodes.
    page.click("#lin-set-from")
    page.wait_for_function(f"() => document.querySelector('#lin-path-from').value === '{ids['dataset']}'")
    tap_node(page, ids["deployment"])
    page.wait_for_selector(f"#lin-details [data-node='{ids['deployment']}']")
    page.click("#lin-set-to")
    page.wait_for_function(f"() => document.querySelector('#lin-path-to').value === '{ids['deployment']}'")
    page.click("#lin-path-go")
    page.wait_for_selector("#lin-path-found")
    page.wait_for_function(f"() => {CY}.nodes().length === 4")
    assert set(graph_node_labels(page)) == {"churn-model training data", "churn-model-training · 2026-01-10 12:00",
                                            "churn-model v3", "churn-model-3-endpoint"}
    # Expand the run in place: its job and its metrics join the drawing.
    tap_node(page, ids["run"])
    page.wait_for_selector(f"#lin-details [data-node='{ids['run']}']")
    page.click("#lin-expand")
    page.wait_for_selector("#lin-expanded")
    page.wait_for_function(f"() => {CY}.nodes().length === 6")
    assert {"churn-model-training", "churn-model-3-metrics"} <= set(graph_node_labels(page))
    shot(page, "lineage-path-and-expand")


def _pending_request(requester, name="churn-model", version="3"):
    from governance.approvals import services
    from governance.approvals.models import Stage, StagePolicy
    from common.audit import context
    from lineage.models import Node

    # A transactional test starts from an empty database (the default stages' data migration is flushed).
    stage, _ = Stage.objects.get_or_create(name="staging", defaults={"order": 10})
    StagePolicy.objects.get_or_create(stage=stage, defaults={"required_approvals": 1, "max_training_hops": None})
    ids = demo_model(name, version)
    with context.acting_as(context.for_user(requester)):
        return services.create_request(requester, node=Node.objects.get(pk=ids["model_version"]),
                                       target_stage=stage,
                                       justification="holdout accuracy 0.91", submit=True)


@pytest.mark.django_db(transaction=True)
def test_approver_approves_a_pending_request(live_server, page):
    from governance.approvals.models import Decision, PromotionRequest
    from governance.audit.models import AuditEntry

    requester = make_user("erin", "engineer", password=PASSWORD)
    make_user("alice", "approver", password=PASSWORD)
    req = _pending_request(requester)
    sign_in(page, live_server.url, "alice")
    page.click("#nav-approvals")
    page.wait_for_selector(f"#waiting-for-me #req-link-{req.pk}")
    shot(page, "approvals-waiting-for-me")
    page.click(f"#waiting-for-me #req-link-{req.pk}")
    page.wait_for_selector("#req-detail #req-gates")
    assert "pending" in page.inner_text("#req-state")
    page.fill("#req-comment", "Checked the gates and the holdout metrics.")
    page.click("#req-approve")
    page.wait_for_selector("#req-decided")
    page.wait_for_function("() => document.querySelector('#req-state').innerText === 'executed'")
    assert "alice" in page.inner_text("#req-decisions")
    shot(page, "approvals-approved")
    req = PromotionRequest.objects.get(pk=req.pk)
    assert req.state == "executed"
    assert Decision.objects.get(request=req).actor.username == "alice"
    entry = AuditEntry.objects.get(action="promotion.decision.approve")
    assert entry.actor_username == "alice" and entry.object_id == str(req.pk)


@pytest.mark.django_db(transaction=True)
def test_requester_sees_the_four_eyes_refusal(live_server, page):
    from governance.approvals.models import Decision

    rita = make_user("rita", "engineer", "approver", password=PASSWORD)
    req = _pending_request(rita)
    sign_in(page, live_server.url, "rita", next_path=f"/dashboard/approvals?request={req.pk}")
    page.wait_for_selector("#req-cannot-decide")
    assert "Four-eyes rule" in page.inner_text("#req-cannot-decide")
    # Approve and Reject are disabled, and say why (the decide callback refuses it on the server too:
    # tests/test_dashboard_approvals.py).
    assert not page.is_enabled("#req-approve") and not page.is_enabled("#req-reject")
    assert "Four-eyes rule: you requested this promotion" in page.get_attribute("#req-approve", "title")
    assert page.inner_text("#req-state") == "pending"
    shot(page, "approvals-four-eyes-refusal")
    assert not Decision.objects.filter(request_id=req.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_auditor_is_denied_the_approve_button(live_server, page):
    requester = make_user("erin", "engineer", password=PASSWORD)
    make_user("audrey", "auditor", password=PASSWORD)
    req = _pending_request(requester)
    sign_in(page, live_server.url, "audrey", next_path=f"/dashboard/approvals?request={req.pk}")
    page.wait_for_selector("#req-approve-denied")
    assert "Only approvers can approve" in page.inner_text("#req-approve-denied")
    assert page.locator("#req-approve").count() == 0
    assert page.locator("#req-reject").count() == 0
    shot(page, "approvals-auditor-denied")
