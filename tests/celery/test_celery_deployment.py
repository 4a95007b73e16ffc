"""The deployment shape end to end: gunicorn with two processes of four threads serving the API, a Celery worker, Redis
(db 15, a queue of this test's own) and the test's PostgreSQL database.

"Harvest now" answers 202 with the task and harvest ids and the worker does the harvest; a second start
while it runs is a 409 naming the running harvest. A web-side process with a broker hands webhook
deliveries to the worker instead of sending them itself. An evidence bundle is built on the worker.
PostgreSQL only (every process must share the database)."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from devtools.kubeflow import demo
from devtools.kubeflow.fake_api import FakeKfpServer
from devtools.kubeflow.testing import FAST_RETRY
from governance.approvals import webhooks
from governance.approvals.models import WebhookDelivery, WebhookSubscription
from governance.archive.models import EvidenceBundle
from lineage.kinds import NodeKind
from lineage.models import Node
from tests.conftest import make_user
from tests.support.workers import BROKER, ROOT, Worker, worker_env

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]
RUNS = 12
SECRET = "deployment-webhook-secret-0123456789"


class Receiver:
    def __init__(self):
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"body": json.loads(body), "signature_ok": webhooks.verify(
                    SECRET, body, self.headers.get(webhooks.SIGNATURE_HEADER))})
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _poll(fn, what: str, worker: Worker, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n" + worker.output().decode(errors="replace")[-3000:])
        time.sleep(0.2)


def test_gunicorn_queues_harvests_for_the_worker_and_the_worker_delivers_and_builds(
        transactional_db, tmp_path, broker_queue, workers, web):
    admin = make_user("ops-admin", "admin")
    api = requests.Session()
    api.headers["Authorization"] = "Bearer " + admin.auth_token.key
    source = demo.generate_bulk(tmp_path / "mlmd.sqlite", RUNS)
    worker = workers("deploy")
    with FakeKfpServer.serving(source) as kfp:
        kfp.inject(r"/runs/[^/]+$", status=0, delay=0.15, times=10_000)  # the harvest lasts a couple of seconds
        r = api.post(web + "/api/connectors/", json={
            "name": "kfp-deploy", "kind": "kubeflow", "schedule": "0 3 * * *",
            "settings": {"kfp_host": kfp.url, "mlmd_sqlite": str(source.mlmd_path), **FAST_RETRY}})
        assert r.status_code == 201, r.text
        queued = api.post(web + "/api/connectors/kfp-deploy/harvest/")
        assert queued.status_code == 202, queued.text
        body = queued.json()
        assert body["status"] == "queued" and body["task_id"] and body["harvest"]
        second = api.post(web + "/api/connectors/kfp-deploy/harvest/")
        assert second.status_code == 409 and second.json()["error"] == "already_running"
        assert second.json()["harvest"] == body["harvest"]
        done = _poll(lambda: (lambda h: h if h["status"] != "running" else None)(
            api.get(f"{web}/api/harvests/{body['harvest']}/").json()), "the queued harvest", worker)
        assert done["status"] == "succeeded", done["error"]
        assert done["counts"]["read"]["runs"] == RUNS + 1 and done["actor"] == "harvester:kubeflow"
        assert done["counts"]["partitions"]["total"] >= 2
        assert b"connectors.harvest_partition" in worker.output()

    # Webhooks: a process with a broker queues the delivery; the worker sends it.
    receiver = Receiver()
    try:
        sub = WebhookSubscription(name="ops", url=receiver.url, events=[])
        sub.set_secret(SECRET)
        sub.save()
        script = ("from django.db import transaction\n"
                  "from governance.approvals import webhooks\n"
                  "with transaction.atomic():\n"
                  "    print(webhooks.enqueue('promotion.approved', {'request': 7}))\n")
        out = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT,
                             env=worker_env(tmp_path, broker_queue, BROKER), capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        delivery = WebhookDelivery.objects.get()
        _poll(lambda: WebhookDelivery.objects.get().status == "succeeded", "the webhook delivery", worker)
        assert [r["body"]["id"] for r in receiver.received] == [delivery.pk]
        assert receiver.received[0]["signature_ok"] and receiver.received[0]["body"]["data"] == {"request": 7}
        _poll(lambda: b"approvals.deliver_webhook" in worker.output() and b"succeeded" in worker.output(),
              "the worker's log of the delivery", worker)
    finally:
        receiver.close()

    # An evidence bundle built on the worker, in the requester's name.
    from celery import Celery

    run = Node.objects.filter(kind=NodeKind.RUN, source_id__startswith="kfp-deploy/run/").order_by("pk").first()
    client = Celery("ll-test-client", broker=BROKER)
    try:
        client.send_task("archive.build_bundle", args=[run.pk, admin.pk, 2], queue=broker_queue)
    finally:
        client.close()
    bundle = _poll(lambda: EvidenceBundle.objects.filter(node=run).first(), "the bundle", worker)
    assert bundle.created_by_id == admin.pk and bundle.node_count >= 2


@pytest.mark.parametrize("web", ["redis://127.0.0.1:1/0"], indirect=True)  # nothing listens on port 1
def test_an_unreachable_broker_is_a_503_that_leaves_the_lock_free(transactional_db, web):
    admin = make_user("ops-admin", "admin")
    api = requests.Session()
    api.headers["Authorization"] = "Bearer " + admin.auth_token.key
    r = api.post(web + "/api/connectors/", json={"name": "kfp-nobroker", "kind": "kubeflow",
                                                 "settings": {"kfp_host": "http://127.0.0.1:9"}})
    assert r.status_code == 201, r.text
    for _ in range(2):  # the second start is not "already running": the first was closed as failed
        r = api.post(web + "/api/connectors/kfp-nobroker/harvest/", timeout=120)
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "broker_unavailable"
        harvest = api.get(f"{web}/api/harvests/{r.json()['harvest']}/").json()
        assert harvest["status"] == "failed" and "could not be queued" in harvest["error"]
