"""KFP API objects and ML Metadata records -> lineage store facts, by the direction rule of lineage/kinds.py.

Identity decisions (every key is prefixed with the connector's `instance` so two KFP installs never share a
node):
- a KFP run is ONE run node, `<instance>/run/<run_id>`, filled from both sides: the API gives parameters,
  states and times; ML Metadata's root `system.DAGExecution` (named `run/<run_id>`) adds its execution id.
  Property names of the two sides never overlap (MLMD's are prefixed `mlmd_`), so neither overwrites the other.
- a task execution is a run node `<instance>/execution/<id>`, child of its parent DAG (the run itself when
  the parent is the root DAG).
- an artefact is one node `<instance>/artifact/<id>` whose kind follows its schema title. A `system.Model`
  artefact IS the model version (kind model_version, same key pattern): it is what a run produced and what
  Viya later registers, so one node carries both roles; the model it versions is `<instance>/model/<name>`
  (custom property `model_name`, else the pipeline name and output name).
- a cache hit reused the original artefacts: `artifact -reused_from_cache-> cached execution`, never
  `produced`; the artefact stays produced by the original execution of an earlier run.
- an importer reads data from outside KFP: its OUTPUT artefact is what it `consumed`.
"""
from __future__ import annotations

import datetime as dt
import re

from connectors.kubeflow.records import ArtifactRecord, EventRecord, ExecutionBatch, ExecutionRecord
from lineage import store
from lineage.kinds import EdgeKind, NodeKind, Source

SOURCE = Source.KUBEFLOW

ARTIFACT_KINDS = {
    "system.Dataset": NodeKind.DATASET,
    "system.Model": NodeKind.MODEL_VERSION,
    "system.Metrics": NodeKind.METRICS,
    "system.ClassificationMetrics": NodeKind.METRICS,
    "system.SlicedClassificationMetrics": NodeKind.METRICS,
}
FINAL_RUN_STATES = {"SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"}


class PayloadError(ValueError):
    """A source object this mapper cannot make sense of (missing id, unparseable time)."""


def from_ms(ms: int) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc) if ms else None


def parse_time(value) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    text = str(value)
    if text.startswith("1970-01-01T00:00:00"):
        return None  # KFP's zero timestamp: "not set"
    try:
        return dt.datetime.fromisoformat(re.sub(r"Z$", "+00:00", text))
    except ValueError:
        raise PayloadError(f"unparseable timestamp {text!r}") from None


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


class Keys:
    def __init__(self, instance: str):
        self.instance = instance

    def _key(self, kind, suffix) -> store.NodeKey:
        return store.NodeKey(SOURCE, kind, f"{self.instance}/{suffix}")

    def pipeline(self, pipeline_id):
        return self._key(NodeKind.JOB, f"pipeline/{pipeline_id}")

    def version(self, version_id):
        return self._key(NodeKind.JOB, f"pipeline_version/{version_id}")

    def experiment(self, experiment_id):
        return self._key(NodeKind.PROJECT, f"experiment/{experiment_id}")

    def run(self, run_id):
        return self._key(NodeKind.RUN, f"run/{run_id}")

    def execution(self, execution_id):
        return self._key(NodeKind.RUN, f"execution/{execution_id}")

    def artifact(self, artifact: ArtifactRecord):
        return self._key(ARTIFACT_KINDS.get(artifact.type, NodeKind.ARTIFACT), f"artifact/{artifact.id}")

    def model(self, name):
        return self._key(NodeKind.MODEL, f"model/{name}")


def _raw(kind: str, source_id, body) -> store.RawPayload:
    return store.RawPayload(SOURCE, kind, str(source_id), body)


# ---------------------------------------------------------------------------------------------------------
# KFP API objects (dicts as the API serves them: snake_case, RFC 3339 times)
# ---------------------------------------------------------------------------------------------------------
def _require(obj: dict, field: str, what: str) -> str:
    value = obj.get(field)
    if not value:
        raise PayloadError(f"{what} without {field}: {str(obj)[:200]}")
    return str(value)


def experiment_facts(keys: Keys, exp: dict) -> list:
    exp_id = _require(exp, "experiment_id", "experiment")
    return [store.NodeFact(
        key=keys.experiment(exp_id), name=exp.get("display_name") or exp_id, namespace=exp.get("namespace") or "",
        display_name=exp.get("display_name") or "",
        properties={"kfp_kind": "experiment", "experiment_id": exp_id, "description": exp.get("description") or "",
                    "storage_state": exp.get("storage_state") or ""},
        seen_at=parse_time(exp.get("created_at")), raw=_raw("kfp.experiment", exp_id, exp))]


def pipeline_facts(keys: Keys, pipeline: dict) -> list:
    pid = _require(pipeline, "pipeline_id", "pipeline")
    return [store.NodeFact(
        key=keys.pipeline(pid), name=pipeline.get("name") or pipeline.get("display_name") or pid,
        namespace=pipeline.get("namespace") or "", display_name=pipeline.get("display_name") or "",
        properties={"kfp_kind": "pipeline", "pipeline_id": pid, "description": pipeline.get("description") or "",
                    "created_at": iso(parse_time(pipeline.get("created_at")))},
        seen_at=parse_time(pipeline.get("created_at")), raw=_raw("kfp.pipeline", pid, pipeline))]


def spec_images(spec: dict) -> dict:
    """Executor label -> container image, from the compiled spec's deploymentSpec (where KFP's IR keeps
    each component's image): the code that ran, as far as KFP records it."""
    executors = ((spec.get("deploymentSpec") or {}).get("executors") or {}) if isinstance(spec, dict) else {}
    return {name: (ex.get("container") or {}).get("image") for name, ex in sorted(executors.items())
            if isinstance(ex, dict) and (ex.get("container") or {}).get("image")}


def version_facts(keys: Keys, version: dict) -> list:
    vid = _require(version, "pipeline_version_id", "pipeline version")
    pid = version.get("pipeline_id") or ""
    created = parse_time(version.get("created_at"))
    spec = version.get("pipeline_spec") or {}
    facts = [store.NodeFact(
        key=keys.version(vid), name=version.get("name") or version.get("display_name") or vid,
        display_name=version.get("display_name") or "",
        properties={"kfp_kind": "pipeline_version", "pipeline_version_id": vid, "pipeline_id": pid,
                    "description": version.get("description") or "",
                    "code_source_url": version.get("code_source_url") or "",
                    "package_url": (version.get("package_url") or {}).get("pipeline_url", ""),
                    "pipeline_name": ((spec.get("pipelineInfo") or {}).get("name") or ""),
                    "sdk_version": spec.get("sdkVersion") or "", "created_at": iso(created),
                    # The compiled spec's digest identifies the exact pipeline code of a version.
                    "spec_digest": f"sha256:{store.canonical_digest(spec)}" if spec else "",
                    "images": spec_images(spec)},
        seen_at=created, raw=_raw("kfp.pipeline_version", vid, version))]
    if pid:
        facts.append(store.EdgeFact(EdgeKind.VERSION_OF, keys.version(vid), keys.pipeline(pid), SOURCE, valid_from=created))
    return facts


def run_facts(keys: Keys, run: dict) -> list:
    run_id = _require(run, "run_id", "run")
    created = parse_time(run.get("created_at"))
    finished = parse_time(run.get("finished_at"))
    ref = run.get("pipeline_version_reference") or {}
    runtime = run.get("runtime_config") or {}
    history = [{"state": h.get("state"), "update_time": iso(parse_time(h.get("update_time")))}
               for h in (run.get("state_history") or [])]
    props = {
        "kfp_kind": "run", "run_id": run_id, "state": run.get("state") or "", "state_history": history,
        "parameters": runtime.get("parameters") or {}, "pipeline_root": runtime.get("pipeline_root") or "",
        "created_at": iso(created), "scheduled_at": iso(parse_time(run.get("scheduled_at"))),
        "finished_at": iso(finished), "storage_state": run.get("storage_state") or "",
        "experiment_id": run.get("experiment_id") or "", "pipeline_id": ref.get("pipeline_id") or "",
        "pipeline_version_id": ref.get("pipeline_version_id") or "", "service_account": run.get("service_account") or "",
        "recurring_run_id": run.get("recurring_run_id") or "", "description": run.get("description") or "",
        "error": run.get("error") or None,
    }
    raw = _raw("kfp.run", run_id, run)
    facts: list = [store.NodeFact(key=keys.run(run_id), name=run_id, display_name=run.get("display_name") or "",
                                  properties=props, seen_at=finished or created, raw=raw)]
    if ref.get("pipeline_version_id"):
        facts.append(store.EdgeFact(EdgeKind.INSTANCE_OF, keys.version(ref["pipeline_version_id"]), keys.run(run_id),
                                    SOURCE, valid_from=created))
    if ref.get("pipeline_id"):
        facts.append(store.EdgeFact(EdgeKind.INSTANCE_OF, keys.pipeline(ref["pipeline_id"]), keys.run(run_id),
                                    SOURCE, valid_from=created))
    if run.get("experiment_id"):
        facts.append(store.EdgeFact(EdgeKind.CONTAINS, keys.experiment(run["experiment_id"]), keys.run(run_id),
                                    SOURCE, valid_from=created))
    return facts


def deleted_run_facts(keys: Keys, run_id: str) -> list:
    """A run KFP no longer knows: the node stays (lineage history is never dropped), marked as deleted."""
    return [store.NodeFact(key=keys.run(run_id), name=run_id, properties={"deleted_in_source": True})]


# ---------------------------------------------------------------------------------------------------------
# ML Metadata records
# ---------------------------------------------------------------------------------------------------------
def _numbers(props: dict) -> dict:
    return {k: v for k, v in props.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def artifact_facts(keys: Keys, artifact: ArtifactRecord, *, pipeline_name: str = "") -> list:
    key = keys.artifact(artifact)
    props = {k: v for k, v in artifact.properties.items() if k != "display_name"}
    display = str(artifact.properties.get("display_name") or artifact.name or "")
    properties = {"mlmd_artifact_id": artifact.id, "mlmd_type": artifact.type, "uri": artifact.uri,
                  "state": artifact.state, "created_at": iso(from_ms(artifact.created_ms)), **props}
    if key.kind == NodeKind.METRICS:
        properties["metrics"] = _numbers(props)
    facts: list = [store.NodeFact(key=key, name=artifact.uri or f"artifact {artifact.id}", namespace=keys.instance,
                                  display_name=display, properties=properties, seen_at=from_ms(artifact.updated_ms),
                                  raw=_raw("mlmd.artifact", artifact.id, artifact.raw), older_never_overwrites=True)]
    if key.kind == NodeKind.MODEL_VERSION:
        model_name = str(artifact.properties.get("model_name") or "")
        if not model_name and pipeline_name:
            model_name = f"{pipeline_name}/{display or 'model'}"
        if model_name:
            facts.append(store.NodeFact(key=keys.model(model_name), name=model_name, namespace=keys.instance,
                                        properties={"kfp_kind": "model"}, seen_at=from_ms(artifact.created_ms)))
            facts.append(store.EdgeFact(EdgeKind.VERSION_OF, key, keys.model(model_name), SOURCE,
                                        valid_from=from_ms(artifact.created_ms)))
    return facts


def _parent_key(keys: Keys, execution: ExecutionRecord, batch: ExecutionBatch, by_id: dict) -> store.NodeKey | None:
    parent_id = execution.parent_dag_id
    if parent_id is None:
        return None
    parent = by_id.get(parent_id) or batch.parents.get(parent_id)
    if parent is not None and parent.is_run_root:
        return keys.run(parent.run_id or parent.name[len("run/"):])
    if parent is None and execution.run_id and parent_id == 0:
        return keys.run(execution.run_id)
    return keys.execution(parent_id)


def execution_facts(keys: Keys, batch: ExecutionBatch) -> list:
    """Facts for one page of executions: artefact nodes first, then execution nodes, then edges.

    An execution's raw record holds the execution AND its events as ML Metadata returned them: the events
    are what its edges come from, and one record per execution (not one per event) halves the raw rows a
    harvest writes without losing a byte of what the source said.
    """
    facts: list = []
    by_id = {e.id: e for e in batch.executions}
    events_of: dict[int, list[EventRecord]] = {}
    pipeline_of_artifact: dict[int, str] = {}
    for ev in batch.events:
        events_of.setdefault(ev.execution_id, []).append(ev)
        ex = by_id.get(ev.execution_id)
        if ex and ev.type == "OUTPUT":
            pipeline_of_artifact.setdefault(ev.artifact_id, ex.pipeline_name)
    for artifact in batch.artifacts.values():
        facts += artifact_facts(keys, artifact, pipeline_name=pipeline_of_artifact.get(artifact.id, ""))
    raws = {ex.id: _raw("mlmd.execution", ex.id, {"execution": ex.raw, "events": [ev.raw for ev in events_of.get(ex.id, [])]})
            for ex in batch.executions}
    for ex in batch.executions:
        facts += _execution_node(keys, ex, batch, by_id, raws[ex.id])
    for ev in batch.events:
        ex = by_id.get(ev.execution_id)
        artifact = batch.artifacts.get(ev.artifact_id)
        if ex is None or artifact is None:
            continue
        edge = _event_edge(keys, ex, artifact, ev, raws[ex.id])
        if edge is not None:
            facts.append(edge)
    return facts


def _execution_node(keys: Keys, ex: ExecutionRecord, batch: ExecutionBatch, by_id: dict, raw) -> list:
    created, updated = from_ms(ex.created_ms), from_ms(ex.updated_ms)
    if ex.is_run_root:
        run_id = ex.run_id or ex.name[len("run/"):]
        props = {"mlmd_execution_id": ex.id, "mlmd_state": ex.state, "pipeline_name": ex.pipeline_name,
                 "mlmd_inputs": ex.properties.get("inputs"), "mlmd_outputs": ex.properties.get("outputs"),
                 "mlmd_updated_at": iso(updated)}
        # The run node is the KFP API's too, whose `seen_at` (the run's finish) is another clock: an older read
        # of the root execution is told by its own update time.
        return [store.NodeFact(key=keys.run(run_id), name=run_id, properties=props, seen_at=updated, raw=raw,
                               newer_by="mlmd_updated_at")]
    task = str(ex.properties.get("task_name") or ex.properties.get("display_name") or ex.name or ex.id)
    props = {
        "kfp_kind": "task", "mlmd_execution_id": ex.id, "mlmd_type": ex.type, "state": ex.state, "run_id": ex.run_id,
        "pipeline_name": ex.pipeline_name, "task_name": task, "parent_dag_id": ex.parent_dag_id,
        "pod_name": ex.properties.get("pod_name") or "", "cache_fingerprint": ex.properties.get("cache_fingerprint") or "",
        # KFP's launcher records the container image a task ran (custom property `image`).
        "image": ex.properties.get("image") or "",
        "cached_execution_id": ex.cached_execution_id, "inputs": ex.properties.get("inputs"),
        "outputs": ex.properties.get("outputs"), "created_at": iso(created), "updated_at": iso(updated),
    }
    facts: list = [store.NodeFact(key=keys.execution(ex.id), name=f"{ex.run_id}/{task}" if ex.run_id else task,
                                  namespace=keys.instance, display_name=str(ex.properties.get("display_name") or task),
                                  properties=props, seen_at=updated, raw=raw, older_never_overwrites=True)]
    parent = _parent_key(keys, ex, batch, by_id)
    if parent is None and ex.run_id:
        parent = keys.run(ex.run_id)
    if parent is not None:
        facts.append(store.EdgeFact(EdgeKind.PARENT_OF, parent, keys.execution(ex.id), SOURCE, valid_from=created))
    return facts


def _event_edge(keys: Keys, ex: ExecutionRecord, artifact: ArtifactRecord, ev: EventRecord, raw):
    task = keys.run(ex.run_id or ex.name[4:]) if ex.is_run_root else keys.execution(ex.id)
    art = keys.artifact(artifact)
    props = {"path": ev.path, "event": ev.type}
    at = from_ms(ev.ms)
    if ev.type == "INPUT":
        return store.EdgeFact(EdgeKind.CONSUMED, art, task, SOURCE, valid_from=at, properties=props, raw=raw)
    if ev.type != "OUTPUT":
        return None
    if ex.state == "CACHED" or ex.cached_execution_id:
        props["cached_execution_id"] = ex.cached_execution_id
        return store.EdgeFact(EdgeKind.REUSED_FROM_CACHE, art, task, SOURCE, valid_from=at, properties=props, raw=raw)
    if ex.type == "system.ImporterExecution":
        return store.EdgeFact(EdgeKind.CONSUMED, art, task, SOURCE, valid_from=at, properties={**props, "importer": True},
                              raw=raw)
    return store.EdgeFact(EdgeKind.PRODUCED, task, art, SOURCE, valid_from=at, properties=props, raw=raw)
