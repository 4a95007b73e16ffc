"""The connector interface and the harvest loop every connector shares.

A connector yields `Page`s: a list of store facts plus the cursor that is valid once those facts are
stored. The loop applies each page and saves its cursor in one transaction, so a harvest that dies between
pages resumes after the last stored page and never loses or duplicates facts (facts are idempotent anyway).
A harvest always ends in a Harvest record: succeeded with counts, or failed with the error, and its summary
goes to the audit trail.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterator, Protocol

from django.db import transaction
from django.utils import timezone

from connectors.models import Harvest, HarvestCursor, HarvestStatus
from common.audit import context, record
from lineage import store

log = logging.getLogger(__name__)


MAX_WARNINGS = 500  # kept on the record; the total is always counted


def add_warnings(harvest: Harvest, warnings: list) -> None:
    """Append page warnings to the record (up to MAX_WARNINGS), counting them all in counts["warnings"]."""
    if not warnings:
        return
    room = MAX_WARNINGS - len(harvest.warnings)
    if room > 0:
        harvest.warnings = [*harvest.warnings, *[_warning(w) for w in warnings[:room]]]
    harvest.counts = {**harvest.counts, "warnings": int(harvest.counts.get("warnings", 0)) + len(warnings)}


def _warning(w) -> dict:
    if isinstance(w, dict):
        return {"object": str(w.get("object", "")), "reason": str(w.get("reason", ""))[:1000]}
    return {"object": "", "reason": str(w)[:1000]}


def succeeded_status(harvest: Harvest) -> str:
    return HarvestStatus.PARTIAL if harvest.counts.get("warnings") else HarvestStatus.SUCCEEDED


class HarvestError(Exception):
    """A failure the operator must fix (bad credentials, unknown host, unparseable payload): not retried."""


@dataclass
class Page:
    facts: list
    cursor: dict
    # Source objects read on this page, by kind, for the harvest record ("runs": 20, "artifacts": 57 …).
    read: dict = field(default_factory=dict)
    # Objects skipped on this page, each {"object": ..., "reason": ...}: one vanished (404), forbidden (403)
    # or malformed record must not sink the harvest. The connector leaves them out of the cursor, so the
    # next harvest tries them again; the harvest ends "partial" with them listed.
    warnings: list = field(default_factory=list)


class Connector(Protocol):
    kind: str

    def source_key(self) -> str:
        """Identifies the source and stream the cursor belongs to (e.g. "kubeflow:https://kfp.example")."""

    def changes_since(self, cursor: dict | None) -> Iterator[Page]:
        """Pages of facts for everything that changed after `cursor` (None: from the beginning)."""


def load_cursor(key: str) -> dict:
    row = HarvestCursor.objects.filter(key=key).first()
    return dict(row.cursor) if row else {}


def run_harvest(connector: Connector, *, config=None, progress=None, emit_openlineage: bool = False) -> Harvest:
    """Run one harvest to completion (or failure) in this process, with no lock and no partitions, and
    return its record; the after-harvest hooks (stitching, OpenLineage) follow a success. The product's
    entry points go through connectors/service.py (lock, broker, partitions); this loop is what a
    partition-less harvest does, used where a single process is the point (demo loaders, tests)."""
    ctx = context.current()
    key = connector.source_key()
    before = load_cursor(key)
    harvest = Harvest.objects.create(
        connector=config,
        source_key=key,
        kind=connector.kind,
        cursor_before=before,
        cursor_after=before,
        actor=ctx.service or ctx.username,
        request_id=ctx.request_id,
    )
    totals = store.ApplyResult()
    read: dict[str, int] = {}
    cursor = before
    try:
        for page in connector.changes_since(before or None):
            with transaction.atomic():
                result = store.apply(page.facts)
                HarvestCursor.objects.update_or_create(key=key, defaults={"cursor": page.cursor})
            cursor = page.cursor
            totals.add(result)
            for name, count in page.read.items():
                read[name] = read.get(name, 0) + count
            harvest.pages += 1
            add_warnings(harvest, page.warnings)
            harvest.counts = {**harvest.counts, **totals.as_counts(), "read": read}
            Harvest.objects.filter(pk=harvest.pk).update(
                pages=harvest.pages, cursor_after=cursor, counts=harvest.counts, warnings=harvest.warnings
            )
            if progress:
                progress(page)
        harvest.status = succeeded_status(harvest)
    except BaseException as exc:  # recorded (Ctrl-C and SIGTERM too), then re-raised for the traceback
        harvest.status = HarvestStatus.FAILED
        harvest.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        log.warning("harvest %s failed: %s", key, harvest.error)
        try:
            # What the store committed: a signal (SIGTERM, Ctrl-C) can land between a page's commit and the
            # line after it, and the record must say where the next harvest will go on from.
            cursor = load_cursor(key)
        except Exception:
            pass
        _finish(harvest, totals, read, cursor)
        raise
    _finish(harvest, totals, read, cursor)
    from connectors.tasks import after_harvest  # (tasks builds on this module)

    after_harvest(harvest.pk, connector, emit_openlineage=emit_openlineage)
    harvest.refresh_from_db()
    return harvest


def _finish(harvest: Harvest, totals: store.ApplyResult, read: dict, cursor: dict) -> None:
    harvest.finished_at = timezone.now()
    warned = harvest.counts.get("warnings")
    harvest.counts = {**totals.as_counts(), "read": read, **({"warnings": warned} if warned else {})}
    harvest.cursor_after = cursor
    harvest.save()
    record(
        "harvest." + harvest.status,
        "harvest",
        harvest.pk,
        before={"cursor": harvest.cursor_before},
        after={
            "source": harvest.source_key,
            "kind": harvest.kind,
            "connector": harvest.connector.name if harvest.connector else None,
            "pages": harvest.pages,
            "counts": harvest.counts,
            "cursor": harvest.cursor_after,
            "error": harvest.error or None,
            "warnings": harvest.warnings or None,
            # The person (or "scheduler") on whose behalf the harvester acted.
            "requested_by": context.current().username,
        },
    )
