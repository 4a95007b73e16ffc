"""Configured sources, their harvest cursors and the record every harvest leaves behind."""
from django.db import models
from django.utils import timezone

from common import secret_box


class ConnectorConfig(models.Model):
    name = models.SlugField(max_length=100, unique=True)
    # One of connectors.registry.PLUGINS (checked by the API and admin), not frozen choices: a new connector
    # is a package and a registration line, with no migration.
    kind = models.CharField(max_length=32)
    settings = models.JSONField(default=dict, blank=True, help_text="Non-secret settings: hosts, ports, options")
    encrypted_secrets = models.TextField(blank=True, default="", editable=False)
    enabled = models.BooleanField(default=True)
    write_back_enabled = models.BooleanField(
        default=False, help_text="Allow approved promotions to act on the source (e.g. set a Viya champion)"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.name} ({self.kind})"

    @property
    def secrets(self) -> dict:
        return secret_box.decrypt(self.encrypted_secrets)

    def set_secrets(self, values: dict) -> None:
        self.encrypted_secrets = secret_box.encrypt(values)

    def audit_data(self) -> dict:
        """What the audit trail records: settings and the secret names, never their values."""
        return {
            "name": self.name,
            "kind": self.kind,
            "settings": self.settings,
            "secrets": secret_box.redact(self.secrets),
            "enabled": self.enabled,
            "write_back_enabled": self.write_back_enabled,
        }


class HarvestCursor(models.Model):
    """Where the last committed page of a source left off. Saved in the same transaction as that page's
    facts, so a harvest killed half-way resumes exactly after the last page that landed."""

    key = models.CharField(max_length=255, unique=True, help_text="connector kind + source identity + stream")
    cursor = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)


class HarvestStatus(models.TextChoices):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    # Succeeded, but some objects were skipped (each a warning: object and reason); the next harvest
    # tries them again.
    PARTIAL = "partial"
    FAILED = "failed"


class Harvest(models.Model):
    connector = models.ForeignKey(ConnectorConfig, null=True, blank=True, on_delete=models.SET_NULL, related_name="harvests")
    source_key = models.CharField(max_length=255, db_index=True)
    kind = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=HarvestStatus.choices, default=HarvestStatus.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    pages = models.IntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    cursor_before = models.JSONField(default=dict, blank=True)
    cursor_after = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    warnings = models.JSONField(default=list, blank=True, help_text="Objects skipped: [{object, reason}]")
    actor = models.CharField(max_length=150, blank=True, default="")
    request_id = models.CharField(max_length=128, blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-pk"]
