"""Every page renders for the roles that may open it, from real rows written by each app's services,
and shows each role only what it may see."""
import json

import pytest
from django.test import Client

from connectors.base import run_harvest
from connectors.models import ConnectorConfig
from devtools.dashboard import DashCaller, demo_model, find_component
from governance.approvals import services as approvals
from governance.approvals.models import Stage
from governance.archive import holds
from governance.archive import services as archive
from governance.archive.models import RetentionPolicy
from common.audit import context
from governance.audit.models import AuditEntry
from lineage.models import Node

pytestmark = pytest.mark.django_db


def page(user, path, search=""):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return DashCaller(client).call_json("page.children", {"url.pathname": path, "url.search": search})


class FailingConnector:
    kind = "kubeflow"

    def source_key(self):
        return "kubeflow:http://kfp.invalid"

    def changes_since(self, cursor):
        raise ConnectionError("kfp.invalid: name does not resolve")
        yield  # pragma: no cover


@pytest.fixture
def world(users):
    """One model version promoted to staging, a second pending, a bundle, a hold, a policy, a harvest."""
    ids = demo_model()
    other = demo_model("fraud-model", "1")
    mv = Node.objects.get(pk=ids["model_version"])
    with context.acting_as(context.for_user(users["engineer"])):
        req = approvals.create_request(users["engineer"], node=mv, target_stage=Stage.objects.get(name="staging"),
                                       justification="holdout accuracy 0.91", submit=True)
        approvals.create_request(users["engineer"], node=Node.objects.get(pk=other["model_version"]),
                                 target_stage=Stage.objects.get(name="staging"), justification="first cut", submit=True)
    with context.acting_as(context.for_user(users["approver"])):
        approvals.decide(users["approver"], req.pk, "approve", "ok")
    bundle = archive.build_bundle(mv, users["auditor"], depth=5)
    holds.place_hold(Node.objects.get(pk=ids["dataset"]), users["auditor"], "litigation 2026-17")
    RetentionPolicy.objects.create(node_kind="run", max_age_days=365, description="runs kept a year")
    config = ConnectorConfig.objects.create(name="kfp-prod", kind="kubeflow", settings={"kfp_host": "http://kfp.invalid"})
    with pytest.raises(ConnectionError):
        run_harvest(FailingConnector(), config=config)
    return {"ids": ids, "other": other, "request": req, "bundle": bundle}


def text_of(tree, component_id):
    component = find_component(tree, component_id)
    assert component is not None, f"{component_id} not on the page"
    return json.dumps(component)


def test_overview_counts_stages_pending_and_harvest_health(users, world):
    tree = page(users["engineer"], "/dashboard/")
    assert '"2"' in text_of(tree, "stat-versions") and '"1"' in text_of(tree, "stat-pending")
    assert '"2"' in text_of(tree, "stat-models")
    stages = text_of(tree, "stage-table")
    assert '"staging"' in stages and '"none"' in stages
    health = text_of(tree, "harvest-health")
    assert "kfp-prod" in health and "name does not resolve" in health
    chart = find_component(tree, "events-chart")["props"]["figure"]
    assert {trace["name"] for trace in chart["data"]} >= {"openlineage", "kubeflow"}


def test_model_version_page_shows_provenance_metrics_gates_history_and_bundles(users, world):
    ids = world["ids"]
    tree = page(users["auditor"], f"/dashboard/model/{ids['model_version']}")
    chain = text_of(tree, "mv-chain")
    for name in ("churn-model training data", "train churn-model v3", "churn-model-3-endpoint"):
        assert name in chain
    assert "staging" in text_of(tree, "mv-stage")
    assert "accuracy" in text_of(tree, "mv-metrics") and "0.91" in text_of(tree, "mv-metrics")
    assert "auc" in text_of(tree, "mv-metrics")  # from the metrics artefact the training run also produced
    assert "producing run" in text_of(tree, "gate-checklist")
    history = text_of(tree, "mv-history")
    assert "engineer" in history and "approver" in history
    assert f"/api/archive/bundles/{world['bundle'].pk}/download/" in text_of(tree, "mv-bundles")
    # An engineer sees only the bundles the archive API would show them (none of the auditor's), and is told
    # that one exists rather than "none archived".
    engineer_view = page(users["engineer"], f"/dashboard/model/{ids['model_version']}")
    assert find_component(engineer_view, "mv-bundles") is None
    assert "1 evidence bundle(s) of this version exist" in text_of(engineer_view, "mv-bundles-hidden")
    missing = page(users["engineer"], f"/dashboard/model/{ids['run']}")
    assert find_component(missing, "mv-missing") is not None


def test_archive_page_lists_bundles_holds_policies_and_verifies(users, world):
    tree = page(users["auditor"], "/dashboard/archive")
    assert world["bundle"].sha256[:16] in text_of(tree, "bundle-table")
    assert "litigation 2026-17" in text_of(tree, "holds-table")
    assert "runs kept a year" in text_of(tree, "policies-table")
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["auditor"])
    result = json.dumps(DashCaller(client).call_json(
        "bundle-verify-result.children", {"bundle-verify.n_clicks": 1, "bundle-pick.value": world["bundle"].pk}))
    assert "bundle-verified" in result
    client.force_login(users["engineer"])
    refused = json.dumps(DashCaller(client).call_json(
        "bundle-verify-result.children", {"bundle-verify.n_clicks": 1, "bundle-pick.value": world["bundle"].pk}))
    assert "archive-refused" in refused and "no bundle" in refused


def test_archive_page_shows_bundle_builds_to_whom_the_api_would(users, world):
    """Builds handed to the task workers: done (with its bundle), failed (with why) and still queued. The
    auditor sees all of them; an engineer only the one they requested, as GET /api/archive/bundle-builds/."""
    from governance.archive import builds
    from governance.archive.models import BundleBuild

    mv = Node.objects.get(pk=world["ids"]["model_version"])
    def queued(user, depth):  # what builds.enqueue records before the broker takes the task
        return BundleBuild.objects.create(node=mv, subject_kind=mv.kind, subject_source_id=mv.source_id, depth=depth,
                                          requested_by=user, requested_by_username=user.username)

    with context.acting_as(context.for_user(users["auditor"])):
        done = builds.enqueue(mv, users["auditor"], 3)  # no broker in the tests: the task runs in-process
        assert builds.fail(queued(users["auditor"], 4).pk, "the closure has 70,000 nodes, more than ARCHIVE_MAX_BUNDLE_NODES")
    queued(users["engineer"], 2)
    done.refresh_from_db()
    assert done.state == "done" and done.bundle_id is not None

    builds_shown = text_of(page(users["auditor"], "/dashboard/archive"), "builds-table")
    assert f"/api/archive/bundles/{done.bundle_id}/download/" in builds_shown
    assert "ARCHIVE_MAX_BUNDLE_NODES" in builds_shown and '"queued"' in builds_shown
    own = text_of(page(users["engineer"], "/dashboard/archive"), "builds-table")
    assert '"queued"' in own and '"engineer"' in own and '"auditor"' not in own
    assert "ARCHIVE_MAX_BUNDLE_NODES" not in own and f"/api/archive/bundles/{done.bundle_id}/" not in own


def test_audit_page_filters_verifies_and_links_exports(users, world):
    tree = page(users["auditor"], "/dashboard/audit")
    assert "audit-export-jsonl" in json.dumps(tree)
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["auditor"])
    caller = DashCaller(client)
    filtered = json.dumps(caller.call_json("audit-results.children", {
        "audit-apply.n_clicks": 1, "audit-actor.value": "approver", "audit-action_prefix.value": "promotion."}))
    expected = AuditEntry.objects.filter(actor_username="approver", action__startswith="promotion.").count()
    assert expected and f"{expected} matching entries" in filtered
    assert "promotion.decision.approve" in filtered and "legal_hold.place" not in filtered
    bad = json.dumps(caller.call_json("audit-results.children", {"audit-apply.n_clicks": 1,
                                                                 "audit-since.value": "yesterday-ish"}))
    assert "audit-bad-filter" in bad
    verified = json.dumps(caller.call_json("audit-verify-result.children", {"audit-verify.n_clicks": 1}))
    assert "audit-chain-ok" in verified and "OK: verified seq 1.." in verified
    client.force_login(users["approver"])
    refused = json.dumps(DashCaller(client).call_json("audit-verify-result.children", {"audit-verify.n_clicks": 1}))
    assert "audit-refused" in refused and "OK: verified" not in refused


def test_connectors_page_shows_sources_and_harvest_errors(users, world):
    tree = page(users["admin"], "/dashboard/connectors")
    assert "kfp-prod" in text_of(tree, "conn-configs")
    assert "name does not resolve" in json.dumps(find_component(tree, "conn-history"))
    # The settings are the admins' (as GET /api/connectors/); the harvest history is every role's.
    approver = page(users["approver"], "/dashboard/connectors")
    assert find_component(approver, "conn-configs") is None
    assert "name does not resolve" in json.dumps(find_component(approver, "conn-history"))


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/lineage", "/dashboard/approvals", "/dashboard/archive",
                                  "/dashboard/connectors", "/dashboard/nope"])
def test_every_page_renders_for_every_role(users, world, path):
    for role in ("engineer", "auditor", "approver", "admin"):
        tree = page(users[role], path)
        assert tree["page"]["children"] is not None
