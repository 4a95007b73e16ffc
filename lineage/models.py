"""Lineage facts. Rows here are appended and closed, never edited in place except `last_seen`.

Every node and edge points at the raw source record it came from (RawRecord), so an auditor can always go
back to what the source said. Edges carry a validity interval [valid_from, valid_to): an edge that stops
holding gets `valid_to` set instead of being deleted, which is what makes "as of" queries possible.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from lineage.kinds import EdgeKind, NodeKind


class RawRecord(models.Model):
    """A source payload exactly as received (an OpenLineage event, a KFP run, an MLMD execution, a Viya
    model). Identical payloads for the same source object are stored once (by digest)."""

    source = models.CharField(max_length=32)
    kind = models.CharField(max_length=64, help_text="e.g. openlineage.RunEvent, kfp.run, mlmd.execution, viya.model")
    source_id = models.CharField(max_length=1024)
    digest = models.CharField(max_length=64, help_text="SHA-256 of the canonical JSON body")
    body = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "kind", "source_id", "digest"], name="raw_unique_body"),
        ]
        indexes = [models.Index(fields=["source", "kind", "source_id"], name="raw_source_obj")]

    def __str__(self):
        return f"{self.source}:{self.kind}:{self.source_id}"


class Node(models.Model):
    kind = models.CharField(max_length=32, choices=NodeKind.choices)
    source = models.CharField(max_length=32)
    source_id = models.CharField(max_length=1024, help_text="The source system's own id for this object")
    namespace = models.CharField(max_length=1024, blank=True, default="")
    name = models.CharField(max_length=1024)
    display_name = models.CharField(max_length=1024, blank=True, default="")
    properties = models.JSONField(default=dict, blank=True)
    first_seen = models.DateTimeField(help_text="When the source says the object came to be (or we first saw it)")
    last_seen = models.DateTimeField()
    raw = models.ForeignKey(RawRecord, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when an evidence bundle froze this node; later harvests never rewrite it"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "kind", "source_id"], name="node_unique_source_id"),
        ]
        indexes = [
            models.Index(fields=["kind", "name"], name="node_kind_name"),
            models.Index(fields=["namespace", "name"], name="node_ns_name"),
            # The ingest's "newest versions of this dataset at the event's time" (migration 0003), ordered by
            # (first_seen, id) as the read is: with id in the index (migration 0008) its LIMIT stops after a
            # few entries; without it every version up to that time was read and sorted, each event costing
            # more as the dataset's history grew.
            models.Index(fields=["namespace", "name", "kind", "source", "first_seen", "id"], name="node_ns_name_kind_seen"),
            models.Index(fields=["first_seen"], name="node_first_seen"),
            # Per-kind lists page newest first (cursor on -id): without it a rare kind scans the whole table.
            models.Index(fields=["kind", "-id"], name="node_kind_id"),
            # Marquez's per-namespace job and dataset lists, paged by name (lineage.marquez.queries).
            models.Index(fields=["kind", "source", "namespace", "name"], name="node_kind_src_ns_name"),
        ]

    def __str__(self):
        return f"{self.kind}:{self.namespace + ':' if self.namespace else ''}{self.name}"


class NodeRevision(models.Model):
    """A node's properties as they were from `valid_from` on; appended when a source reports a change."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="revisions")
    valid_from = models.DateTimeField()
    properties = models.JSONField(default=dict)
    raw = models.ForeignKey(RawRecord, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["node", "valid_from"], name="noderev_node_from")]


class Edge(models.Model):
    kind = models.CharField(max_length=32, choices=EdgeKind.choices)
    # No single-column FK indexes: edge_src_from / edge_dst_from lead with these columns and also cover the
    # recursive walks (index-only scans), so the plain ones would only slow every ingest down.
    src = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="out_edges", db_index=False)
    dst = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="in_edges", db_index=False)
    source = models.CharField(max_length=32)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    raw = models.ForeignKey(RawRecord, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # At most one open edge of a kind between two nodes; closed ones accumulate as history.
            models.UniqueConstraint(
                fields=["src", "dst", "kind"], condition=Q(valid_to__isnull=True), name="edge_one_open"
            ),
        ]
        indexes = [
            # id, source and raw too (migration 0007): the lineage answer's edge rows come from these index-only.
            models.Index(fields=["dst", "valid_from"], name="edge_dst_from",
                         include=["src", "valid_to", "kind", "id", "source", "raw"]),
            models.Index(fields=["src", "valid_from"], name="edge_src_from",
                         include=["dst", "valid_to", "kind", "id", "source", "raw"]),
            models.Index(fields=["kind"], name="edge_kind"),
        ]

    def __str__(self):
        return f"{self.src_id} -{self.kind}-> {self.dst_id}"


class ManualLink(models.Model):
    """Who made an explicit (manual) same_as link, and which approver or admin confirmed it.

    A manual link can carry an engineer's own claim into the gates of their own promotion request (a copy
    "produced" by someone else's run), so gates ask this row before relying on one: see
    governance/approvals/gates.py. Kept beside the edge, not in it, because edges are source facts.
    """

    edge = models.OneToOneField(Edge, on_delete=models.CASCADE, related_name="manual_link")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by_username = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True, default="")
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    confirmed_by_username = models.CharField(max_length=150, blank=True, default="")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirm_reason = models.TextField(blank=True, default="")

    def __str__(self):
        return f"manual link {self.edge_id} by {self.created_by_username or '?'}"


class JobIO(models.Model):
    """A job's CURRENT inputs and outputs as Marquez shows them: those of its latest run plus its own
    design-time edges (lineage.job_io says exactly which), one row per (job, dataset, role).

    Why a table: "the jobs whose latest run read or wrote dataset D" has no index over the facts (it read
    every run that ever touched D and ranked each of their jobs' runs); indexed by dataset here, as
    Marquez keeps `job_versions_io_mapping` with `is_current_job_version`. Derived, never a fact: kept true
    by lineage.store.apply (lineage.job_io.refresh), backfilled by migration 0006; "now" only, `as_of`
    reads derive from the facts."""

    job = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+", db_index=False)
    dataset = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+", db_index=False)
    role = models.CharField(max_length=3)  # 'in' | 'out'

    class Meta:
        db_table = "lineage_job_io"
        constraints = [models.UniqueConstraint(fields=["job", "dataset", "role"], name="job_io_unique")]
        indexes = [models.Index(fields=["dataset", "job", "role"], name="job_io_dataset")]


class JobLatestRun(models.Model):
    """Each OpenLineage job's latest run (lineage.marquez.graph.latest_run_ids' ranking), kept with JobIO
    so that the now-reads need not rank a job's runs, nor the writes (lineage.job_io)."""

    job = models.OneToOneField(Node, on_delete=models.CASCADE, primary_key=True, related_name="+")
    run = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    # The run's rank when kept (its state_time text, '' when none, and last_seen): a write that touches the
    # job but not this run compares the runs it touched with this rank instead of ranking every run again.
    state_time = models.TextField(blank=True, default="")
    last_seen = models.DateTimeField()

    class Meta:
        db_table = "lineage_job_latest_run"
