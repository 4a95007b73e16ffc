"""The model version page builds and offers evidence bundles through the archive API's own rules: only
auditors and admins may build (checked again inside the callback, whatever the page drew), the build is the
archive service's (audited under the caller's name), a queued build's state is polled, and the download
link is the audited archive API's."""
from __future__ import annotations

import json

import pytest
from django.test import Client

from devtools.dashboard import DashCaller, demo_model, find_component
from governance.archive.models import BundleBuild, EvidenceBundle
from governance.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def caller(user) -> DashCaller:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return DashCaller(client)


def build(user, node_id, depth=5):
    return caller(user).call_json("mv-build-result.children",
                                  {"mv-build.n_clicks": 1, "mv-node.data": node_id, "mv-build-depth.value": depth})


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_auditors_and_admins_build_a_bundle_and_get_its_download_link(users, role):
    ids = demo_model()
    out = build(users[role], ids["model_version"])
    bundle = EvidenceBundle.objects.get()
    text = json.dumps(out)
    assert "mv-bundle-ready" in text and f"/api/archive/bundles/{bundle.pk}/download/" in text
    assert bundle.sha256[:16] in json.dumps(out["mv-evidence"])  # the evidence section is redrawn
    assert bundle.created_by == users[role] and bundle.depth == 5 and bundle.node_count >= 5
    entry = AuditEntry.objects.get(action="bundle.create")
    assert entry.actor_username == role
    # The link works for the builder, through the API's own permission check and audit.
    client = Client()
    client.force_login(users[role])
    response = client.get(f"/api/archive/bundles/{bundle.pk}/download/")
    assert response.status_code == 200 and response["X-Content-SHA256"] == bundle.sha256
    # Drawn on the page afterwards, for the role that may see it.
    tree = caller(users[role]).call_json("page.children", {"url.pathname": f"/dashboard/model/{ids['model_version']}",
                                                           "url.search": ""})
    assert bundle.sha256[:16] in json.dumps(find_component(tree, "mv-bundles"))


@pytest.mark.parametrize("role", ["engineer", "approver", "outsider"])
def test_everyone_else_is_refused_inside_the_callback_and_nothing_is_built(users, role):
    ids = demo_model()
    before = AuditEntry.objects.count()
    out = build(users[role], ids["model_version"])
    text = json.dumps(out)
    assert "mv-build-refused" in text and "mv-bundle-ready" not in text
    assert not EvidenceBundle.objects.exists() and not BundleBuild.objects.exists()
    # Only the refusal of the governed action is recorded (dashboard.auth.guarded), as the API records it.
    added = list(AuditEntry.objects.order_by("seq"))[before:]
    assert [(e.action, e.actor_username) for e in added] == [("evidence_bundle.create.refused", role)]


def test_the_button_is_drawn_only_for_those_who_may_build(users):
    ids = demo_model()
    path = {"url.pathname": f"/dashboard/model/{ids['model_version']}", "url.search": ""}
    engineer = caller(users["engineer"]).call_json("page.children", path)
    assert find_component(engineer, "mv-build") is None
    assert "Only auditors and admins build" in json.dumps(find_component(engineer, "mv-build-denied"))
    assert "No evidence bundle has been built" in json.dumps(find_component(engineer, "mv-bundles-none"))
    auditor = caller(users["auditor"]).call_json("page.children", path)
    assert find_component(auditor, "mv-build") is not None


def test_bad_input_is_refused_with_the_apis_reason(users):
    ids = demo_model()
    out = json.dumps(build(users["auditor"], ids["run"], depth=99))
    assert "mv-build-refused" in out and "depth" in out
    out = json.dumps(build(users["auditor"], ids["dataset"]))
    assert "mv-build-refused" in out and "bundles are built for" in out
    assert not EvidenceBundle.objects.exists()


def test_with_a_broker_the_build_is_queued_and_its_state_polled(users, monkeypatch):
    """The broker path (tasks run eagerly in the tests): the click queues a build and shows it queued, the
    poll reads it through the bundle-builds API's rule and shows the finished bundle's download link."""
    import governance.celery

    monkeypatch.setattr(governance.celery, "broker_configured", lambda: True)
    ids = demo_model()
    c = caller(users["auditor"])
    out = c.call_json("mv-build-result.children",
                      {"mv-build.n_clicks": 1, "mv-node.data": ids["model_version"], "mv-build-depth.value": 4})
    build_row = BundleBuild.objects.get()
    assert out["mv-build-id"]["data"] == build_row.pk and out["mv-build-poll"]["disabled"] is False
    assert "mv-build-state" in json.dumps(out) and "queued" in json.dumps(out)
    polled = c.call_json("mv-build-result.children", {"mv-build-poll.n_intervals": 1, "mv-build-id.data": build_row.pk})
    build_row.refresh_from_db()
    assert build_row.state == "done"
    assert f"/api/archive/bundles/{build_row.bundle_id}/download/" in json.dumps(polled)
    assert polled["mv-build-poll"]["disabled"] is True
    # Someone who may not see that build learns nothing about it.
    other = caller(users["engineer"]).call_json("mv-build-result.children",
                                                {"mv-build-poll.n_intervals": 1, "mv-build-id.data": build_row.pk})
    assert "mv-build-refused" in json.dumps(other) and "/api/archive/bundles/" not in json.dumps(other)


def test_an_openlineage_model_is_archived_through_the_run_that_produced_it(users):
    """OpenLineage has no model kind (the model is an output dataset version typed MODEL) and bundles are built
    for model versions and runs: the page builds the producing run's bundle and counts it as the model's."""
    from lineage import store
    from lineage.store import EdgeFact, NodeFact, NodeKey

    run = NodeKey("openlineage", "run", "r-ol-1")
    model = NodeKey("openlineage", "dataset_version", "mlflow://registry:models/x@r-ol-1")
    made = store.apply([
        NodeFact(run, name="r-ol-1", namespace="ml://trainer", properties={"state": "COMPLETE"}),
        NodeFact(model, name="models/x", namespace="mlflow://registry",
                 properties={"facets": {"datasetType": {"datasetType": "MODEL"}}}),
        EdgeFact("produced", run, model, "openlineage")]).nodes
    path = {"url.pathname": f"/dashboard/model/{made[model].pk}", "url.search": ""}
    tree = caller(users["auditor"]).call_json("page.children", path)
    assert "of its producing run" in json.dumps(find_component(tree, "mv-build"))
    assert find_component(tree, "mv-node")["props"]["data"] == made[run].pk
    out = caller(users["auditor"]).call_json("mv-build-result.children", {
        "mv-build.n_clicks": 1, "mv-node.data": made[run].pk, "mv-build-depth.value": 3,
        "mv-version.data": made[model].pk})
    bundle = EvidenceBundle.objects.get()
    assert bundle.subject_kind == "run" and bundle.sha256[:16] in json.dumps(out["mv-evidence"])
    card = caller(users["engineer"]).client.get(f"/api/model-versions/{made[model].pk}/provenance/").json()
    assert card["evidence"]["total"] == 1 and card["evidence"]["hidden_count"] == 1
