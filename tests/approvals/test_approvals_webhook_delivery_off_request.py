"""Without a broker, webhooks leave the request path: the submit answers while the receiver is still
holding the delivery, which a background thread completes afterwards; the approvers' e-mail goes the same way."""
import threading

import pytest

from governance.approvals import webhooks
from tests.support import approvals as t
from governance.approvals.models import WebhookDelivery, WebhookSubscription
from lineage.kinds import NodeKind
from tests.support.http_receivers import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


def test_submit_does_not_wait_for_the_receiver(clients, users, settings, mailoutbox):
    settings.APPROVALS_OUTBOUND_MODE = "thread"
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    t.ensure_default_stages()
    t.open_policy("production", approvals=2)
    mv = t.node(NodeKind.MODEL_VERSION, "bg-v1")
    users["approver"].email = "approver@example.com"
    users["approver"].save()
    arrived, release = threading.Event(), threading.Event()

    def answer(handler):
        arrived.set()
        release.wait(30)  # held until the test has seen the request's answer
        return 204, {}, b""

    with Receiver(answer) as hook:
        sub = WebhookSubscription(name="bg", url=hook.origin + "/hook", events=[])
        sub.set_secret("background-secret-0123456789")
        sub.save()
        try:
            answered = clients["engineer"].post("/api/promotion-requests/", {"node": mv.pk, "target_stage": "production",
                                                                            "justification": "j", "submit": True},
                                                format="json")
            assert answered.status_code == 201, answered.content
            delivery = WebhookDelivery.objects.get(event="promotion.requested")
            # The request has answered, yet the receiver has not: the delivery is still on its way.
            assert not release.is_set() and delivery.status == "pending"
            assert arrived.wait(30)
        finally:
            release.set()
        assert webhooks.wait_for_background(30)
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 1
    assert [m.to for m in mailoutbox] == [["approver@example.com"]]
