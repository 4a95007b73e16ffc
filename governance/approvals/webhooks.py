"""Signed webhook deliveries with retries.

Events are written as WebhookDelivery rows inside the transaction that caused them (so a rolled-back
decision is never announced) and sent after commit by `deliver`, a plain function a Celery task can call.
Each POST carries the JSON body and `X-Lineage-Ledger-Signature: sha256=<hex>`, the HMAC-SHA256 of the exact
body bytes under the subscription's secret, so a receiver can check origin and integrity. 5xx, 429 and
connection errors are retried with exponential backoff; other 4xx answers are final (the receiver refused).

Careful with where they go (governance/approvals/outbound.py): never from inside the request that caused
them (a Celery task with a broker, else a background thread; `APPROVALS_OUTBOUND_MODE=inline` sends in
the committing thread, for tests whose transaction another thread cannot see); redirects are followed only
within the same scheme, host and port; internal addresses are refused unless allowed; and the stored error
is the status line or the exception's kind, bounded and printable, never the receiver's body.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.approvals import outbound
from governance.approvals.models import DeliveryStatus, WebhookDelivery, WebhookSubscription

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Lineage-Ledger-Signature"
EVENT_HEADER = "X-Lineage-Ledger-Event"
DELIVERY_HEADER = "X-Lineage-Ledger-Delivery"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (used by the tests' receiver): constant-time comparison."""
    return hmac.compare_digest(sign(secret, body), header or "")


def enqueue(event: str, payload: dict) -> list[int]:
    """Create one delivery per subscription that wants `event`, and send them once the transaction commits."""
    ids = []
    for sub in WebhookSubscription.objects.filter(active=True).order_by("pk"):
        if sub.wants(event):
            ids.append(WebhookDelivery.objects.create(subscription=sub, event=event, payload=payload).pk)
    if ids:
        transaction.on_commit(lambda: dispatch(ids))
    return ids


def dispatch(ids: list[int]) -> None:
    """With a broker, each delivery goes to a worker (`approvals.deliver_webhook`), so a slow or retrying
    receiver never holds a web worker; without one (the embedded default) they are sent here, in turn.
    A broker that cannot be reached falls back to sending here: the decision is committed, it must be told."""
    from governance.celery import broker_configured

    if broker_configured():
        from governance.approvals.tasks import deliver_webhook_task

        queued = []
        try:
            for delivery_id in ids:
                deliver_webhook_task.delay(delivery_id)
                queued.append(delivery_id)
            return
        except Exception:
            log.exception("webhook deliveries %s could not be queued; sending them from this process",
                          [i for i in ids if i not in queued])
            ids = [i for i in ids if i not in queued]
    if settings.APPROVALS_OUTBOUND_MODE == "inline":
        _deliver_all(ids)
        return
    in_background(_deliver_all, list(ids), name="webhook-delivery")


_threads: list[threading.Thread] = []
_threads_lock = threading.Lock()


def in_background(fn, *args, name: str) -> threading.Thread:
    """Run fn(*args) in a daemon thread that closes its own database connection when done; the
    approvals' outbound calls (webhooks without a broker, e-mail) go this way, off the request path."""
    def run():
        from django.db import connection

        try:
            fn(*args)
        except Exception:
            log.exception("background %s failed", name)
        finally:
            connection.close()  # this thread's own connection; the request's is untouched
            with _threads_lock:
                if threading.current_thread() in _threads:
                    _threads.remove(threading.current_thread())

    thread = threading.Thread(target=run, name=name, daemon=True)
    with _threads_lock:
        _threads.append(thread)
    thread.start()
    return thread


def _deliver_all(ids) -> None:
    for delivery_id in ids:
        try:
            deliver(delivery_id)
        except Exception:  # a broken receiver must never break the caller; the row keeps the error
            log.exception("webhook delivery %s failed", delivery_id)


def wait_for_background(timeout: float = 30.0) -> bool:
    """Join the background threads (webhooks, e-mail) started so far (tests, graceful shutdown). True if all ended."""
    deadline = time.monotonic() + timeout
    with _threads_lock:
        pending = list(_threads)
    for thread in pending:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(t.is_alive() for t in pending)


MAX_REDIRECTS = 3


def _printable(text: str, limit: int) -> str:
    cleaned = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return cleaned[:limit]


def _post(url: str, body: bytes, headers: dict, timeout) -> requests.Response:
    """POST without following redirects, then follow only those that stay on the same origin."""
    for _ in range(MAX_REDIRECTS + 1):
        outbound.check(url)
        response = requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
        if response.status_code not in (301, 302, 303, 307, 308) or "Location" not in response.headers:
            return response
        target = requests.compat.urljoin(url, response.headers["Location"])
        if outbound.origin(target) != outbound.origin(url):
            scheme, host, port = outbound.origin(target)
            raise outbound.Refused(f"the receiver redirected to another origin ({_printable(f'{scheme}://{host}:{port}', 200)}); "
                                   "webhooks follow redirects only on the same scheme, host and port")
        response.close()
        url = target
    raise outbound.Refused(f"more than {MAX_REDIRECTS} redirects")


def _body(delivery: WebhookDelivery) -> bytes:
    document = {
        "id": delivery.pk,
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def deliver(delivery_id: int, *, max_attempts: int | None = None, backoff: float | None = None,
            sleep=time.sleep) -> WebhookDelivery:
    """Send one delivery until it succeeds, is refused, or runs out of attempts. Idempotent: a delivery
    that already succeeded is not sent again."""
    max_attempts = max_attempts or settings.APPROVALS_WEBHOOK_MAX_ATTEMPTS
    backoff = settings.APPROVALS_WEBHOOK_BACKOFF if backoff is None else backoff
    timeout = settings.APPROVALS_WEBHOOK_TIMEOUT
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    if delivery.status == DeliveryStatus.SUCCEEDED:
        return delivery
    body = _body(delivery)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(delivery.subscription.secret, body),
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.pk),
        "User-Agent": "lineage-ledger-webhooks/1",
    }
    while delivery.attempts < max_attempts:
        delivery.attempts += 1
        retry = False
        try:
            response = _post(delivery.subscription.url, body, headers, timeout)
            delivery.last_status_code = response.status_code
            if 200 <= response.status_code < 300:
                delivery.status = DeliveryStatus.SUCCEEDED
                delivery.delivered_at = timezone.now()
                delivery.last_error = ""
            else:
                # The status line only: a receiver's body is not ours to keep (nor to show in the API).
                delivery.last_error = f"HTTP {response.status_code} {_printable(response.reason or '', 100)}".strip()
                retry = response.status_code >= 500 or response.status_code == 429
                if not retry:
                    delivery.status = DeliveryStatus.FAILED
        except outbound.Refused as exc:
            delivery.last_status_code = None
            delivery.last_error = _printable(f"refused: {exc}", 500)
            delivery.status = DeliveryStatus.FAILED
        except requests.RequestException as exc:
            delivery.last_status_code = None
            delivery.last_error = _printable(f"{type(exc).__name__}: {exc}", 500)
            retry = True
        if retry and delivery.attempts >= max_attempts:
            delivery.status = DeliveryStatus.FAILED
        delivery.save(update_fields=["attempts", "status", "last_status_code", "last_error", "delivered_at"])
        if not retry:
            break
        if delivery.status != DeliveryStatus.FAILED:
            sleep(backoff * (2 ** (delivery.attempts - 1)))
    return delivery
