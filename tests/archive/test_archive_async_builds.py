"""Evidence bundles built by the task workers: with a broker, `POST /api/archive/bundles/` queues a
BundleBuild (202) that a worker builds as the requester; the client polls it until done or failed.

Two layers. In-process (SQLite and PostgreSQL): the API's queued path with the task run eagerly, the
build's audit trail, a refused build, redelivery of a task whose build ended or whose worker died, a broker
that refuses the task. With real processes (PostgreSQL and Redis db 13, a queue of the test's own): gunicorn
serving the API with a broker and a `celery worker` building the bundle, which the offline verifier accepts.
"""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests
from django.conf import settings

from governance.archive import builds, tasks
from governance.archive.models import BundleBuild, EvidenceBundle
from devtools.archive_sample import make_model_lineage
from common.audit import context
from governance.audit.models import AuditEntry
from lineage.kinds import NodeKind
from lineage.models import Node
from tests.conftest import make_user
from tests.support.workers import ROOT, SECOND_BROKER as BROKER

BUILD_ACTIONS = ["bundle_build.create", "bundle_build.start", "bundle.create", "bundle_build.done"]


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def broker_url():
    """This module's own Redis database (the celery tests use db 15); the workers and web fixtures use it."""
    return BROKER


# -- in-process: the queued path with the task run eagerly (CELERY_TASK_ALWAYS_EAGER, the tests' default) ---
@pytest.fixture
def queued(monkeypatch):
    """The API takes its broker path; the task still runs in this process (eager)."""
    from governance.archive.api import views

    monkeypatch.setattr(views, "broker_configured", lambda: True)


def _trail(request_id: str) -> list[AuditEntry]:
    """The request's entries, less the checkpoint a bundle signs for its audit excerpt."""
    from governance.audit.chain import CHECKPOINT_ACTION

    return list(AuditEntry.objects.filter(request_id=request_id).exclude(action=CHECKPOINT_ACTION).order_by("seq"))


@pytest.mark.django_db
def test_without_a_broker_the_bundle_is_built_in_the_request_and_no_job_is_recorded(clients):
    mv = make_model_lineage("sync", upstream=6)
    response = clients["auditor"].post("/api/archive/bundles/", {"node": mv.pk, "depth": 2}, format="json")
    assert response.status_code == 201, response.json()
    assert EvidenceBundle.objects.filter(pk=response.json()["id"]).exists()
    assert not BundleBuild.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="bundle_build.").exists()


@pytest.mark.django_db
def test_a_queued_build_answers_202_and_ends_done_as_its_requester(clients, users, queued):
    mv = make_model_lineage("queued", upstream=6)
    response = clients["auditor"].post("/api/archive/bundles/", {"node": mv.pk, "depth": 2}, format="json",
                                       HTTP_X_REQUEST_ID="req-queued-1")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert response["Location"] == body["url"] == f"/api/archive/bundle-builds/{body['id']}/"
    assert body["task_id"] and body["request_id"] == "req-queued-1" and body["requested_by_username"] == "auditor"

    build = clients["auditor"].get(body["url"]).json()
    assert build["state"] == "done" and build["attempts"] == 1 and build["error"] == ""
    bundle = clients["auditor"].get(build["bundle_url"]).json()
    assert bundle["created_by_username"] == "auditor" and bundle["subject_source_id"] == mv.source_id
    assert bundle["depth"] == 2
    assert clients["auditor"].get(f"/api/archive/bundles/{bundle['id']}/verify/").json()["ok"] is True

    trail = _trail("req-queued-1")
    assert [e.action for e in trail] == BUILD_ACTIONS
    assert {(e.actor_id, e.actor_username) for e in trail} == {(users["auditor"].pk, "auditor")}
    assert trail[-1].after["bundle"] == bundle["id"] and trail[-1].after["sha256"] == bundle["sha256"]

    # Builds are read like bundles: others see only their own.
    assert clients["engineer"].get(body["url"]).status_code == 404
    assert clients["engineer"].get("/api/archive/bundle-builds/").json()["results"] == []
    listed = clients["admin"].get("/api/archive/bundle-builds/", {"state": "done"}).json()["results"]
    assert [b["id"] for b in listed] == [body["id"]]


@pytest.mark.django_db
def test_a_refused_build_ends_failed_with_the_reason(clients, queued, settings):
    settings.ARCHIVE_MAX_BUNDLE_NODES = 5
    mv = make_model_lineage("big", upstream=12)
    response = clients["auditor"].post("/api/archive/bundles/", {"node": mv.pk, "depth": 20}, format="json",
                                       HTTP_X_REQUEST_ID="req-too-big")
    assert response.status_code == 202, response.json()
    build = clients["auditor"].get(response.json()["url"]).json()
    assert build["state"] == "failed" and build["bundle"] is None
    assert "more than 5 nodes" in build["error"]
    assert not EvidenceBundle.objects.exists()
    assert not Node.objects.filter(archived_at__isnull=False).exists()
    trail = _trail("req-too-big")
    assert [e.action for e in trail] == ["bundle_build.create", "bundle_build.start", "bundle_build.failed"]
    assert trail[-1].after["error"] == build["error"] and trail[-1].actor_username == "auditor"


@pytest.mark.django_db
@pytest.mark.parametrize("payload, field", [({"node": "DATASET"}, "node"), ({"node": "MV", "depth": 0}, "depth"),
                                            ({"node": 987654}, "node"), ({}, "node")])
def test_bad_input_is_a_400_that_stores_and_queues_nothing(clients, queued, monkeypatch, payload, field):
    mv = make_model_lineage("bad", upstream=6)
    dataset = Node.objects.filter(kind=NodeKind.DATASET).first()
    payload = {k: {"MV": mv.pk, "DATASET": dataset.pk}.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    sent = []
    monkeypatch.setattr(tasks.build_bundle_task, "apply_async", lambda *a, **k: sent.append(a))
    audit = AuditEntry.objects.count()
    response = clients["auditor"].post("/api/archive/bundles/", payload, format="json")
    assert response.status_code == 400 and field in response.json()["detail"]
    assert sent == [] and not BundleBuild.objects.exists() and AuditEntry.objects.count() == audit


@pytest.mark.django_db
def test_a_broker_that_refuses_the_task_is_a_503_and_the_build_is_failed(clients, queued, monkeypatch):
    from kombu.exceptions import OperationalError

    def down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(tasks.build_bundle_task, "apply_async", down)
    mv = make_model_lineage("down", upstream=6)
    response = clients["auditor"].post("/api/archive/bundles/", {"node": mv.pk}, format="json",
                                       HTTP_X_REQUEST_ID="req-down")
    assert response.status_code == 503 and response.json()["error"] == "broker_unavailable"
    build = BundleBuild.objects.get(pk=response.json()["build"])
    assert build.state == "failed" and "could not be queued" in build.error and "Connection refused" in build.error
    assert [e.action for e in _trail("req-down")] == ["bundle_build.create", "bundle_build.failed"]
    assert not EvidenceBundle.objects.exists()


@pytest.mark.django_db
def test_a_redelivered_task_builds_once_and_a_dead_workers_build_is_built_again(users):
    mv = make_model_lineage("again", upstream=6)
    ctx = context.for_user(users["auditor"], request_id="req-again")
    with context.acting_as(ctx):
        build = builds.enqueue(mv, users["auditor"], 2)  # eager: built here and now
    build.refresh_from_db()
    assert build.state == "done"
    args = (mv.pk, users["auditor"].pk, 2, {"user_id": users["auditor"].pk, "username": "auditor",
                                             "request_id": "req-again"}, build.pk)
    # The same message again (acks_late: a worker that died after the commit, before the ack).
    again = tasks.build_bundle_task.apply(args=args).get()
    assert again == {"build": build.pk, "state": "done", "bundle": build.bundle_id, "sha256": build.bundle.sha256,
                     "nodes": build.bundle.node_count}
    assert EvidenceBundle.objects.count() == 1
    assert [e.action for e in _trail("req-again")] == BUILD_ACTIONS

    # A worker killed mid-build leaves its build running; the redelivered task builds it from scratch.
    mv2 = make_model_lineage("dead", upstream=6)
    with context.acting_as(ctx):
        orphan = BundleBuild.objects.create(node=mv2, subject_kind=mv2.kind, subject_source_id=mv2.source_id,
                                            depth=2, requested_by=users["auditor"], request_id="req-dead",
                                            state="running", attempts=1)
    ctx_data = {"user_id": users["auditor"].pk, "username": "auditor", "request_id": "req-dead"}
    result = tasks.build_bundle_task.apply(args=(mv2.pk, users["auditor"].pk, 2, ctx_data, orphan.pk)).get()
    orphan.refresh_from_db()
    assert result["state"] == "done" and orphan.state == "done" and orphan.attempts == 2
    assert orphan.bundle.created_by == users["auditor"]
    start = AuditEntry.objects.get(request_id="req-dead", action="bundle_build.start")
    assert start.before == {"state": "running"} and start.after["attempt"] == 2


@pytest.mark.django_db
def test_an_attempt_overtaken_while_rendering_registers_nothing(users, monkeypatch):
    """The broker hands the task to a second worker (visibility timeout) while the first still renders:
    the second attempt builds and registers the bundle; the first, finishing later, must not register a
    second one."""
    mv = make_model_lineage("overtaken", upstream=6)
    ctx_data = {"user_id": users["auditor"].pk, "username": "auditor", "request_id": "req-overtaken"}
    build = BundleBuild.objects.create(node=mv, subject_kind=mv.kind, subject_source_id=mv.source_id, depth=2,
                                       requested_by=users["auditor"], request_id="req-overtaken")
    real_build_bundle = builds.services.build_bundle
    overtaken = []

    def first_attempt_renders_while_a_second_runs(*args, **kwargs):
        if not overtaken:
            overtaken.append(True)
            builds.run(build.pk, ctx_data)  # the second worker, start to finish
        return real_build_bundle(*args, **kwargs)

    monkeypatch.setattr(builds.services, "build_bundle", first_attempt_renders_while_a_second_runs)
    result = builds.run(build.pk, ctx_data)
    build.refresh_from_db()
    assert overtaken and build.attempts == 2
    assert result["state"] == build.state == "done"
    assert EvidenceBundle.objects.count() == 1 and result["bundle"] == build.bundle_id
    assert AuditEntry.objects.filter(request_id="req-overtaken", action="bundle_build.done").count() == 1
    assert AuditEntry.objects.filter(request_id="req-overtaken", action="bundle.create").count() == 1


@pytest.mark.django_db
def test_a_build_whose_node_left_the_store_fails_with_the_reason(users):
    mv = make_model_lineage("gone", upstream=6)
    build = BundleBuild.objects.create(node=None, subject_kind=mv.kind, subject_source_id="gone-model/1", depth=2,
                                       requested_by=users["auditor"], request_id="req-gone")
    ctx_data = {"user_id": users["auditor"].pk, "username": "auditor", "request_id": "req-gone"}
    result = tasks.build_bundle_task.apply(args=(mv.pk, users["auditor"].pk, 2, ctx_data, build.pk)).get()
    build.refresh_from_db()
    assert result["state"] == build.state == "failed"
    assert build.error == "the node model_version:gone-model/1 is no longer in the store"
    assert [e.action for e in _trail("req-gone")] == ["bundle_build.start", "bundle_build.failed"]


# -- real processes: gunicorn (API with a broker) + a celery worker + Redis db 13 + PostgreSQL ------------
def _poll_build(api, url: str, worker, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        build = api.get(url, timeout=30).json()
        if build["state"] in ("done", "failed"):
            return build
        if time.monotonic() > deadline:
            pytest.fail(f"build still {build['state']} after {timeout} s\n"
                        + worker.output().decode(errors="replace")[-3000:])
        time.sleep(0.2)


@pytest.mark.postgres_only
@pytest.mark.parametrize("web", [BROKER], indirect=True)
@pytest.mark.slow
def test_a_worker_builds_the_queued_bundle_as_the_requester(transactional_db, tmp_path, monkeypatch, broker_queue,
                                                           workers, web):
    monkeypatch.setenv("ARCHIVE_MAX_BUNDLE_NODES", "12")  # the worker's limit (its environment is this one's)
    auditor = make_user("archivist", "auditor")
    engineer = make_user("eng", "engineer")
    mv = make_model_lineage("async", upstream=30)  # depth 1: 4 nodes; depth 20: 33 nodes
    dataset = Node.objects.filter(kind=NodeKind.DATASET).first()
    worker = workers("archive")
    api = requests.Session()
    api.headers["Authorization"] = "Bearer " + auditor.auth_token.key
    bundles = web + "/api/archive/bundles/"

    # Bad input: 400, and nothing stored or queued.
    audit = AuditEntry.objects.count()
    refused = api.post(bundles, json={"node": dataset.pk}, timeout=60)
    assert refused.status_code == 400 and "node" in refused.json()["detail"], refused.text
    assert not BundleBuild.objects.exists() and AuditEntry.objects.count() == audit

    queued = api.post(bundles, json={"node": mv.pk, "depth": 1}, headers={"X-Request-ID": "req-async-ok"}, timeout=60)
    assert queued.status_code == 202, queued.text
    body = queued.json()
    assert body["state"] == "queued" and queued.headers["Location"] == body["url"]
    done = _poll_build(api, web + body["url"], worker)
    assert done["state"] == "done", done["error"]
    assert done["attempts"] == 1 and done["requested_by"] == auditor.pk and done["request_id"] == "req-async-ok"
    assert f"Task archive.build_bundle[{body['task_id']}] succeeded".encode() in worker.output()

    bundle = api.get(web + done["bundle_url"], timeout=30).json()
    assert bundle["created_by_username"] == "archivist" and bundle["node_count"] == 4
    zipped = api.get(web + bundle["download_url"], timeout=30)
    assert zipped.status_code == 200
    path = tmp_path / "evidence.zip"
    path.write_bytes(zipped.content)
    offline = subprocess.run([sys.executable, "-m", "governance.archive.verify", str(path), "--sha256", bundle["sha256"],
                              "--hmac-key", settings.AUDIT_HMAC_KEY], cwd=ROOT, capture_output=True, text=True,
                             timeout=120)
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert bundle["sha256"] in offline.stdout

    trail = _trail("req-async-ok")
    assert [e.action for e in trail] == BUILD_ACTIONS
    assert {(e.actor_id, e.actor_username) for e in trail} == {(auditor.pk, "archivist")}
    assert trail[2].after["sha256"] == bundle["sha256"]

    # Refused on the worker (the closure is larger than its limit): failed, with the reason, as the requester.
    big = api.post(bundles, json={"node": mv.pk, "depth": 20}, headers={"X-Request-ID": "req-async-big"}, timeout=60)
    assert big.status_code == 202, big.text
    failed = _poll_build(api, web + big.json()["url"], worker)
    assert failed["state"] == "failed" and failed["bundle"] is None
    assert failed["error"] == "the closure holds more than 12 nodes; choose a smaller depth"
    trail = _trail("req-async-big")
    assert [e.action for e in trail] == ["bundle_build.create", "bundle_build.start", "bundle_build.failed"]
    assert {e.actor_username for e in trail} == {"archivist"} and trail[-1].after["error"] == failed["error"]
    assert EvidenceBundle.objects.count() == 1
    # Two builds reached the worker; the bad request never did.
    assert worker.output().count(b"Task archive.build_bundle[") == 4  # received + succeeded, twice

    other = requests.Session()
    other.headers["Authorization"] = "Bearer " + engineer.auth_token.key
    assert other.get(web + body["url"], timeout=30).status_code == 404
    assert other.get(web + "/api/archive/bundle-builds/", timeout=30).json()["results"] == []
    # The web process and the worker appended to one chain; it still verifies.
    checked = api.get(web + "/api/audit/verify/", timeout=60).json()
    assert checked["ok"] is True, checked
