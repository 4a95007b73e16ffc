"""The Archive page's actions: build an evidence bundle (built at once without a broker, queued and
followed until done with one), download it, place and lift legal holds. Auditors and admins only,
checked on the server in every callback, through the archive's own validation and services."""
import json

import pytest
from django.test import Client

from devtools.dashboard import DashCaller, find_component
from governance.archive import builds, tasks
from governance.archive.models import BundleBuild, EvidenceBundle, LegalHold
from devtools.archive_sample import make_model_lineage
from governance.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def caller_for(user) -> DashCaller:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return DashCaller(client)


def build(caller, node_id, depth=2):
    return caller.call_json("bundle-build-result.children",
                            {"bundle-build.n_clicks": 1, "bundle-node.value": node_id, "bundle-depth.value": depth})


def archive_page(caller):
    return caller.call_json("page.children", {"url.pathname": "/dashboard/archive", "url.search": ""})


def test_auditor_builds_a_bundle_and_downloads_it(users):
    mv = make_model_lineage("dash", upstream=6)
    caller = caller_for(users["auditor"])
    response = build(caller, mv.pk)
    bundle = EvidenceBundle.objects.get()
    assert "bundle-built" in json.dumps(response) and bundle.created_by == users["auditor"]
    link = find_component(response["bundle-build-result"], "bundle-new-download")["props"]["href"]
    assert link == f"/api/archive/bundles/{bundle.pk}/download/"
    assert f"bundle-download-{bundle.pk}" in json.dumps(response["bundles-wrap"])  # the list is redrawn
    assert AuditEntry.objects.filter(action="bundle.create", actor_username="auditor").count() == 1
    download = caller.client.get(link)
    assert download.status_code == 200 and download["X-Content-SHA256"] == bundle.sha256
    assert not BundleBuild.objects.exists()  # no broker: built in the request, as the API does


def test_with_a_broker_the_build_is_queued_and_followed_until_done(users, monkeypatch):
    monkeypatch.setattr("governance.celery.broker_configured", lambda: True)
    sent = []
    monkeypatch.setattr(tasks.build_bundle_task, "apply_async", lambda *a, **k: sent.append(a))
    mv = make_model_lineage("queued", upstream=6)
    caller = caller_for(users["auditor"])
    response = build(caller, mv.pk)
    job = BundleBuild.objects.get()
    assert sent and job.state == "queued" and "bundle-queued" in json.dumps(response)
    assert response["builds-poll"]["disabled"] is False  # the table polls while a build is open
    assert "queued" in json.dumps(response["builds-wrap"])
    page = archive_page(caller)
    assert find_component(page, "builds-poll")["props"]["disabled"] is False
    builds.run(job.pk, None)  # a worker takes it
    polled = caller.call_json("builds-wrap.children", {"builds-poll.n_intervals": 1})
    job.refresh_from_db()
    assert job.state == "done" and polled["builds-poll"]["disabled"] is True
    assert f"build-bundle-{job.pk}" in json.dumps(polled["builds-wrap"])
    assert f"bundle-download-{job.bundle_id}" in json.dumps(polled["bundles-wrap"])


def test_bad_input_is_refused_with_the_archive_s_message(users):
    from devtools.archive_sample import make_model_lineage as lineage

    mv = lineage("bad", upstream=3)
    caller = caller_for(users["auditor"])
    assert "depth" in json.dumps(build(caller, mv.pk, depth=99))
    dataset = mv.__class__.objects.filter(kind="dataset").first()
    assert "bundles are built for" in json.dumps(build(caller, dataset.pk))
    assert "Pick a model version or run first" in json.dumps(build(caller, None))
    assert not EvidenceBundle.objects.exists()


@pytest.mark.parametrize("role", ["engineer", "approver", "outsider"])
def test_building_and_holds_are_refused_on_the_server_without_the_auditor_role(users, role):
    mv = make_model_lineage("denied", upstream=3)
    caller = caller_for(users[role])
    audit_before = AuditEntry.objects.count()
    response = json.dumps(build(caller, mv.pk))
    assert "bundle-refused" in response and "needs the role auditor" in response
    placed = json.dumps(caller.call_json("hold-result.children", {
        "hold-place.n_clicks": 1, "hold-node.value": mv.pk, "hold-reason.value": "litigation"}))
    assert "hold-refused" in placed and "needs the role auditor" in placed
    assert not EvidenceBundle.objects.exists() and not LegalHold.objects.exists()
    # Nothing but the refusals themselves is recorded, as the API records its refusals (dashboard.auth.guarded).
    added = list(AuditEntry.objects.order_by("seq"))[audit_before:]
    assert [(e.action, e.actor_username) for e in added] == [("evidence_bundle.create.refused", role),
                                                              ("legal_hold.place.refused", role)]
    if role != "outsider":
        page = json.dumps(archive_page(caller))
        assert "bundle-build-denied" in page and '"bundle-build"' not in page and '"hold-place"' not in page


def test_auditor_places_and_lifts_a_hold_with_reasons(users):
    mv = make_model_lineage("held", upstream=3)
    caller = caller_for(users["auditor"])
    no_reason = caller.call_json("hold-result.children", {
        "hold-place.n_clicks": 1, "hold-node.value": mv.pk, "hold-reason.value": "  "})
    assert "hold-refused" in json.dumps(no_reason) and not LegalHold.objects.exists()
    placed = caller.call_json("hold-result.children", {
        "hold-place.n_clicks": 1, "hold-node.value": mv.pk, "hold-reason.value": "litigation 2026-17"})
    hold = LegalHold.objects.get()
    assert "hold-done" in json.dumps(placed) and hold.active and hold.placed_by == users["auditor"]
    assert "litigation 2026-17" in json.dumps(placed["holds-wrap"])
    assert [o["value"] for o in placed["hold-pick"]["options"]] == [hold.pk]
    assert AuditEntry.objects.filter(action="legal_hold.place", actor_username="auditor").count() == 1

    def lift(reason):
        return caller.call_json("hold-result.children", {
            "hold-release.n_clicks": 1, "hold-pick.value": hold.pk, "hold-release-reason.value": reason})

    assert "needs a reason" in json.dumps(lift(""))
    lifted = lift("case closed")
    hold.refresh_from_db()
    assert "hold-done" in json.dumps(lifted) and not hold.active and hold.release_reason == "case closed"
    assert lifted["hold-pick"]["options"] == []
    assert "already released" in json.dumps(lift("again"))
    assert AuditEntry.objects.filter(action="legal_hold.release", actor_username="auditor").count() == 1


def test_node_pickers_search_by_name_and_refuse_outsiders(users):
    mv = make_model_lineage("findme", upstream=3)
    options = caller_for(users["auditor"]).call_json("bundle-node.options", {"bundle-node.search_value": "findme"})
    assert mv.pk in [o["value"] for o in options["bundle-node"]["options"]]
    hidden = caller_for(users["outsider"]).call_json("bundle-node.options", {"bundle-node.search_value": "findme"})
    assert hidden["bundle-node"]["options"] == []
