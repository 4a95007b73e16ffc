"""The one way a harvest starts: `start_harvest`, used by the API, `manage.py harvest`, beat schedules (the
`connectors.harvest` task) and the dashboard's "Harvest now".

Whichever way it was started, a harvest
- acts as the service `harvester:<kind>` on behalf of the requesting user (audit context),
- takes the same lock (connectors.tasks.claim: a configured connector's row, an ad-hoc source's cursor row),
- is planned into the same partitions (the plugin's `plan_partitions` hook, if it has one),
- is dispatched to the broker when one is configured (the partitions then run on the workers), or runs
  in-process, partition after partition, when there is none or the caller wants it here (`inline`),
- and ends with the same after-harvest hooks (stitching, OpenLineage re-emission): connectors.tasks.
An ad-hoc source (built from command-line options, possibly holding a token) always runs in-process: its
options are never put on the broker.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from connectors import registry, tasks
from connectors.models import ConnectorConfig, Harvest
from common.audit import context


class HarvestRefused(Exception):
    """Not started: `code` says why (disabled, misconfigured, already_running, broker_unavailable)."""

    def __init__(self, code: str, detail: str, harvest: Harvest | None = None):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.harvest = harvest


@dataclass
class Started:
    harvest: Harvest
    queued: bool            # True: on the broker, poll the Harvest row; False: ran here, the row is final
    task_id: str | None = None


def start_harvest(source, *, requester: str | None = None, ctx: dict | None = None, inline: bool = False,
                  progress=None, emit_openlineage: bool = False) -> Started:
    """Start one harvest of `source` — a ConnectorConfig, a configured connector's name, or an ad-hoc
    connector object — for `requester` (a username; default: the current audit context's user).

    Raises HarvestRefused when it cannot start; a harvest that starts and fails raises its error after the
    failed Harvest record was written (in-process), or fails on the workers (queued)."""
    from governance.celery import broker_configured

    if isinstance(source, str):
        config = ConnectorConfig.objects.filter(name=source).first()
        if config is None:
            raise HarvestRefused("unknown_connector", f"no connector named {source!r}")
        source = config
    config = source if isinstance(source, ConnectorConfig) else None
    connector = None if config is not None else source
    kind = config.kind if config is not None else connector.kind
    base = dict(ctx if ctx is not None else context.snapshot())
    if requester:
        base["username"] = requester
    data = tasks.harvest_context(kind, base)
    if config is not None:
        if not config.enabled:
            raise HarvestRefused("disabled", f"connector {config.name!r} is disabled")
        try:
            connector_for_claim = registry.plugin(config.kind).from_config(config)
        except (ValueError, ImportError) as exc:
            raise HarvestRefused("misconfigured", f"connector {config.name!r} is misconfigured: {exc}") from exc
    else:
        connector_for_claim = connector
    after = {"emit_openlineage": True} if emit_openlineage else None
    taken = tasks.claim(config, data, connector=connector_for_claim, after=after)
    if taken.refused:
        what = f"connector {config.name!r}" if config is not None else f"source {connector.source_key()!r}"
        raise HarvestRefused("already_running", f"{what} is already being harvested (harvest {taken.running.pk})",
                             taken.running)
    harvest = taken.harvest
    if config is not None and not inline and broker_configured():
        task_id = str(uuid.uuid4())
        try:
            # The claim is committed (its own transaction), so a worker finds the Harvest row.
            tasks.harvest_task.apply_async((config.name, data, harvest.pk), task_id=task_id)
        except Exception as exc:
            tasks.fail(harvest.pk, RuntimeError(f"the harvest could not be queued: {type(exc).__name__}: {exc}"))
            harvest.refresh_from_db()
            raise HarvestRefused("broker_unavailable", "the task broker cannot be reached; the harvest was not "
                                 "started", harvest) from exc
        return Started(harvest, queued=True, task_id=task_id)
    try:
        tasks.dispatch(harvest, config, data, connector=connector, inline=True, progress=progress)
    finally:
        harvest.refresh_from_db()
    return Started(harvest, queued=False)
