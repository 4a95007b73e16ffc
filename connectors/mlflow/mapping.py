"""MLflow entities → lineage store facts, by the direction rule in lineage/kinds.py.

    experiment -contains-> run;  parent run -parent_of-> child run (mlflow.parentRunId)
    dataset_version -consumed{context}-> run;  dataset_version -version_of-> dataset
    run -produced-> metrics (the run's latest values: what approval metric gates read)
    run -produced-> logged model (artifact);  run -produced-> model version
    model version -version_of-> registered model

Node ids are `<instance>/<kind>/<MLflow id>`, the instance being the tracking server's host:port (or the
connector's name), so two MLflow servers never collide and approvals find a version's connector by it. A
registered model version is keyed by (model name, version number), as MLflow names it. Every fact carries
the MLflow entity it came from (RawPayload source "mlflow").
"""
from __future__ import annotations

import datetime as dt
import json

from lineage import store
from lineage.kinds import EdgeKind, NodeKind

SOURCE = "mlflow"
TAG_GIT_COMMIT = "mlflow.source.git.commit"
TAG_SOURCE_NAME = "mlflow.source.name"
TAG_SOURCE_TYPE = "mlflow.source.type"
TAG_RUN_NAME = "mlflow.runName"
TAG_USER = "mlflow.user"
TAG_PARENT = "mlflow.parentRunId"
TAG_CONTEXT = "mlflow.data.context"


class Keys:
    def __init__(self, instance: str):
        self.instance = instance

    def _key(self, kind, suffix) -> store.NodeKey:
        return store.NodeKey(SOURCE, kind, f"{self.instance}/{suffix}")

    def experiment(self, experiment_id):
        return self._key(NodeKind.PROJECT, f"experiment/{experiment_id}")

    def run(self, run_id):
        return self._key(NodeKind.RUN, f"run/{run_id}")

    def metrics(self, run_id):
        return self._key(NodeKind.METRICS, f"run/{run_id}/metrics")

    def dataset(self, name):
        return self._key(NodeKind.DATASET, f"dataset/{name}")

    def dataset_version(self, name, digest):
        return self._key(NodeKind.DATASET_VERSION, f"dataset/{name}/{digest}")

    def logged_model(self, model_id):
        return self._key(NodeKind.ARTIFACT, f"logged_model/{model_id}")

    def model(self, name):
        return self._key(NodeKind.MODEL, f"model/{name}")

    def model_version(self, name, version):
        return self._key(NodeKind.MODEL_VERSION, f"model/{name}/version/{version}")


def iso(millis) -> str | None:
    if millis in (None, "", 0):
        return None
    return dt.datetime.fromtimestamp(int(millis) / 1000, tz=dt.timezone.utc).isoformat()


def when(millis) -> dt.datetime | None:
    if millis in (None, "", 0):
        return None
    return dt.datetime.fromtimestamp(int(millis) / 1000, tz=dt.timezone.utc)


def raw(kind: str, source_id, body) -> store.RawPayload:
    return store.RawPayload(SOURCE, f"mlflow.{kind}", str(source_id), body)


def _stage(value) -> str:
    return str(getattr(value, "value", value) or "")


# -- entities as plain JSON (what the raw record keeps and what the signatures hash) -------------------------
def experiment_body(exp) -> dict:
    return {"experiment_id": exp.experiment_id, "name": exp.name, "artifact_location": exp.artifact_location,
            "lifecycle_stage": exp.lifecycle_stage, "tags": dict(exp.tags or {}),
            "creation_time": exp.creation_time, "last_update_time": exp.last_update_time}


def run_body(run) -> dict:
    info, data = run.info, run.data
    inputs = getattr(run, "inputs", None)
    outputs = getattr(run, "outputs", None)
    return {
        "run_id": info.run_id, "run_name": info.run_name, "experiment_id": info.experiment_id,
        "status": info.status, "start_time": info.start_time, "end_time": info.end_time, "user_id": info.user_id,
        "lifecycle_stage": info.lifecycle_stage, "artifact_uri": info.artifact_uri,
        "params": dict(data.params or {}), "tags": dict(data.tags or {}),
        "metrics": _latest_metrics(data),
        "dataset_inputs": [
            {"name": d.dataset.name, "digest": d.dataset.digest, "source_type": d.dataset.source_type,
             "source": d.dataset.source, "schema": d.dataset.schema or "", "profile": d.dataset.profile or "",
             "tags": {t.key: t.value for t in d.tags or []}}
            for d in (getattr(inputs, "dataset_inputs", None) or [])],
        "model_inputs": [m.model_id for m in (getattr(inputs, "model_inputs", None) or [])],
        "model_outputs": [{"model_id": m.model_id, "step": m.step} for m in (getattr(outputs, "model_outputs", None) or [])],
    }


def _latest_metrics(data) -> dict:
    objects = getattr(data, "_metric_objs", None)
    if objects is None:  # not the SDK's RunData: only the values are known
        return {k: {"value": v} for k, v in sorted((data.metrics or {}).items())}
    return {m.key: {"value": m.value, "step": m.step, "timestamp": m.timestamp}
            for m in sorted(objects, key=lambda m: m.key)}


def logged_model_body(model) -> dict:
    return {"model_id": model.model_id, "name": model.name, "experiment_id": model.experiment_id,
            "source_run_id": model.source_run_id, "artifact_location": model.artifact_location,
            "model_uri": model.model_uri, "model_type": model.model_type, "status": _stage(model.status),
            "tags": dict(model.tags or {}), "params": dict(model.params or {}),
            "metrics": [{"key": m.key, "value": m.value, "step": m.step} for m in (model.metrics or [])],
            "creation_timestamp": model.creation_timestamp, "last_updated_timestamp": model.last_updated_timestamp}


def registered_model_body(model) -> dict:
    aliases = model.aliases or {}
    if isinstance(aliases, list):  # older servers: a list of RegisteredModelAlias
        aliases = {a.alias: a.version for a in aliases}
    return {"name": model.name, "description": model.description or "", "tags": dict(model.tags or {}),
            "aliases": {str(k): str(v) for k, v in sorted(aliases.items())},
            "creation_timestamp": model.creation_timestamp, "last_updated_timestamp": model.last_updated_timestamp}


def model_version_body(version, aliases: list[str]) -> dict:
    return {"name": version.name, "version": str(version.version), "source": version.source or "",
            "run_id": version.run_id or "", "run_link": version.run_link or "",
            "model_id": getattr(version, "model_id", None) or "", "current_stage": version.current_stage or "",
            "status": version.status or "", "description": version.description or "", "user_id": version.user_id or "",
            "tags": dict(version.tags or {}), "aliases": sorted(set(aliases) | set(version.aliases or [])),
            "creation_timestamp": version.creation_timestamp, "last_updated_timestamp": version.last_updated_timestamp}


def signature(body: dict) -> str:
    return store.canonical_digest(body)[:20]


# -- facts -----------------------------------------------------------------------------------------------
def experiment_facts(keys: Keys, body: dict) -> list:
    props = {"mlflow_kind": "experiment", "experiment_id": body["experiment_id"],
             "artifact_location": body.get("artifact_location") or "", "lifecycle_stage": body.get("lifecycle_stage"),
             "deleted": body.get("lifecycle_stage") == "deleted", "tags": body.get("tags") or {},
             "created": iso(body.get("creation_time")), "modified": iso(body.get("last_update_time"))}
    return [store.NodeFact(key=keys.experiment(body["experiment_id"]), name=body.get("name") or body["experiment_id"],
                           namespace=keys.instance, properties=props,
                           seen_at=when(body.get("last_update_time") or body.get("creation_time")),
                           raw=raw("experiment", body["experiment_id"], body), replace_properties=True)]


def history_summary(points: list) -> dict:
    """The step history of one metric in a few numbers (the series itself stays in MLflow)."""
    if not points:
        return {"count": 0}
    points = sorted(points, key=lambda m: (m.step, m.timestamp))
    values = [p.value for p in points]
    finite = [v for v in values if v == v and v not in (float("inf"), float("-inf"))]
    summary = {"count": len(points), "first_step": points[0].step, "last_step": points[-1].step,
               "first_value": _number(points[0].value), "last_value": _number(points[-1].value)}
    if finite:
        summary["min"] = min(finite)
        summary["max"] = max(finite)
    return summary


def _number(value):
    """JSON has no NaN/Infinity: MLflow allows them in metrics, so they are kept as strings."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    return value


def run_facts(keys: Keys, body: dict, histories: dict[str, dict]) -> list:
    run_id = body["run_id"]
    tags = body.get("tags") or {}
    payload = raw("run", run_id, body)
    metrics = {}
    for key, latest in (body.get("metrics") or {}).items():
        entry = {name: _number(value) for name, value in latest.items()}
        if key in histories:
            entry["history"] = histories[key]
        metrics[key] = entry
    props = {
        "mlflow_kind": "run", "run_id": run_id, "run_name": body.get("run_name") or tags.get(TAG_RUN_NAME) or "",
        "experiment_id": body.get("experiment_id"), "status": body.get("status"),
        "start_time": iso(body.get("start_time")), "end_time": iso(body.get("end_time")),
        "user": body.get("user_id") or tags.get(TAG_USER) or "", "lifecycle_stage": body.get("lifecycle_stage"),
        "deleted": body.get("lifecycle_stage") == "deleted", "artifact_uri": body.get("artifact_uri") or "",
        "parameters": body.get("params") or {}, "metrics": metrics, "tags": tags,
        "git_commit": tags.get(TAG_GIT_COMMIT, ""), "source_name": tags.get(TAG_SOURCE_NAME, ""),
        "source_type": tags.get(TAG_SOURCE_TYPE, ""),
        "datasets": [{k: d.get(k) for k in ("name", "digest", "source_type", "source")} | {"context": d["tags"].get(TAG_CONTEXT, "")}
                     for d in body.get("dataset_inputs") or []],
        "logged_models": [m["model_id"] for m in body.get("model_outputs") or []],
    }
    rkey = keys.run(run_id)
    started = when(body.get("start_time"))
    facts: list = [store.NodeFact(key=rkey, name=props["run_name"] or run_id, namespace=keys.instance,
                                  display_name=props["run_name"], properties=props,
                                  seen_at=when(body.get("end_time")) or started, raw=payload, replace_properties=True)]
    facts.append(store.EdgeFact(EdgeKind.CONTAINS, keys.experiment(body["experiment_id"]), rkey, SOURCE,
                                valid_from=started, raw=payload))
    if tags.get(TAG_PARENT):
        facts.append(store.EdgeFact(EdgeKind.PARENT_OF, keys.run(tags[TAG_PARENT]), rkey, SOURCE,
                                    valid_from=started, raw=payload))
    if metrics:
        # A metrics node beside the run, as Kubeflow's metrics artefacts are: approvals' metric gates find
        # the values of the run that produced a model version there (governance/approvals/gates.py).
        values = {key: entry.get("value") for key, entry in metrics.items()
                  if isinstance(entry.get("value"), (int, float))}
        mkey = keys.metrics(run_id)
        facts.append(store.NodeFact(key=mkey, name=f"{props['run_name'] or run_id} metrics", namespace=keys.instance,
                                    properties={"mlflow_kind": "metrics", "run_id": run_id, "metrics": values},
                                    seen_at=when(body.get("end_time")) or started, raw=payload,
                                    replace_properties=True))
        facts.append(store.EdgeFact(EdgeKind.PRODUCED, rkey, mkey, SOURCE, valid_from=started, raw=payload))
    for d in body.get("dataset_inputs") or []:
        name, digest = d.get("name") or "dataset", d.get("digest") or "-"
        dkey, vkey = keys.dataset(name), keys.dataset_version(name, digest)
        dprops = {"mlflow_kind": "dataset", "name": name}
        vprops = {"mlflow_kind": "dataset_version", "name": name, "digest": digest,
                  "source_type": d.get("source_type") or "", "source": d.get("source") or "",
                  "uri": _source_uri(d.get("source")), "schema": d.get("schema") or "", "profile": d.get("profile") or ""}
        facts.append(store.NodeFact(key=dkey, name=name, namespace=keys.instance, properties=dprops))
        facts.append(store.NodeFact(key=vkey, name=f"{name}@{digest}", namespace=keys.instance, properties=vprops,
                                    replace_properties=True))
        facts.append(store.EdgeFact(EdgeKind.VERSION_OF, vkey, dkey, SOURCE, valid_from=started))
        facts.append(store.EdgeFact(EdgeKind.CONSUMED, vkey, rkey, SOURCE, valid_from=started,
                                    properties={"context": (d.get("tags") or {}).get(TAG_CONTEXT, "")}, raw=payload))
    return facts


def _source_uri(source) -> str:
    """MLflow dataset sources are JSON ({"uri": ...}, {"url": ...}, {"path": ...}); the location if any."""
    try:
        value = json.loads(source) if isinstance(source, str) else source
    except ValueError:
        return str(source or "")
    if isinstance(value, dict):
        for name in ("uri", "url", "path", "table_name"):
            if value.get(name):
                return str(value[name])
    return ""


def logged_model_facts(keys: Keys, body: dict) -> list:
    mid = body["model_id"]
    payload = raw("logged_model", mid, body)
    props = {"mlflow_kind": "logged_model", "model_id": mid, "uri": body.get("artifact_location") or "",
             "model_uri": body.get("model_uri") or "", "model_type": body.get("model_type") or "",
             "status": body.get("status"), "experiment_id": body.get("experiment_id"),
             "source_run_id": body.get("source_run_id") or "", "tags": body.get("tags") or {},
             "parameters": body.get("params") or {},
             "metrics": {m["key"]: {"value": _number(m["value"]), "step": m["step"]} for m in body.get("metrics") or []},
             "created": iso(body.get("creation_timestamp")), "modified": iso(body.get("last_updated_timestamp"))}
    mkey = keys.logged_model(mid)
    facts: list = [store.NodeFact(key=mkey, name=body.get("name") or mid, namespace=keys.instance,
                                  display_name=f"{body.get('name') or 'model'} ({mid})", properties=props,
                                  seen_at=when(body.get("last_updated_timestamp")), raw=payload, replace_properties=True)]
    if body.get("source_run_id"):
        facts.append(store.EdgeFact(EdgeKind.PRODUCED, keys.run(body["source_run_id"]), mkey, SOURCE,
                                    valid_from=when(body.get("creation_timestamp")), raw=payload))
    return facts


def registered_model_facts(keys: Keys, body: dict) -> list:
    props = {"mlflow_kind": "registered_model", "description": body.get("description") or "",
             "tags": body.get("tags") or {}, "aliases": body.get("aliases") or {}, "deleted": False,
             "created": iso(body.get("creation_timestamp")), "modified": iso(body.get("last_updated_timestamp"))}
    return [store.NodeFact(key=keys.model(body["name"]), name=body["name"], namespace=keys.instance, properties=props,
                           seen_at=when(body.get("last_updated_timestamp")), raw=raw("registered_model", body["name"], body),
                           replace_properties=True)]


def model_version_facts(keys: Keys, body: dict, *, logged_model: dict | None) -> list:
    name, version = body["name"], body["version"]
    payload = raw("model_version", f"{name}/{version}", body)
    vkey = keys.model_version(name, version)
    props = {"mlflow_kind": "model_version", "model_name": name, "version_name": version,
             "source_uri": body.get("source") or "", "run_id": body.get("run_id") or "",
             "run_link": body.get("run_link") or "", "model_id": body.get("model_id") or "",
             "stage": body.get("current_stage") or "", "status": body.get("status") or "",
             "aliases": body.get("aliases") or [], "tags": body.get("tags") or {},
             "description": body.get("description") or "", "created_by": body.get("user_id") or "",
             "created": iso(body.get("creation_timestamp")), "modified": iso(body.get("last_updated_timestamp")),
             "deleted": False}
    if logged_model:
        # A `models:/m-…` source names a logged model: where its files are is what other platforms see.
        props["artifact_uri"] = logged_model.get("artifact_location") or ""
        props["model_id"] = props["model_id"] or logged_model.get("model_id") or ""
    created = when(body.get("creation_timestamp"))
    facts: list = [store.NodeFact(key=vkey, name=f"{name} {version}", namespace=keys.instance, properties=props,
                                  seen_at=when(body.get("last_updated_timestamp")), raw=payload, replace_properties=True)]
    facts.append(store.EdgeFact(EdgeKind.VERSION_OF, vkey, keys.model(name), SOURCE, valid_from=created, raw=payload))
    if body.get("run_id"):
        facts.append(store.EdgeFact(EdgeKind.PRODUCED, keys.run(body["run_id"]), vkey, SOURCE, valid_from=created,
                                    raw=payload))
    return facts


def deleted_facts(key: store.NodeKey, kind: str, ident: str, now: dt.datetime) -> list:
    """An object gone from MLflow (a purged run, a deleted registered model or version): kept, marked."""
    return [store.NodeFact(key=key, name="", properties={"deleted": True, "deleted_seen": now.isoformat()},
                           raw=raw(f"{kind}.deleted", ident, {"id": ident, "deleted": True}))]
