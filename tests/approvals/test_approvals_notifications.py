"""E-mail to approvers when a request is pending and to the requester on decision; HMAC-signed webhooks
delivered to a real local HTTP server, retried after a 500."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from common.roles import APPROVER
from tests.support import approvals as t
from governance.approvals import webhooks
from governance.approvals.models import WebhookDelivery, WebhookSubscription
from governance.audit.models import AuditEntry
from lineage.kinds import NodeKind
from tests.conftest import make_user

URL = "/api/promotion-requests/"
SECRET = "s3cret-webhook-key-0123456789"


class Receiver:
    """A webhook receiver that checks the signature like a real one would, and can fail on purpose."""

    def __init__(self, fail_first: int = 0, status_on_fail: int = 500):
        self.fail_first = fail_first
        self.status_on_fail = status_on_fail
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = webhooks.verify(SECRET, body, self.headers.get(webhooks.SIGNATURE_HEADER))
                receiver.received.append({"body": body, "signature_ok": ok, "event": self.headers.get(webhooks.EVENT_HEADER)})
                if not ok:
                    status = 401
                elif receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    status = receiver.status_on_fail
                else:
                    status = 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/ll"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(autouse=True)
def local_receivers_allowed(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]


@pytest.fixture
def fast_retries(settings):
    settings.APPROVALS_WEBHOOK_BACKOFF = 0
    settings.APPROVALS_WEBHOOK_MAX_ATTEMPTS = 3


@pytest.fixture
def mv(db, users):
    t.open_policy("production", approvals=2)
    for name in ("engineer", "approver", "admin", "auditor"):
        users[name].email = f"{name}@example.com"
        users[name].save()
    return t.node(NodeKind.MODEL_VERSION, "churn-v9", {"author": "carol"})


def test_approvers_are_mailed_when_pending_and_the_requester_on_decision(clients, mv, mailoutbox,
                                                                        django_capture_on_commit_callbacks):
    carol = make_user("carol", APPROVER)
    carol.email = "carol@example.com"
    carol.save()
    with django_capture_on_commit_callbacks(execute=True):
        draft = clients["engineer"].post(URL, {"node": mv.pk, "target_stage": "production", "justification": "j"},
                                         format="json").json()
    assert mailoutbox == []  # a draft notifies nobody
    with django_capture_on_commit_callbacks(execute=True):
        clients["engineer"].post(f"{URL}{draft['id']}/submit/", format="json")
    # Approver and admin may decide; the requester, the auditor and the model's author (carol) are not asked.
    assert sorted(m.to[0] for m in mailoutbox) == ["admin@example.com", "approver@example.com"]
    assert all(len(m.to) == 1 for m in mailoutbox)
    assert "Approval needed" in mailoutbox[0].subject and "churn-v9" in mailoutbox[0].subject
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        clients["approver"].post(f"{URL}{draft['id']}/approve/", {"comment": "fine"}, format="json")
    assert mailoutbox == []  # one of two approvals: not decided yet
    with django_capture_on_commit_callbacks(execute=True):
        clients["admin"].post(f"{URL}{draft['id']}/approve/", {"comment": "ship it"}, format="json")
    [mail] = mailoutbox
    assert mail.to == ["engineer@example.com"] and "approved" in mail.subject and "ship it" in mail.body


def test_rejection_mails_the_requester(clients, mv, mailoutbox, django_capture_on_commit_callbacks):
    req = clients["engineer"].post(URL, {"node": mv.pk, "target_stage": "production", "justification": "j",
                                         "submit": True}, format="json").json()
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        clients["approver"].post(f"{URL}{req['id']}/reject/", {"comment": "drift too high"}, format="json")
    [mail] = mailoutbox
    assert mail.to == ["engineer@example.com"] and "rejected" in mail.subject and "drift too high" in mail.body


def test_a_refused_decision_sends_nothing(clients, mv, mailoutbox, django_capture_on_commit_callbacks):
    req = clients["engineer"].post(URL, {"node": mv.pk, "target_stage": "production", "justification": "j",
                                         "submit": True}, format="json").json()
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert clients["engineer"].post(f"{URL}{req['id']}/approve/", {}, format="json").status_code == 403
    assert mailoutbox == []


def _subscribe(clients, url, events):
    r = clients["admin"].post("/api/webhooks/", {"name": "ops", "url": url, "events": events, "secret": SECRET},
                              format="json")
    assert r.status_code == 201, r.content
    assert "secret" not in r.json() and r.json()["has_secret"] is True
    return r.json()


def test_webhooks_are_signed_and_retried_after_a_500(clients, mv, fast_retries, django_capture_on_commit_callbacks):
    with Receiver(fail_first=1) as receiver:
        _subscribe(clients, receiver.url, ["promotion.requested", "promotion.approved", "promotion.executed"])
        with django_capture_on_commit_callbacks(execute=True):
            req = clients["engineer"].post(URL, {"node": mv.pk, "target_stage": "production", "justification": "j",
                                                 "submit": True}, format="json").json()
        assert [r["signature_ok"] for r in receiver.received] == [True, True]  # 500, then the retry
        delivery = WebhookDelivery.objects.get(event="promotion.requested")
        assert delivery.status == "succeeded" and delivery.attempts == 2 and delivery.last_status_code == 204
        first = json.loads(receiver.received[0]["body"])
        assert first["event"] == "promotion.requested" and first["data"]["request"] == req["id"]
        assert first["data"]["node"] == mv.pk and first["data"]["target_stage"] == "production"
        with django_capture_on_commit_callbacks(execute=True):
            clients["approver"].post(f"{URL}{req['id']}/approve/", {}, format="json")
            clients["admin"].post(f"{URL}{req['id']}/approve/", {}, format="json")
        events = [r["event"] for r in receiver.received[2:]]
        assert events == ["promotion.approved", "promotion.executed"]
        approved = json.loads(receiver.received[2]["body"])["data"]
        assert approved["approved_by"] == ["approver", "admin"]
    # Admins see every delivery; nobody else does.
    assert clients["admin"].get("/api/webhook-deliveries/").json()["results"][0]["status"] == "succeeded"
    assert clients["auditor"].get("/api/webhook-deliveries/").status_code == 403
    assert clients["engineer"].get("/api/webhooks/").status_code == 403


def test_a_wrong_secret_is_refused_by_the_receiver_and_not_retried(clients, mv, fast_retries,
                                                                   django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        sub = _subscribe(clients, receiver.url, [])
        clients["admin"].patch(f"/api/webhooks/{sub['id']}/", {"secret": "another-secret-0123456789"}, format="json")
        with django_capture_on_commit_callbacks(execute=True):
            clients["engineer"].post(URL, {"node": mv.pk, "target_stage": "production", "justification": "j",
                                           "submit": True}, format="json")
        assert [r["signature_ok"] for r in receiver.received] == [False]
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts == 1 and delivery.last_status_code == 401


def test_an_unreachable_receiver_fails_after_the_last_attempt(clients, mv, fast_retries,
                                                              django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        url = receiver.url
    # The server is closed: connection refused on every attempt.
    _subscribe(clients, url, ["promotion.requested"])
    with django_capture_on_commit_callbacks(execute=True):
        r = clients["engineer"].post(URL, {"node": mv.pk, "target_stage": "production", "justification": "j",
                                           "submit": True}, format="json")
    assert r.status_code == 201  # the request itself is not undone by a broken receiver
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts == 3 and "ConnectionError" in delivery.last_error


def test_webhook_configuration_is_admin_only_validated_and_audited(clients, mv):
    bad = [{"name": "x", "url": "ftp://h/", "events": [], "secret": SECRET},
           {"name": "x", "url": "http://h/", "events": ["promotion.exploded"], "secret": SECRET},
           {"name": "x", "url": "http://h/", "events": []},
           {"name": "x", "url": "http://h/", "events": [], "secret": "short"}]
    for body in bad:
        assert clients["admin"].post("/api/webhooks/", body, format="json").status_code == 400, body
    assert clients["engineer"].post("/api/webhooks/", bad[0], format="json").status_code == 403
    assert not WebhookSubscription.objects.exists()
    sub = _subscribe(clients, "http://127.0.0.1:9/hook", [])
    entry = AuditEntry.objects.get(action="webhook.create")
    assert entry.after["url"] == "http://127.0.0.1:9/hook" and SECRET not in json.dumps(entry.after)
    assert WebhookSubscription.objects.get(pk=sub["id"]).secret == SECRET
    assert SECRET not in WebhookSubscription.objects.get(pk=sub["id"]).encrypted_secret
