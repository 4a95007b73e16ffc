"""How a Kubeflow harvest is cut into partitions workers share (the plugin hooks connectors/tasks.py calls).

The plan lists the KFP runs created since the cursor once and cuts them into chunks of
`HARVEST_PARTITION_RUNS` run ids; with ML Metadata it also lists the executions changed since the cursor's
`mlmd.executions` position (their keyset only) and cuts them into chunks of `HARVEST_PARTITION_EXECUTIONS`.
A `runs` partition gets each run by id, maps it and applies its facts; an `executions` partition reads
those executions with their events, artefacts and parents and maps them exactly as the executions stream
maps a page; the `rest` partition runs the connector's own streams with its runs listing and the planned
executions switched off. Only when every partition landed does `finish_cursor` move the runs and executions
positions (see connectors/tasks.py for why).
"""
from __future__ import annotations

from connectors.base import Page
from lineage import store


def plan_partitions(connector, cursor_before: dict, *, runs_per_partition: int, executions_per_partition: int):
    """(extra partition specs, options for the rest partition, state kept on the Harvest row)."""
    from connectors.kubeflow.connector import _after, _position

    specs, rest = [], {}
    runs_position, executions_position = None, None
    if connector.api is not None:
        connector.api.healthz()
        position = (cursor_before.get("api") or {}).get("runs")
        run_ids = []
        for items in connector.api.list_runs((position or {}).get("created_at")):
            for run in items:
                if _after(run, "run_id", position):
                    run_ids.append(run["run_id"])
                    here = _position(run, "run_id")
                    if runs_position is None or _order(here) > _order(runs_position):
                        runs_position = here
        size = runs_per_partition
        specs += [{"part": "runs", "run_ids": run_ids[i:i + size]} for i in range(0, len(run_ids), size)]
        rest["runs"] = "partitioned"
    if connector.metadata is not None:
        after = (cursor_before.get("mlmd") or {}).get("executions")
        positions = connector.execution_positions(after)
        if positions:
            executions_position = list(positions[-1])
        ids = [ident for _, ident in positions]
        size = executions_per_partition
        specs += [{"part": "executions", "ids": ids[i:i + size]} for i in range(0, len(ids), size)]
        # The rest partition leaves these executions (and the artefacts they map) to the partitions.
        rest["executions"] = {"after": after, "upto": executions_position}
    state = {"runs_position": runs_position, "open_runs": [], "executions_position": executions_position}
    return specs, rest, state


def _order(position: dict) -> tuple:
    return position["created_at"], position["id"]


def prepare_rest(connector, spec: dict) -> None:
    """Switch off, in the connector's own streams, what the other partitions hold."""
    if spec.get("runs") == "partitioned":
        connector.leave_runs_to_partitions()
    executions = spec.get("executions")
    if executions is not None and connector.metadata is not None:
        connector.leave_executions_to_partitions(executions.get("after"), executions.get("upto"))


def run_partition(connector, spec: dict, apply_pages, atomically, progress=None):
    """A `runs` or `executions` partition: (totals, read counts, runs still open, pages, warnings)."""
    from connectors.kubeflow import mapping

    if spec["part"] == "executions":
        return apply_pages(connector.execution_pages(spec["ids"]), lambda page: store.apply(page.facts), progress)
    facts, still_open, warnings = [], [], []
    run_ids = spec["run_ids"]
    for run_id in run_ids:
        try:
            run = connector.api.get_run(run_id)
            if run is None:  # deleted between the listing and now
                facts += mapping.deleted_run_facts(connector.keys, run_id)
                continue
            facts += mapping.run_facts(connector.keys, run)
        except mapping.PayloadError as exc:
            # One malformed run: a warning, and kept with the open runs so the next harvest reads it again.
            warnings.append({"object": f"run {run_id}", "reason": str(exc)})
            still_open.append(run_id)
            continue
        if (run.get("state") or "") not in mapping.FINAL_RUN_STATES:
            still_open.append(run_id)
    totals = atomically(lambda: store.apply(facts))
    if progress:
        progress(Page(facts=facts, cursor={}, read={"runs": len(run_ids)}, warnings=warnings))
    return totals, {"runs": len(run_ids)}, still_open, 1, warnings


def finish_cursor(cursor: dict, parts: dict) -> dict:
    """Every partition landed: move the runs and executions positions, remember the runs still open."""
    if parts.get("runs_position"):
        api = cursor.setdefault("api", {})
        api["runs"] = parts["runs_position"]
        api["open_runs"] = sorted({*(api.get("open_runs") or []), *parts.get("open_runs", [])})
    if parts.get("executions_position"):
        cursor.setdefault("mlmd", {})["executions"] = parts["executions_position"]
    return cursor
