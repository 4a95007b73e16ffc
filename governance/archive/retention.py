"""Retention: pruning old lineage from the hot store, only when it is safe to.

A node of a kind that has an enabled RetentionPolicy is pruned when it was first seen longer ago than the
policy allows AND an evidence bundle holds it AND no governed model version depends on it AND no legal
hold protects it. Anything else is kept and the plan says why, so a dry run doubles as an explanation.
"Governed" model versions are those with a promotion request (any approvals row pointing at them) or an
open deployment; whatever they were built from must stay queryable live.

Pruning deletes the node row; its edges and revisions go with it (the raw payloads stay, and the bundle
keeps a full copy of everything).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from django.apps import apps
from django.db import connection, transaction
from django.db.models import ForeignKey, ProtectedError, RestrictedError
from django.utils import timezone

from governance.archive import holds
from governance.archive.models import BundleMember, RetentionPolicy
from common.audit import context, record
from lineage import graph, job_io
from lineage.kinds import EdgeKind, NodeKind
from lineage.models import Edge, Node

PRUNE = "prune"
KEEP = "keep"


@dataclass
class Decision:
    node_id: int
    kind: str
    source: str
    source_id: str
    name: str
    first_seen: str
    action: str
    reason: str
    bundles: list[str] = field(default_factory=list)


@dataclass
class RetentionRun:
    dry_run: bool
    decisions: list[Decision] = field(default_factory=list)
    pruned: int = 0
    kept: int = 0

    def as_dict(self) -> dict:
        return {"dry_run": self.dry_run, "pruned": self.pruned, "kept": self.kept,
                "decisions": [asdict(d) for d in self.decisions]}


def governed_model_versions() -> set[int]:
    ids = set(
        Edge.objects.filter(kind=EdgeKind.DEPLOYED_AS, valid_to__isnull=True, src__kind=NodeKind.MODEL_VERSION)
        .values_list("src_id", flat=True)
    )
    try:
        config = apps.get_app_config("approvals")
    except LookupError:
        return ids
    tables = set(connection.introspection.table_names())
    for model in config.get_models():
        if model._meta.db_table not in tables:
            continue
        for f in model._meta.get_fields():
            if isinstance(f, ForeignKey) and f.related_model is Node:
                ids |= set(
                    model.objects.filter(**{f"{f.name}__kind": NodeKind.MODEL_VERSION}).values_list(f"{f.name}_id", flat=True)
                )
    ids.discard(None)
    return ids


def plan(now: dt.datetime | None = None) -> list[Decision]:
    now = now or timezone.now()
    policies = list(RetentionPolicy.objects.filter(enabled=True))
    if not policies:
        return []
    candidates: list[Node] = []
    for policy in policies:
        cutoff = now - dt.timedelta(days=policy.max_age_days)
        candidates += list(Node.objects.filter(kind=policy.node_kind, first_seen__lt=cutoff).order_by("pk"))
    if not candidates:
        return []
    held = holds.held_nodes()
    governed = governed_model_versions()
    depended_on = set(graph.reachable(sorted(governed), direction="upstream", depth=graph.MAX_DEPTH)) if governed else set()
    bundles: dict[int, list[str]] = {}
    # A bundle restored --untrusted is no evidence: it never makes a node prunable.
    for node_id, sha in BundleMember.objects.filter(node_id__in=[n.pk for n in candidates]).exclude(
        bundle__trust="untrusted").values_list(
        "node_id", "bundle__sha256"
    ):
        bundles.setdefault(node_id, []).append(sha)
    decisions = []
    for node in candidates:
        if node.pk in held:
            action, reason = KEEP, "under legal hold " + ", ".join(f"#{h}" for h in sorted(set(held[node.pk])))
        elif node.pk in depended_on:
            action, reason = KEEP, "a governed model version depends on it"
        elif node.pk not in bundles or node.archived_at is None:
            action, reason = KEEP, "not archived in an evidence bundle yet"
        else:
            action, reason = PRUNE, "older than the retention period and archived"
        decisions.append(Decision(
            node_id=node.pk, kind=node.kind, source=node.source, source_id=node.source_id, name=node.name,
            first_seen=node.first_seen.isoformat(), action=action, reason=reason, bundles=sorted(bundles.get(node.pk, [])),
        ))
    return decisions


def apply_retention(dry_run: bool = False, now: dt.datetime | None = None) -> RetentionRun:
    """Plan and (unless `dry_run`) prune. Each pruned node gets its own audit entry, in its own transaction."""
    run = RetentionRun(dry_run=dry_run)
    decisions = plan(now)
    for decision in decisions:
        if decision.action == PRUNE and not dry_run:
            _prune(decision)
        run.decisions.append(decision)
    run.pruned = sum(1 for d in run.decisions if d.action == PRUNE)
    run.kept = len(run.decisions) - run.pruned
    if not dry_run and run.decisions:
        record("retention.apply", "retention", "", after={"pruned": run.pruned, "kept": run.kept})
    return run


def _prune(decision: Decision) -> None:
    with transaction.atomic():
        node = Node.objects.select_for_update().filter(pk=decision.node_id).first()
        if node is None:
            decision.action, decision.reason = KEEP, "already gone"
            return
        # Re-check under the transaction: a hold placed since planning wins.
        held = holds.held_nodes()
        if node.pk in held:
            decision.action, decision.reason = KEEP, "under legal hold " + ", ".join(f"#{h}" for h in sorted(set(held[node.pk])))
            return
        edges = Edge.objects.filter(src=node).count() + Edge.objects.filter(dst=node).count()
        before = {
            "source": node.source, "kind": node.kind, "source_id": node.source_id, "name": node.name,
            "first_seen": node.first_seen.isoformat(), "archived_at": node.archived_at.isoformat(),
            "bundles": decision.bundles, "edges_removed": edges,
        }
        try:
            with transaction.atomic(), holds.batch_checked([node.pk]):
                # Derived rows (each job's current io, lineage.job_io) are kept by store.apply; a delete
                # does not pass there, so the jobs around the node are recomputed here, in the same
                # transaction.
                around = job_io.holders_around(node.pk)
                node.delete()
                job_io.refresh_holders(h for h in around if h != node.pk)
        except (ProtectedError, RestrictedError) as exc:
            blockers = getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", None) or []
            decision.action = KEEP
            decision.reason = "still referenced by " + ", ".join(sorted({o._meta.label for o in blockers}) or ["another record"])
            return
        record("node.prune", "node", decision.node_id, before=before, reason=decision.reason)


def scheduled_retention() -> dict:
    """Entry point for the scheduler (Celery beat): runs as the retention service actor."""
    with context.acting_as(context.AuditContext(username="retention", service="archive:retention")):
        return apply_retention(dry_run=False).as_dict()
