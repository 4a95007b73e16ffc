"""The JSON shapes of Marquez's API (its openapi.yml), built from store nodes and their properties.

Why keys with no value are left out rather than sent as null: Marquez's description declares none of its
fields nullable, so a null would make the answer invalid against it, while a client reading a missing key
gets the same nothing (marquez-python hands back plain dicts; the Java client's Jackson maps absent to
null). Required fields are always present.

Why version ids look the way they do: the store keeps one dataset version per producing run
(`ns:name@runId`) and no job versions; Marquez names versions by UUID. A dataset version is named by its
producing run's id, so it is found again with one indexed lookup; a job version is likewise one per run
(Marquez would fold runs of an unchanged job into one version; the store has no such notion) and named by
the run's id. Run ids are OpenLineage's UUIDs; an id that is not one (which the ingest tolerates, as Marquez
does) is answered as given rather than replaced, so the caller can find that run again.
"""
from __future__ import annotations

import datetime as dt
import functools
import uuid

from lineage.kinds import NodeKind
from lineage.models import Node

# OpenLineage eventType -> Marquez RunState.
RUN_STATES = {"START": "RUNNING", "RUNNING": "RUNNING", "COMPLETE": "COMPLETED", "FAIL": "FAILED",
              "ABORT": "ABORTED", "OTHER": "RUNNING"}


def compact(data: dict) -> dict:
    return {k: v for k, v in data.items() if v is not None}


_UTC = dt.timezone.utc


def iso(value) -> str | None:
    """A datetime or a stored ISO string as Marquez writes times (UTC, 'Z')."""
    if type(value) is dt.datetime and value.tzinfo is _UTC:  # what the store hands back: no conversion
        return value.isoformat().replace("+00:00", "Z")
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


@functools.lru_cache(maxsize=65536)  # a graph answer formats each latest run's id three times
def as_uuid(text: str) -> str | None:
    try:
        return str(uuid.UUID(str(text)))
    except ValueError:
        return None


def run_uuid(run_id: str) -> str:
    return as_uuid(run_id) or run_id


def dataset_version_uuid(version: Node) -> str:
    """See the module docstring: the producing run's id."""
    return run_uuid(version.source_id.rsplit("@", 1)[-1])


def job_version_uuid(run: Node) -> str:
    return run_uuid(run.source_id)


def facets(props: dict) -> dict:
    value = (props or {}).get("facets")
    return value if isinstance(value, dict) else {}


def string(value) -> str | None:
    """`value` if it is a string, else None: stored facets are what producers sent."""
    return value if isinstance(value, str) else None


def facet(props: dict, name: str) -> dict:
    value = facets(props).get(name)
    return value if isinstance(value, dict) else {}


def ref(node: Node) -> dict:
    return {"namespace": node.namespace, "name": node.name}


def node_id_of(node: Node) -> str:
    return f"{'job' if node.kind == NodeKind.JOB else 'dataset'}:{node.namespace}:{node.name}"


def tag_names(props: dict) -> list[str]:
    """Tags from OpenLineage's `tags` facet ({"tags": [{"key", "value", "source"}]}): the key names them."""
    items = facet(props, "tags").get("tags")
    names = {str(t.get("key")) for t in items if isinstance(t, dict) and t.get("key")} if isinstance(items, list) else set()
    return sorted(names)


def fields_of(props: dict) -> list[dict]:
    """A schema facet's fields as Marquez's: name and type required (a field without a type is skipped)."""
    out = []
    for f in facet(props, "schema").get("fields", []) or []:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str) or not isinstance(f.get("type"), str):
            continue
        tags = [str(t) for t in f.get("tags", []) if isinstance(t, str)] if isinstance(f.get("tags"), list) else []
        description = f.get("description") if isinstance(f.get("description"), str) else None
        out.append(compact({"name": f["name"], "type": f["type"], "tags": tags, "description": description}))
    return out


def source_name(node: Node, props: dict) -> str:
    """Marquez names a dataset's source after its dataSource facet, or after the dataset's namespace."""
    name = facet(props, "dataSource").get("name")
    return name if isinstance(name, str) and name else node.namespace


def lifecycle_state(props: dict) -> str | None:
    value = facet(props, "lifecycleStateChange").get("lifecycleStateChange")
    return value if isinstance(value, str) else None


def _description(props: dict) -> str | None:
    value = facet(props, "documentation").get("description")
    return value if isinstance(value, str) else None


def dataset(node: Node, props: dict, *, updated_at=None, current_version: Node | None = None,
            last_modified=None) -> dict:
    return compact({
        "id": ref(node),
        "type": "DB_TABLE",
        "name": node.name,
        "physicalName": node.name,
        "createdAt": iso(node.first_seen),
        "updatedAt": iso(updated_at or node.last_seen),
        "namespace": node.namespace,
        "sourceName": source_name(node, props),
        "fields": fields_of(props),
        "tags": tag_names(props),
        "lastModifiedAt": iso(last_modified),
        "lastLifecycleState": lifecycle_state(props),
        "description": _description(props),
        "facets": facets(props),
        "currentVersion": dataset_version_uuid(current_version) if current_version is not None else None,
        "deleted": False,
    })


def dataset_version(version: Node, props: dict, dataset_props: dict, created_by_run: dict | None) -> dict:
    """A dataset version: its own facets (dataset and output facets of the producing event) over the dataset's.
    `description` is required by Marquez's description and not nullable there, hence "" when none is known."""
    own = {**facets(props), **((props or {}).get("output_facets") or {})}
    merged = {"facets": {**facets(dataset_props), **own}}
    version_id = dataset_version_uuid(version)
    return compact({
        "id": {"namespace": version.namespace, "name": version.name, "version": version_id},
        "type": "DB_TABLE",
        "name": version.name,
        "physicalName": version.name,
        "createdAt": iso(version.first_seen),
        "version": version_id,
        "namespace": version.namespace,
        "sourceName": source_name(version, merged),
        "fields": fields_of(merged),
        "tags": tag_names(merged),
        "lifecycleState": lifecycle_state(merged),
        "description": _description(merged) or "",
        "createdByRun": created_by_run,
        "facets": own,
    })


def _duration_ms(started, ended) -> int | None:
    if not isinstance(started, str) or not isinstance(ended, str):
        return None  # what fromisoformat's TypeError answered, without raising it per run
    try:
        a = dt.datetime.fromisoformat(started)
        b = dt.datetime.fromisoformat(ended)
    except (TypeError, ValueError):
        return None
    return int((b - a).total_seconds() * 1000)


def run(node: Node, props: dict, *, job: Node | None = None, inputs=(), outputs=(), updated_at=None) -> dict:
    """A run; `inputs` / `outputs` are (dataset version node, facets) pairs."""
    props = props or {}
    state = RUN_STATES.get(str(props.get("state", "")).upper(), "NEW")
    started, ended = props.get("started_at"), props.get("ended_at")

    def versions(items):
        return [{"datasetVersionId": {"namespace": v.namespace, "name": v.name, "version": dataset_version_uuid(v)},
                 "facets": f or {}} for v, f in items]

    return compact({
        "id": run_uuid(props.get("run_id") or node.source_id),
        "createdAt": iso(node.first_seen),
        "updatedAt": iso(updated_at or node.last_seen),
        "nominalStartTime": iso(props.get("nominal_start_time")),
        "nominalEndTime": iso(props.get("nominal_end_time")),
        "state": state,
        "startedAt": iso(started),
        "endedAt": iso(ended) if state in ("COMPLETED", "FAILED", "ABORTED") else None,
        "durationMs": _duration_ms(started, ended) if state in ("COMPLETED", "FAILED", "ABORTED") else None,
        "args": {},
        "jobVersion": ({"namespace": job.namespace, "name": job.name, "version": job_version_uuid(node)}
                       if job is not None else None),
        "inputDatasetVersions": versions(inputs),
        "outputDatasetVersions": versions(outputs),
        "facets": facets(props),
    })


def job(node: Node, props: dict, *, inputs=(), outputs=(), latest_run: dict | None = None,
        latest_run_node: Node | None = None, updated_at=None) -> dict:
    # Stored facets are what producers sent (non-strict events included): only strings are read as such,
    # so a list or object in these places answers the defaults instead of failing the whole answer.
    job_type = string(facet(props, "jobType").get("processingType"))
    location = string(facet(props, "sourceCodeLocation").get("url"))
    return compact({
        "id": ref(node),
        "type": {"STREAMING": "STREAM", "STREAM": "STREAM", "SERVICE": "SERVICE"}.get(job_type, "BATCH"),
        "name": node.name,
        "simpleName": node.name.rsplit(".", 1)[-1],
        "createdAt": iso(node.first_seen),
        "updatedAt": iso(updated_at or node.last_seen),
        "namespace": node.namespace,
        "inputs": [ref(n) for n in inputs],
        "outputs": [ref(n) for n in outputs],
        "location": location if isinstance(location, str) else None,
        "description": _description(props),
        "latestRun": latest_run,
        "latestRuns": [latest_run] if latest_run else [],
        "facets": facets(props),
        "currentVersion": job_version_uuid(latest_run_node) if latest_run_node is not None else None,
    })


def job_version(job_node: Node, job_props: dict, run_node: Node, run_data: dict, inputs, outputs) -> dict:
    version_id = job_version_uuid(run_node)
    location = facet(job_props, "sourceCodeLocation").get("url")
    return compact({
        "id": {"namespace": job_node.namespace, "name": job_node.name, "version": version_id},
        "name": job_node.name,
        "version": version_id,
        "createdAt": iso(run_node.first_seen),
        "namespace": job_node.namespace,
        "inputs": [ref(n) for n in inputs],
        "outputs": [ref(n) for n in outputs],
        "location": location if isinstance(location, str) else None,
        "latestRun": run_data,
        "facets": facets(job_props),
    })
