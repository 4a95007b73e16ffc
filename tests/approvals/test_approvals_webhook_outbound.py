"""Approval webhooks are careful outbound calls: redirects only on the same origin, internal addresses
refused unless allowed, and only a bounded status line stored, never the receiver's body."""
import pytest

from governance.approvals import outbound, webhooks
from governance.approvals.models import WebhookDelivery, WebhookSubscription
from tests.support.http_receivers import Receiver

pytestmark = pytest.mark.django_db
SECRET = "outbound-webhook-secret-0123456789"


@pytest.fixture(autouse=True)
def policy(settings):
    settings.WEBHOOK_BLOCK_PRIVATE_ADDRESSES = True
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.APPROVALS_WEBHOOK_BACKOFF = 0
    settings.APPROVALS_WEBHOOK_MAX_ATTEMPTS = 2


def _send(url):
    sub = WebhookSubscription(name=f"hook{WebhookSubscription.objects.count()}", url=url, events=[])
    sub.set_secret(SECRET)
    sub.save()
    delivery = WebhookDelivery.objects.create(subscription=sub, event="promotion.approved", payload={"request": 1})
    return webhooks.deliver(delivery.pk)


def test_a_redirect_to_another_port_is_not_followed():
    with Receiver() as elsewhere, Receiver(lambda h: (307, {"Location": elsewhere.origin + "/steal"}, b"")) as hook:
        delivery = _send(hook.origin + "/hook")
    assert delivery.status == "failed" and "redirected to another origin" in delivery.last_error
    assert len(hook.received) == 1 and elsewhere.received == []


def test_a_redirect_to_another_host_is_not_followed():
    with Receiver(lambda h: (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")) as hook:
        delivery = _send(hook.origin + "/hook")
    assert delivery.status == "failed" and "another origin (http://169.254.169.254:80)" in delivery.last_error


def test_a_redirect_on_the_same_origin_is_followed_with_the_signed_body():
    def answer(handler):
        return (308, {"Location": "/moved"}, b"") if handler.path == "/hook" else (204, {}, b"")

    with Receiver(answer) as hook:
        delivery = _send(hook.origin + "/hook")
    assert delivery.status == "succeeded"
    assert [r["path"] for r in hook.received] == ["/hook", "/moved"]
    moved = hook.received[1]
    assert moved["method"] == "POST" and webhooks.verify(SECRET, moved["body"], moved["headers"][webhooks.SIGNATURE_HEADER])


def test_internal_addresses_are_refused_unless_allowed(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    with Receiver() as hook:
        local = _send(hook.origin + "/hook")
        by_name = _send(hook.origin.replace("127.0.0.1", "localhost") + "/hook")
        assert hook.received == []
    assert local.status == "failed" and local.attempts == 1
    assert "127.0.0.1, an internal address" in local.last_error and "WEBHOOK_ALLOWED_NETWORKS" in local.last_error
    assert by_name.status == "failed" and "internal address" in by_name.last_error
    for url in ("http://169.254.169.254/", "http://10.1.2.3/", "http://[::1]/", "http://[::ffff:192.168.0.1]/",
                "ftp://example.com/"):
        with pytest.raises(outbound.Refused):
            outbound.check(url)
    outbound.check("https://hooks.example.com/x", resolve=lambda *a, **k: [(2, 1, 6, "", ("93.184.216.34", 443))])
    settings.WEBHOOK_ALLOWED_NETWORKS = ["hooks.internal"]
    outbound.check("http://hooks.internal/", resolve=lambda *a, **k: [(2, 1, 6, "", ("10.0.0.5", 80))])
    settings.WEBHOOK_BLOCK_PRIVATE_ADDRESSES = False  # as with DEBUG
    outbound.check("http://10.1.2.3/")


def test_only_a_bounded_status_line_is_stored(clients):
    secret_body = b"internal: db password=hunter2 " * 1000
    with Receiver(lambda h: (500, {}, secret_body)) as hook:
        delivery = _send(hook.origin + "/hook")
    assert delivery.status == "failed" and delivery.last_error == "HTTP 500 Internal Server Error"
    listed = clients["admin"].get("/api/webhook-deliveries/").json()["results"][0]
    assert "hunter2" not in str(listed)
