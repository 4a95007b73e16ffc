"""One row per OpenLineage event we accepted, beside the raw payload and the graph it updated.

Marquez keeps every lineage event as posted; so do we (lineage.RawRecord). This row adds what an auditor
asks first — who posted it, under which request, what kind of event, and whether it met the strict 2-0-2
spec or only what Marquez tolerates — without having to open the raw JSON.
"""
from django.conf import settings
from django.db import models
from django.utils import timezone


class EventKind(models.TextChoices):
    RUN = "RunEvent"
    JOB = "JobEvent"
    DATASET = "DatasetEvent"


class IngestedEvent(models.Model):
    raw = models.ForeignKey("lineage.RawRecord", on_delete=models.PROTECT, related_name="+")
    # Unique through a constraint, not unique=True: on PostgreSQL unique=True adds a second, LIKE-only
    # index (varchar_pattern_ops) beside the unique one, and nothing searches digests by prefix; every
    # ingest paid a random insert into it (ingest migration 0003).
    digest = models.CharField(max_length=64, help_text="SHA-256 of the canonical JSON event; a repeat post is a no-op")
    event_kind = models.CharField(max_length=16, choices=EventKind.choices)
    event_type = models.CharField(max_length=16, blank=True, default="", help_text="START, COMPLETE… (RunEvent)")
    event_time_given = models.CharField(max_length=64, help_text="eventTime exactly as the producer sent it")
    event_time = models.DateTimeField(help_text="eventTime parsed; a time without zone is taken as UTC")
    run_id = models.CharField(max_length=255, blank=True, default="")
    job_namespace = models.CharField(max_length=1024, blank=True, default="")
    job_name = models.CharField(max_length=1024, blank=True, default="")
    dataset_namespace = models.CharField(max_length=1024, blank=True, default="", help_text="DatasetEvent only")
    dataset_name = models.CharField(max_length=1024, blank=True, default="", help_text="DatasetEvent only")
    producer = models.CharField(max_length=2048, blank=True, default="")
    schema_url = models.CharField(max_length=2048, blank=True, default="")
    strict_ok = models.BooleanField(help_text="Passes the OpenLineage 2-0-2 core spec with formats asserted")
    strict_errors = models.JSONField(default=list, blank=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    posted_by_username = models.CharField(max_length=150, blank=True, default="")
    request_id = models.CharField(max_length=128, blank=True, default="")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["digest"], name="ingest_digest_unique")]
        indexes = [
            models.Index(fields=["job_namespace", "job_name", "event_time"], name="ingest_job_time"),
            models.Index(fields=["run_id", "event_time"], name="ingest_run_time"),
            models.Index(fields=["received_at"], name="ingest_received"),
            models.Index(fields=["request_id"], name="ingest_request"),
            # Marquez's /api/v1/events/lineage pages by eventTime (lineage.marquez.events).
            models.Index(fields=["event_time", "id"], name="ingest_event_time"),
        ]

    def __str__(self):
        subject = self.run_id or f"{self.job_namespace}:{self.job_name}" or f"{self.dataset_namespace}:{self.dataset_name}"
        return f"{self.event_kind} {self.event_type} {subject}".strip()
