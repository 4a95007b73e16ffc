"""A compliance officer's job, in real Chromium from login: open the registry, find the production version,
read its run parameters, metrics, code version and approvers on its card, build an evidence bundle and
download it — six clicks at most after signing in, asserting what is on screen and what was downloaded."""
from __future__ import annotations

import os

import pytest

from devtools.kubeflow.demo import IMAGES
from tests.conftest import make_user
from tests.support.browser import CHROMIUM, PASSWORD, shot, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.flaky(reruns=2, only_rerun=["Target crashed"]),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium not installed at {CHROMIUM}"),
]


def _production_version(tmp_path):
    """The demo's platforms harvested for real, and the Viya version trained in Kubeflow promoted to
    production by two approvers through the approvals service."""
    from governance.approvals import services
    from governance.approvals.models import Stage
    from tests.support.approvals import ensure_default_stages, open_policy
    from common.audit import context
    from tests.support.provenance import harvest_demo_platforms

    ensure_default_stages()  # a transactional test starts from an empty database
    open_policy("production", approvals=2, require_producing_run=True)
    node = harvest_demo_platforms(tmp_path)
    erin = make_user("erin", "engineer")
    with context.acting_as(context.for_user(erin)):
        req = services.create_request(erin, node=node, target_stage=Stage.objects.get(name="production"),
                                      justification="Holdout AUC 0.94; lineage complete.", submit=True)
    for name in ("bob", "carol"):
        approver = make_user(name, "approver")
        with context.acting_as(context.for_user(approver)):
            services.decide(approver, req.pk, "approve", f"{name}: checked the KFP run and its data")
    return node


@pytest.mark.django_db(transaction=True)
def test_compliance_officer_reads_a_production_card_and_takes_its_evidence(live_server, page, tmp_path):
    from governance.archive import verify
    from governance.archive.models import EvidenceBundle

    node = _production_version(tmp_path)
    make_user("olga", "auditor", password=PASSWORD)
    sign_in(page, live_server.url, "olga")
    clicks = 0

    page.click("#nav-models")

    clicks += 1
    page.wait_for_selector("#reg-table")
    page.click("#reg-stage")
    clicks += 1
    page.get_by_role("option", name="production", exact=True).click()
    clicks += 1
    page.wait_for_function("() => document.querySelector('#reg-summary').innerText.includes('of 1 model version')")
    row = page.inner_text("#reg-table")
    assert "churn-classifier 1.0" in row and "production" in row and "churn-training" in row
    shot(page, "compliance-registry-production", full_page=True)

    page.click(f"#reg-link-{node.pk}")

    clicks += 1
    page.wait_for_selector("#mv-parameters")
    assert page.inner_text("#mv-stage") == "production"
    parameters = page.inner_text("#mv-parameters")
    assert "learning_rate" in parameters and "0.05" in parameters and "KFP runtime parameters" in parameters
    metrics = page.inner_text("#mv-metrics")
    assert "auc" in metrics and "0.94" in metrics and "KS" in metrics
    code = page.inner_text("#mv-code")
    assert IMAGES["train"] in code and "pipeline spec digest" in code and "Gradient boosting" in code
    approvals = page.inner_text("#mv-approvals")
    assert "bob" in approvals and "carol" in approvals and "checked the KFP run" in approvals
    assert "train" in page.inner_text("#mv-chain-runs") and "production" in page.inner_text("#mv-chain-approvals")
    shot(page, "compliance-model-card", full_page=True)

    page.click("#mv-build")

    clicks += 1
    page.wait_for_selector("#mv-bundle-ready")
    bundle = EvidenceBundle.objects.get()
    assert bundle.sha256[:16] in page.inner_text("#mv-bundle-ready")
    assert bundle.sha256[:16] in page.inner_text("#mv-bundles")  # the evidence list is redrawn, not stale
    assert page.locator("#mv-bundles-none").count() == 0
    with page.expect_download() as download:
        page.click("#mv-bundle-download")
        clicks += 1
    path = download.value.path()
    data = open(path, "rb").read()
    checked = verify.verify_bytes(data, expected_sha256=bundle.sha256)
    assert checked.nodes == bundle.node_count
    shot(page, "compliance-bundle-built", full_page=True)
    assert clicks <= 6
