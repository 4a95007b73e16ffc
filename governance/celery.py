"""The Celery app. With no CELERY_BROKER_URL (the embedded default) tasks run in-process (eager).

Reliability defaults for a worker fleet, set here rather than per task so every task gets them:
a task is acknowledged only after it ran (acks_late) and handed back to the queue when the process running
it dies (reject_on_worker_lost), and a worker reserves one task at a time (prefetch 1), so a killed worker
loses nothing and a long harvest partition does not hold back short tasks queued behind it. That is safe
because every task here is idempotent: lineage facts, harvest partitions, webhook deliveries (a succeeded
delivery is not sent again) and retention runs all converge when repeated. Settings named CELERY_* in
governance/settings.py (from the environment: the queue name, the broker's transport options and more, see
docs/settings.md) override these.
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")

app = Celery("lineage_ledger")
app.add_defaults(dict(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
))
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def broker_configured() -> bool:
    """True when tasks travel through a broker to workers; False in the embedded (eager) default, where
    callers that would enqueue run the work in-process instead."""
    from django.conf import settings

    return bool(settings.CELERY_BROKER_URL) and not settings.CELERY_TASK_ALWAYS_EAGER
