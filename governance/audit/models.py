"""The audit entry: one row per governed write, chained by hash. Never updated, never deleted."""
from django.db import models


class AuditEntry(models.Model):
    seq = models.BigIntegerField(unique=True, help_text="Position in the chain, 1-based, gapless.")
    at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_username = models.CharField(max_length=150, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, db_index=True)
    object_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True, default="", db_index=True)
    client_ip = models.CharField(max_length=64, null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"#{self.seq} {self.actor_username} {self.action} {self.object_type}:{self.object_id}"
