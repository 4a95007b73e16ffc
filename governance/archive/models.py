"""Evidence bundles, the nodes each one froze, retention policies and legal holds.

A bundle row outlives the lineage it describes: retention may prune a run from the hot store once it is
archived, so bundles and members keep the node's natural key (source, kind, source_id) beside a nullable
link to the live row.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from lineage.kinds import NodeKind

# Kinds an evidence bundle can be built for, and kinds a legal hold can be placed on.
BUNDLE_SUBJECT_KINDS = (NodeKind.MODEL_VERSION, NodeKind.RUN)
HOLD_KINDS = (NodeKind.MODEL_VERSION, NodeKind.RUN, NodeKind.DATASET, NodeKind.DATASET_VERSION)


TRUST_BUILT, TRUST_VERIFIED, TRUST_UNTRUSTED = "built", "verified", "untrusted"
BUNDLE_TRUST = (TRUST_BUILT, TRUST_VERIFIED, TRUST_UNTRUSTED)


class EvidenceBundle(models.Model):
    sha256 = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the ZIP file; its name in the store")
    storage_key = models.CharField(max_length=255)
    size = models.BigIntegerField()
    format_version = models.PositiveIntegerField()
    node = models.ForeignKey(
        "lineage.Node", null=True, blank=True, on_delete=models.SET_NULL, related_name="evidence_bundles"
    )
    subject_source = models.CharField(max_length=32)
    subject_kind = models.CharField(max_length=32)
    subject_source_id = models.CharField(max_length=1024)
    subject_name = models.CharField(max_length=1024, blank=True, default="")
    depth = models.PositiveIntegerField()
    node_count = models.PositiveIntegerField(default=0)
    edge_count = models.PositiveIntegerField(default=0)
    raw_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="evidence_bundles"
    )
    created_by_username = models.CharField(max_length=150, blank=True, default="")
    restored = models.BooleanField(default=False, help_text="Imported by restore_bundle rather than built here")
    # Restored bundles: created_* name the operator who restored it; what the manifest claims is kept apart.
    trust = models.CharField(max_length=16, choices=[(t, t) for t in BUNDLE_TRUST], default=TRUST_BUILT,
                             help_text="built here; restored with a verified signature; or restored --untrusted")
    claimed_created_at = models.DateTimeField(null=True, blank=True, help_text="manifest's created_at (restored)")
    claimed_created_by = models.CharField(max_length=150, blank=True, default="",
                                          help_text="manifest's created_by username (restored; a claim, not checked)")
    untrusted_reason = models.TextField(blank=True, default="")
    trusted_public_key = models.CharField(max_length=64, blank=True, default="",
                                          help_text="Ed25519 public key (hex) the operator trusted at restore")

    class Meta:
        indexes = [models.Index(fields=["subject_source", "subject_kind", "subject_source_id"], name="bundle_subject")]

    def __str__(self):
        return f"bundle {self.sha256[:12]} of {self.subject_kind}:{self.subject_name or self.subject_source_id}"


class BundleMember(models.Model):
    """One node frozen by a bundle. Retention asks this table whether a node's evidence exists."""

    bundle = models.ForeignKey(EvidenceBundle, on_delete=models.CASCADE, related_name="members")
    node = models.ForeignKey("lineage.Node", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=32)
    kind = models.CharField(max_length=32)
    source_id = models.CharField(max_length=1024)

    class Meta:
        indexes = [models.Index(fields=["node"], name="bundlemember_node")]


class RetentionPolicy(models.Model):
    node_kind = models.CharField(max_length=32, choices=NodeKind.choices, unique=True)
    max_age_days = models.PositiveIntegerField(help_text="Nodes first seen longer ago than this may be pruned")
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "retention policies"

    def __str__(self):
        return f"{self.node_kind} after {self.max_age_days} days"


class LegalHold(models.Model):
    # Active holds stop deletion through the pre_delete guard (holds.guard_node_delete); a released hold
    # must not pin its node forever, so the link is nullable and the node's key is kept beside it.
    node = models.ForeignKey("lineage.Node", null=True, on_delete=models.SET_NULL, related_name="legal_holds")
    node_source = models.CharField(max_length=32)
    node_kind = models.CharField(max_length=32)
    node_source_id = models.CharField(max_length=1024)
    reason = models.TextField()
    placed_at = models.DateTimeField(default=timezone.now)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    release_reason = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["node"], condition=Q(released_at__isnull=True), name="hold_active_node"),
        ]

    @property
    def active(self) -> bool:
        return self.released_at is None

    def __str__(self):
        return f"hold #{self.pk} on node {self.node_id}{'' if self.active else ' (released)'}"


class BuildState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class BundleBuild(models.Model):
    """A bundle build handed to the task workers (only when a broker is configured; without one the API
    builds in the request). The row is what the client polls: it is created, audited and committed before
    the task is queued, so a worker always finds it, and it turns `done` in the same transaction that
    registers its bundle, so a task redelivered after its worker died never builds the bundle twice."""

    node = models.ForeignKey("lineage.Node", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The subject's natural key, kept beside the link: retention may prune the node before or after the build.
    subject_kind = models.CharField(max_length=32)
    subject_source_id = models.CharField(max_length=1024)
    depth = models.PositiveIntegerField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="bundle_builds"
    )
    requested_by_username = models.CharField(max_length=150, blank=True, default="")
    request_id = models.CharField(max_length=128, blank=True, default="", help_text="The requesting API call's id")
    state = models.CharField(max_length=16, choices=BuildState.choices, default=BuildState.QUEUED)
    bundle = models.ForeignKey(EvidenceBundle, null=True, blank=True, on_delete=models.SET_NULL, related_name="builds")
    error = models.TextField(blank=True, default="")
    task_id = models.CharField(max_length=64, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker started it (more than 1: redelivered)")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["requested_by", "created_at"], name="bundlebuild_requester"),
                   models.Index(fields=["state"], name="bundlebuild_state")]

    def __str__(self):
        return f"bundle build #{self.pk} of {self.subject_kind}:{self.subject_source_id} ({self.state})"
