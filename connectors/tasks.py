"""Harvests as Celery tasks: one harvest of a connector at a time, split into partitions workers share.

Shape of one harvest (started through connectors.service.start_harvest by the API, `manage.py harvest`, the
dashboard, or by beat's `connectors.harvest` task):

1. **Claim** (the lock). Under a row lock on the ConnectorConfig (an ad-hoc source: its cursor row), refuse when the connector already has a
   RUNNING Harvest younger than `HARVEST_LOCK_TTL` seconds, else create the RUNNING Harvest row. The row *is*
   the lock: it spans every partition task, wherever they run, and it is released by the harvest ending
   (succeeded or failed). A refusal is answered "already running" and written to the audit trail. A RUNNING
   row older than the TTL is a harvest whose worker vanished: it is closed as failed ("abandoned") and the
   new harvest proceeds.
2. **Plan**, by the plugin's `plan_partitions` hook (a plugin without it gets a single `rest` partition, the
   classic page loop). Kubeflow's (connectors/kubeflow/partitions.py) lists the runs created since the cursor once, then the runs are cut
   into chunks of `HARVEST_PARTITION_RUNS` run ids; with ML Metadata it also lists the executions changed
   since the cursor's `mlmd.executions` position (their keyset only: one listing through the reader, ~0.6 s
   for 40,000) and cuts them into chunks of `HARVEST_PARTITION_EXECUTIONS` ids. Partitions: one `runs`
   partition per run chunk (get each run by id, map it, apply its facts), one `executions` partition per
   execution chunk (read those executions with their events, the artefacts they touch and their parents,
   and map them exactly as the executions stream maps a page) and one `rest` partition (experiments,
   pipelines, the runs still open last time and the ML Metadata artefacts stream, through the connector's
   own streams, with its runs listing and executions stream switched off; the artefacts stream skips the
   artefacts the planned executions map and that have not changed since, which is what the classic
   harvest skips because its executions stream mapped them). Viya and MLflow have no hook: one `rest`
   partition.
   Why split ML Metadata: it is most of a Kubeflow harvest's work (40,000 executions for 10,000 runs), and
   as one `rest` task it ran on one worker while the others finished every runs partition and sat idle.
3. **Partitions** run anywhere, in any order, at once. Facts are idempotent in `lineage.store`, so a
   partition run twice (a worker killed mid-task: tasks are acks_late and rejected back to the queue when
   their process dies) or two partitions touching the same node change nothing (an artefact two execution
   chunks touch is the same fact twice: no second revision). The `rest` partition saves its cursor per
   page exactly like `run_harvest`: that cursor never moves the runs or executions positions, so a harvest
   that dies half-way re-lists the same runs and executions next time and nothing is lost.
4. **Finish**. Each partition marks itself done on the Harvest row (under its row lock, so completions
   never race). The one that completes the set lets the plugin's `finish_cursor` advance the positions the
   plan cut up (Kubeflow: runs and executions, plus the newly listed unfinished runs) — only then, when
   every partition landed — and closes the Harvest as succeeded (or partial, with warnings), audited like
   any harvest; then the after-harvest hooks run (`after_harvest`: stitching, OpenLineage re-emission). A partition that fails closes the harvest as failed; the
   cursor's positions stay, so the next harvest redoes the runs and executions and nothing is lost.
   Two partitions may read the same object on either side of an update (an artefact two execution
   chunks touch, or one the `rest` partition reads too) and finish in the other order: the ML Metadata
   artefact and task facts carry `older_never_overwrites` (their `seen_at` is the object's update time),
   so `lineage.store` keeps what the newer read said, as the classic harvest, reading in order, does. A
   run's root execution describes the run node, which the KFP API's run facts describe too on a clock of
   their own: its facts carry their update time as `mlmd_updated_at` and are compared on that (`newer_by`).

With no broker (the embedded default) `.delay()` runs each partition in-process, one after the other, so
`make demo` and the API's "harvest now" take exactly the same path.
"""
from __future__ import annotations

import copy
import datetime as dt
import logging
from dataclasses import dataclass

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from connectors import registry
from connectors.base import _finish, add_warnings, load_cursor, succeeded_status
from connectors.models import ConnectorConfig, Harvest, HarvestCursor, HarvestStatus
from common.audit import context, record
from lineage import store

log = logging.getLogger(__name__)

TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True}


def lock_ttl() -> dt.timedelta:
    """How long a RUNNING harvest holds its connector's lock before it counts as abandoned."""
    return dt.timedelta(seconds=int(settings.HARVEST_LOCK_TTL))


def partition_runs() -> int:
    """KFP runs per partition task: small enough to spread over workers, large enough that a task's
    overhead (a message, a transaction) stays small beside its GETs."""
    return max(1, int(settings.HARVEST_PARTITION_RUNS))


def partition_executions() -> int:
    """ML Metadata executions per partition task (KFP writes ~4 per run: a root DAG and its tasks)."""
    return max(1, int(settings.HARVEST_PARTITION_EXECUTIONS))


# Measured with `python -m bench.kubeflow_scaling --worker-counts 2 --partition-executions N` (10,000 runs,
# 40,002 executions, 2 workers on 2 cores shared with other jobs): the workers' CPU for the whole harvest was
# 62.3 s at N=100, 63.9 s at 400, 59.1 s at 1000, 58.1 s at 2500 (the wall times, 45-65 s, moved more with the
# machine's load than with N). Each task has a fixed cost (a message, a connector, the Harvest row lock), so
# bigger is cheaper, up to where a harvest no longer gives every worker several partitions or a redelivered
# task has much to redo: 1000 (~250 runs' worth; 40 partitions for 10,000 runs).
PARTITION_EXECUTIONS_DEFAULT = 1000


@dataclass
class Claim:
    harvest: Harvest | None
    running: Harvest | None = None  # set when refused: the harvest that holds the lock

    @property
    def refused(self) -> bool:
        return self.harvest is None


def claim(config: ConnectorConfig | None, ctx: dict | None = None, task_id: str | None = None, *,
          connector=None, after: dict | None = None) -> Claim:
    """Take the harvest lock by creating the RUNNING Harvest, or say who holds it.

    The lock of a configured connector is its row; an ad-hoc source's (no ConnectorConfig: a command-line
    harvest) is its cursor's row, so two harvests of one source never run at once either way.
    `task_id`: the start task's id. A start task redelivered after its worker died finds its own RUNNING
    harvest and carries on with it instead of refusing itself. `after`: after-harvest options
    (emit_openlineage) carried on the row to whichever worker finishes the harvest."""
    with context.restore(ctx), transaction.atomic():
        if config is not None:
            ConnectorConfig.objects.select_for_update().filter(pk=config.pk).first()
            connector = connector or registry.plugin(config.kind).from_config(config)
            key = connector.source_key()
            running = Harvest.objects.filter(connector=config, status=HarvestStatus.RUNNING)
        else:
            key = connector.source_key()
            HarvestCursor.objects.get_or_create(key=key, defaults={"cursor": {}})
            HarvestCursor.objects.select_for_update().filter(key=key).first()
            running = Harvest.objects.filter(connector__isnull=True, source_key=key, status=HarvestStatus.RUNNING)
        running = running.order_by("-started_at", "-pk").first()
        if running is not None and running.started_at < timezone.now() - lock_ttl():
            _abandon(running)
            running = None
        if running is not None and task_id and running.counts.get("partitions", {}).get("task") == task_id:
            return Claim(harvest=running)
        if running is not None:
            if config is not None:
                record("harvest.refused", "connector", config.pk,
                       after={"connector": config.name, "reason": "already running", "running_harvest": running.pk})
            else:
                record("harvest.refused", "harvest_source", key,
                       after={"source": key, "reason": "already running", "running_harvest": running.pk})
            return Claim(harvest=None, running=running)
        here = context.current()
        before = load_cursor(key)
        parts = {"state": "planning", "task": task_id, **({"after": after} if after else {})}
        harvest = Harvest.objects.create(connector=config, source_key=key, kind=connector.kind, cursor_before=before,
                                         cursor_after=before, actor=here.service or here.username or "",
                                         request_id=here.request_id or "", counts={"partitions": parts})
        return Claim(harvest=harvest)


def _abandon(harvest: Harvest) -> None:
    Harvest.objects.filter(pk=harvest.pk).update(
        status=HarvestStatus.FAILED, finished_at=timezone.now(),
        error=f"abandoned: still running after {int(lock_ttl().total_seconds())} s (its worker is gone)")
    record("harvest.abandoned", "harvest", harvest.pk, after={"source": harvest.source_key})


def harvest_context(config: ConnectorConfig | str, ctx: dict | None) -> dict:
    """Whoever started it, acting through the `harvester:<kind>` service (`config`: a connector or a kind)."""
    data = dict(ctx or {})
    data["service"] = f"harvester:{getattr(config, 'kind', config)}"
    data.setdefault("username", "scheduler")
    return data


# -- the tasks --------------------------------------------------------------------------------------------
@shared_task(name="connectors.harvest", bind=True, **TASK_OPTIONS)
def harvest_task(self, name: str, ctx: dict | None = None, harvest_id: int | None = None) -> dict:
    """Harvest the connector `name`; `harvest_id` when the caller already took the lock (the API does)."""
    return start(name, ctx, harvest_id, task_id=self.request.id)


@shared_task(name="connectors.harvest_partition", **TASK_OPTIONS)
def harvest_partition_task(harvest_id: int, spec: dict, ctx: dict | None = None) -> dict:
    return run_partition(harvest_id, spec, ctx)


def start(name: str, ctx: dict | None = None, harvest_id: int | None = None, task_id: str | None = None, *,
          inline: bool = False, progress=None) -> dict:
    """Claim (unless `harvest_id` is already claimed), plan and dispatch one harvest. `inline`: run the
    partitions here, one after the other, even with a broker (the CLI does); `progress(page)` then sees
    every page stored."""
    config = ConnectorConfig.objects.filter(name=name).first()
    if config is None:
        return {"status": "unknown_connector", "connector": name}
    if not config.enabled and harvest_id is None:
        return {"status": "disabled", "connector": name}
    ctx = harvest_context(config, ctx)
    if harvest_id is None:
        taken = claim(config, ctx, task_id)
        if taken.refused:
            return {"status": "already_running", "connector": name, "harvest": taken.running.pk}
        harvest = taken.harvest
    else:
        harvest = Harvest.objects.get(pk=harvest_id)
    return dispatch(harvest, config, ctx, inline=inline, progress=progress)


def dispatch(harvest: Harvest, config: ConnectorConfig | None, ctx: dict, *, connector=None, inline: bool = False,
             progress=None) -> dict:
    """Plan a claimed harvest and run its partitions: here one after the other (`inline`, or an ad-hoc
    `connector`, whose options never travel through the broker), else as tasks for the workers."""
    name = config.name if config is not None else harvest.source_key
    if harvest.status != HarvestStatus.RUNNING:
        return {"status": harvest.status, "connector": name, "harvest": harvest.pk}
    if harvest.counts.get("partitions", {}).get("state") != "planning":
        # A redelivered start whose plan was already dispatched: the partitions are on their way.
        return {"status": "running", "connector": name, "harvest": harvest.pk}
    with context.restore(ctx):
        try:
            specs = plan(config, harvest, connector)
        except BaseException as exc:
            fail(harvest.pk, exc)
            raise
    try:
        for spec in specs:
            if inline or connector is not None:
                run_partition(harvest.pk, spec, ctx, progress=progress, connector=connector)
            else:
                harvest_partition_task.delay(harvest.pk, spec, ctx)
    except BaseException as exc:  # a broker gone mid-dispatch: fail now rather than hold the lock for the TTL
        fail(harvest.pk, exc)  # (a failed partition already did: then this changes nothing)
        raise
    return {"status": "started", "connector": name, "harvest": harvest.pk, "partitions": len(specs)}


def plan(config: ConnectorConfig | None, harvest: Harvest, connector=None) -> list[dict]:
    """The partitions of this harvest, recorded on the Harvest row before any is dispatched: a `rest`
    partition (the connector's own page loop) plus whatever the plugin's `plan_partitions` hook cuts off
    (connectors/kubeflow/partitions.py). A plugin without the hook gets the single `rest` partition."""
    kind = config.kind if config is not None else harvest.kind
    plugin = registry.plugin(kind)
    if connector is None:
        connector = plugin.from_config(config)
    specs: list[dict] = [{"part": "rest"}]
    state: dict = {}
    hook = getattr(plugin, "plan_partitions", None)
    if hook is not None:
        extra, rest, state = hook(connector, harvest.cursor_before, runs_per_partition=partition_runs(),
                                  executions_per_partition=partition_executions())
        specs[0].update(rest)
        specs += extra
    for index, spec in enumerate(specs):
        spec["index"] = index
    with transaction.atomic():
        locked = Harvest.objects.select_for_update().get(pk=harvest.pk)
        after = locked.counts.get("partitions", {}).get("after") or {}
        locked.counts = {"partitions": {"state": "running", "total": len(specs), "done": [], **state,
                                        **({"after": after} if after else {})}}
        locked.save(update_fields=["counts"])
    return specs


def run_partition(harvest_id: int, spec: dict, ctx: dict | None = None, progress=None, connector=None) -> dict:
    """One partition, wherever it runs. `connector`: the in-process connector of an ad-hoc harvest (built
    from command-line options, which never travel through the broker); otherwise the configured one."""
    harvest = Harvest.objects.select_related("connector").get(pk=harvest_id)
    if harvest.status != HarvestStatus.RUNNING:
        return {"status": "skipped", "harvest": harvest_id, "reason": f"harvest {harvest.status}"}
    if spec["index"] in harvest.counts.get("partitions", {}).get("done", []):
        return {"status": "done", "harvest": harvest_id, "partition": spec["index"]}  # a redelivered duplicate
    config = harvest.connector
    plugin = registry.plugin(harvest.kind)
    with context.restore(ctx or harvest_context(harvest.kind, None)):
        try:
            if connector is None:
                connector = plugin.from_config(config)
            if spec["part"] == "rest":
                prepare = getattr(plugin, "prepare_rest_partition", None)
                if prepare is not None:
                    prepare(connector, spec)
                totals, read, still_open, pages, warnings = _rest_partition(connector, progress, harvest_id)
            else:
                totals, read, still_open, pages, warnings = plugin.run_partition(
                    connector, spec, _apply_pages, _atomically, progress)
            outcome = _complete(harvest_id, spec["index"], totals, read, still_open, pages, warnings)
        except BaseException as exc:
            fail(harvest_id, exc)
            raise
        if outcome["status"] == "succeeded":
            after_harvest(harvest_id, connector)
        return outcome


def _rest_partition(connector, progress=None, harvest_id: int | None = None):
    """The connector's own page loop, cursor saved with each page (minus what the plugin's
    `prepare_rest_partition` left to the other partitions). The Harvest row follows page by page (pages,
    cursor), in the page's transaction, so a harvest killed outright still says how far it got; its pages
    are therefore not counted again when the partition completes."""
    key = connector.source_key()

    def write(page):
        result = store.apply(page.facts)
        HarvestCursor.objects.update_or_create(key=key, defaults={"cursor": page.cursor})
        if harvest_id is not None:
            Harvest.objects.filter(pk=harvest_id).update(pages=F("pages") + 1, cursor_after=page.cursor)
        return result

    totals, read, still_open, pages, warnings = _apply_pages(connector.changes_since(load_cursor(key) or None), write,
                                                             progress)
    return totals, read, still_open, 0 if harvest_id is not None else pages, warnings


def _apply_pages(pages, write, progress=None):
    """`write(page)` for each page, each in its own transaction; the partition's totals, read counts, (no)
    runs still open, and page count."""
    totals, read, count, warnings = store.ApplyResult(), {}, 0, []
    for page in pages:
        totals.add(_atomically(lambda page=page: write(page)))
        count += 1
        warnings += page.warnings
        for name, n in page.read.items():
            read[name] = read.get(name, 0) + n
        if progress:
            progress(page)
    return totals, read, [], count, warnings


# PostgreSQL: unique_violation, deadlock_detected, serialization_failure
_RETRIABLE_PGCODES = {"23505", "40P01", "40001"}
WRITE_ATTEMPTS = 5


def _atomically(write):
    """Run `write` in a transaction, again when a concurrent partition won a race for the same node (a
    unique violation: the next attempt finds its row and refreshes it) or the database broke a lock cycle
    between two partitions. Facts are idempotent, so a repeated write means the same."""
    for attempt in range(WRITE_ATTEMPTS):
        try:
            with transaction.atomic():
                return write()
        except (IntegrityError, OperationalError) as exc:
            code = getattr(exc.__cause__, "pgcode", None)
            retriable = (code in _RETRIABLE_PGCODES) if code is not None else (
                isinstance(exc, IntegrityError) or "database is locked" in str(exc))
            if not retriable or attempt == WRITE_ATTEMPTS - 1:
                raise
            log.info("harvest write raced a concurrent partition (%s); retrying", code or exc)
    raise AssertionError("unreachable")


def _complete(harvest_id: int, index: int, totals: store.ApplyResult, read: dict, still_open: list, pages: int,
              warnings: list = ()) -> dict:
    with transaction.atomic():
        harvest = Harvest.objects.select_for_update().get(pk=harvest_id)
        parts = harvest.counts.get("partitions", {})
        if harvest.status != HarvestStatus.RUNNING or index in parts.get("done", []):
            return {"status": "done", "harvest": harvest_id, "partition": index}
        counts = dict(harvest.counts)
        for name, value in totals.as_counts().items():
            counts[name] = counts.get(name, 0) + value
        merged_read = dict(counts.get("read") or {})
        for name, count in read.items():
            merged_read[name] = merged_read.get(name, 0) + count
        counts["read"] = merged_read
        parts = {**parts, "done": sorted([*parts.get("done", []), index]),
                 "open_runs": sorted({*parts.get("open_runs", []), *still_open})}
        counts["partitions"] = parts
        harvest.counts = counts
        harvest.pages += pages
        add_warnings(harvest, list(warnings))
        if len(parts["done"]) < parts.get("total", 0):
            harvest.save(update_fields=["counts", "pages", "warnings"])
            return {"status": "partition_done", "harvest": harvest_id, "partition": index}
        # The last partition: only now may the positions the plan cut into partitions move.
        cursor = load_cursor(harvest.source_key) or copy.deepcopy(harvest.cursor_before)
        finish = getattr(registry.plugin(harvest.kind), "finish_cursor", None)
        if finish is not None:
            cursor = finish(cursor, parts)
        HarvestCursor.objects.update_or_create(key=harvest.source_key, defaults={"cursor": cursor})
        harvest.status = succeeded_status(harvest)
        parts["state"] = "finished"
        final = store.ApplyResult(**{name: counts.get(name, 0) for name in
                                     ("raw_created", "nodes_created", "nodes_updated", "edges_created", "edges_closed")})
        _finish(harvest, final, merged_read, cursor)
        Harvest.objects.filter(pk=harvest.pk).update(counts={**harvest.counts, "partitions": parts})
    return {"status": "succeeded", "harvest": harvest_id, "partition": index}


def fail(harvest_id: int, exc: BaseException) -> None:
    """Close a RUNNING harvest as failed (audited); the cursor keeps only what landed. No-op otherwise."""
    with transaction.atomic():
        harvest = Harvest.objects.select_for_update().get(pk=harvest_id)
        if harvest.status != HarvestStatus.RUNNING:
            return
        harvest.status = HarvestStatus.FAILED
        harvest.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        log.warning("harvest %s failed: %s", harvest.source_key, harvest.error)
        counts = harvest.counts
        final = store.ApplyResult(**{name: counts.get(name, 0) for name in
                                     ("raw_created", "nodes_created", "nodes_updated", "edges_created", "edges_closed")})
        parts = counts.get("partitions", {})
        _finish(harvest, final, counts.get("read") or {}, load_cursor(harvest.source_key) or harvest.cursor_before)
        Harvest.objects.filter(pk=harvest.pk).update(counts={**harvest.counts, "partitions": {**parts, "state": "failed"}})


# -- after a harvest ---------------------------------------------------------------------------------------
def after_harvest(harvest_id: int, connector=None, *, emit_openlineage: bool | None = None) -> dict:
    """What follows every successful harvest, however it was started: cross-platform stitching (one
    platform's new objects can link another's old ones, connectors/stitching.py) and, when the connector's
    settings or the requester ask for it, OpenLineage re-emission through the plugin's `emit_openlineage`.
    A failing hook does not undo the stored harvest: its error is kept on the record (counts["after"])."""
    from connectors import stitching

    harvest = Harvest.objects.select_related("connector").get(pk=harvest_id)
    config = harvest.connector
    parts = harvest.counts.get("partitions") or {}
    if emit_openlineage is None:
        emit_openlineage = bool((parts.get("after") or {}).get("emit_openlineage")
                                or (config is not None and (config.settings or {}).get("emit_openlineage")))
    results: dict = {}
    if getattr(connector, "stitch", True) and (config is None or (config.settings or {}).get("stitch", True)):
        try:
            facts = stitching.same_as_facts()
            applied = _atomically(lambda: store.apply(facts))
            if facts:
                results["same_as"] = {"links": len(facts), "edges_created": applied.edges_created}
        except Exception as exc:
            results["same_as"] = {"error": f"{type(exc).__name__}: {exc}"}
    if emit_openlineage:
        emit = getattr(registry.plugin(harvest.kind), "emit_openlineage", None)
        if emit is None:
            results["openlineage"] = {"error": f"the {harvest.kind} connector cannot emit OpenLineage events"}
        else:
            try:
                results["openlineage"] = {"sent": emit(harvest)}
            except Exception as exc:
                results["openlineage"] = {"error": f"{type(exc).__name__}: {exc}"}
    if not results:
        return results
    with transaction.atomic():
        locked = Harvest.objects.select_for_update().get(pk=harvest_id)
        locked.counts = {**locked.counts, "after": results}
        locked.save(update_fields=["counts"])
        record("harvest.after", "harvest", harvest_id, after={"source": harvest.source_key, **results})
    return results


# -- per-connector schedules (django-celery-beat) ---------------------------------------------------------
def schedule_task_name(config: ConnectorConfig) -> str:
    return f"harvest:{config.name}"


def parse_crontab(expression: str) -> dict:
    """"m h dom mon dow" as CrontabSchedule fields; ValueError with the reason when it is not one."""
    from celery.schedules import crontab

    fields = str(expression).split()
    if len(fields) != 5:
        raise ValueError(f"a schedule is a crontab expression of 5 fields (minute hour day-of-month month "
                         f"day-of-week), e.g. '*/30 * * * *'; got {expression!r}")
    names = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
    values = dict(zip(names, fields))
    try:
        crontab(**values)  # celery's own parser: rejects out-of-range and malformed fields
    except Exception as exc:
        raise ValueError(f"invalid crontab {expression!r}: {exc}") from None
    return values


def schedule_of(config: ConnectorConfig) -> str | None:
    from django_celery_beat.models import PeriodicTask

    if config.pk is None:
        return None
    task = PeriodicTask.objects.filter(name=schedule_task_name(config)).select_related("crontab").first()
    if task is None or task.crontab is None:
        return None
    c = task.crontab
    return " ".join([c.minute, c.hour, c.day_of_month, c.month_of_year, c.day_of_week])


def set_schedule(config: ConnectorConfig, expression: str | None) -> None:
    """Create, change or (None/"") remove the connector's beat entry; call inside the audited transaction."""
    import json

    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    if not expression:
        remove_schedule(config)
        return
    values = parse_crontab(expression)
    crontab, _ = CrontabSchedule.objects.get_or_create(**values, timezone=settings.TIME_ZONE)
    PeriodicTask.objects.update_or_create(
        name=schedule_task_name(config),
        defaults={"task": "connectors.harvest", "crontab": crontab, "interval": None,
                  "args": json.dumps([config.name]), "enabled": config.enabled,
                  "description": f"Scheduled harvest of connector {config.name} (set through the connector API)"},
    )


def sync_schedule_enabled(config: ConnectorConfig) -> None:
    from django_celery_beat.models import PeriodicTask

    for task in PeriodicTask.objects.filter(name=schedule_task_name(config)).exclude(enabled=config.enabled):
        task.enabled = config.enabled
        task.save()  # save(), not update(): beat notices changes through PeriodicTasks.changed


def remove_schedule(config: ConnectorConfig) -> None:
    from django_celery_beat.models import PeriodicTask

    for task in PeriodicTask.objects.filter(name=schedule_task_name(config)):
        task.delete()
