"""The audit entry: one row per governed write, chained by hash. Never updated, never deleted."""
import datetime as dt

from django.db import models


class AuditEntry(models.Model):
    """Indexes are chosen for the API's filters and nothing more: every index is paid for on every append,
    and appending is what every audited write does."""

    seq = models.BigIntegerField(unique=True, help_text="Position in the chain, 1-based, gapless.")
    at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=255, blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True, default="")
    client_ip = models.CharField(max_length=64, null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    prev_hash = models.CharField(max_length=64)
    # Not unique: the chain (prev_hash of the next entry, signed checkpoints) is what guards it, and a
    # unique index on random hex would be the most expensive index on the table.
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["at"], name="audit_entry_at"),
            models.Index(fields=["actor_username"], name="audit_entry_actor"),
            models.Index(fields=["actor_id"], name="audit_entry_actor_id"),
            models.Index(fields=["action"], name="audit_entry_action"),
            models.Index(fields=["object_type", "object_id"], name="audit_entry_object"),
            models.Index(fields=["request_id"], name="audit_entry_request"),
        ]

    def __str__(self):
        return f"#{self.seq} {self.actor_username} {self.action} {self.object_type}:{self.object_id}"

    def chain_fields(self) -> dict:
        """The hashed fields exactly as the recorder hashed them (timestamps as UTC ISO strings)."""
        return entry_fields(
            self.seq, self.at, self.actor_id, self.actor_username, self.action, self.object_type,
            self.object_id, self.before, self.after, self.request_id, self.client_ip, self.reason,
        )

    def as_export(self) -> dict:
        return {**self.chain_fields(), "prev_hash": self.prev_hash, "hash": self.hash}


class AuditCheckpoint(models.Model):
    """A signed statement "the chain's entry `seq` has hash `entry_hash`", made periodically and on demand.

    Anyone with database access can recompute a plain hash chain after editing it; they cannot recompute a
    signature without the key. So checkpoints are what make rewriting history, or cutting off its tail,
    detectable. Each one is announced by the chain entry that follows it (action "audit.checkpoint").
    """

    seq = models.BigIntegerField(unique=True, help_text="The chain entry this checkpoint vouches for.")
    entry_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    algorithm = models.CharField(max_length=32)
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=256)

    class Meta:
        ordering = ["seq"]

    def __str__(self):
        return f"checkpoint @{self.seq} ({self.key_id})"

    def signed_fields(self) -> dict:
        return {
            "seq": self.seq,
            "entry_hash": self.entry_hash,
            "created_at": iso(self.created_at),
            "key_id": self.key_id,
            "algorithm": self.algorithm,
            "signature": self.signature,
        }

    as_export = signed_fields


def iso(value: dt.datetime) -> str:
    """The one timestamp spelling that is hashed and signed: UTC, microseconds, "+00:00"."""
    return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def entry_fields(seq, at, actor_id, actor_username, action, object_type, object_id, before, after,
                 request_id, client_ip, reason) -> dict:
    return {
        "seq": seq,
        "at": iso(at),
        "actor_id": actor_id,
        "actor_username": actor_username,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "before": before,
        "after": after,
        "request_id": request_id,
        "client_ip": client_ip,
        "reason": reason,
    }
