"""Celery tasks of the approvals app. Schedule `approvals.expire_overdue` with django-celery-beat (e.g.
every 15 minutes); `approvals.deliver_webhook` lets a worker send a delivery instead of the web process."""
from celery import shared_task

from common.audit import context


@shared_task(name="approvals.expire_overdue")
def expire_overdue_task() -> int:
    from governance.approvals.services import expire_overdue

    with context.acting_as(context.AuditContext(username="approvals", service="approvals:expiry")):
        return expire_overdue()


@shared_task(name="approvals.deliver_webhook")
def deliver_webhook_task(delivery_id: int) -> str:
    from governance.approvals.webhooks import deliver

    return deliver(delivery_id).status
