"""The Celery app. With no CELERY_BROKER_URL (the embedded default) tasks run in-process (eager)."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")

app = Celery("lineage_ledger")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
