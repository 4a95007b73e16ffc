"""Celery tasks of the archive app. Schedule `archive.apply_retention` with django-celery-beat (daily)."""
from celery import shared_task

from governance.archive.retention import scheduled_retention


@shared_task(name="archive.apply_retention")
def apply_retention_task() -> dict:
    result = scheduled_retention()
    # The full per-node list can be large; the task result keeps the counts (the audit trail has the rest).
    return {"pruned": result["pruned"], "kept": result["kept"]}
