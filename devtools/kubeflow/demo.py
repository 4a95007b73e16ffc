"""Demo and test data: a KFP-shaped ML Metadata store written with `ml-metadata`, plus the matching KFP API
objects that `fake_api` serves.

The store is written the way KFP's driver and launcher write it (backend/src/v2/metadata/client.go):
types `system.*`, a `system.Pipeline` context per pipeline with a `system.PipelineRun` child context per run
(named after the KFP run id, the join key with the API), a root `system.DAGExecution` named `run/<run_id>`,
task executions created RUNNING by the driver with their INPUT events and published by the launcher with
their OUTPUT events and final state, custom properties `display_name`, `task_name`, `parent_dag_id`,
`pod_name`, `cache_fingerprint`, `cached_execution_id`, `inputs`, `outputs`, and cache hits as new CACHED
executions whose OUTPUT events point at the original artefacts.

`load_demo()` is what `make demo` calls: generate, serve the fake API in a thread, harvest both, stop.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

DEMO_NAMESPACE = uuid.UUID("6f1c1c52-4a4e-4c5e-9d3e-2f5a8b0c1d10")


def _uid(*parts) -> str:
    return str(uuid.uuid5(DEMO_NAMESPACE, "/".join(str(p) for p in parts)))


DEMO_KFP_RUN_ID = _uid("run", "churn-training", 1)
DEMO_MODEL_NAME = "churn-classifier"
DEMO_MODEL_URI = f"minio://mlpipeline/v2/artifacts/churn-training/{DEMO_KFP_RUN_ID}/train/model"
DEMO_MODEL_DIGEST = "sha256:" + hashlib.sha256(b"lineage-ledger demo churn-classifier weights v1").hexdigest()
DEMO_RAW_DATA_URI = "s3://datalake/raw/customers/2026-11-01.csv"
BASE_TIME = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.timezone.utc)
# The image each component ran: in the pipeline spec's deploymentSpec and, per execution, the launcher's
# `image` custom property (as KFP records them).
IMAGES = {"ingest": "registry.example.com/ml/churn-ingest@sha256:" + hashlib.sha256(b"ingest:1.4.0").hexdigest(),
          "train": "registry.example.com/ml/churn-train@sha256:" + hashlib.sha256(b"train:2.1.0").hexdigest(),
          "evaluate": "registry.example.com/ml/churn-eval@sha256:" + hashlib.sha256(b"eval:1.0.3").hexdigest()}

EXECUTION_TYPES = ("system.DAGExecution", "system.ContainerExecution", "system.ImporterExecution")
ARTIFACT_TYPES = ("system.Artifact", "system.Dataset", "system.Model", "system.Metrics",
                  "system.ClassificationMetrics", "system.HTML")
CONTEXT_TYPES = ("system.Pipeline", "system.PipelineRun")


def _rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------------------
# Writing ML Metadata as KFP does
# ---------------------------------------------------------------------------------------------------------
class KfpMetadataWriter:
    """A thin imitation of KFP's metadata client: the calls its driver and launcher make, in their order."""

    def __init__(self, path: str | Path):
        from ml_metadata.metadata_store import metadata_store
        from ml_metadata.proto import metadata_store_pb2 as pb

        self.pb = pb
        config = pb.ConnectionConfig()
        config.sqlite.filename_uri = str(path)
        config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.store = metadata_store.MetadataStore(config)
        self.types = {}
        for name in EXECUTION_TYPES:
            self.types[name] = self.store.put_execution_type(pb.ExecutionType(name=name))
        for name in ARTIFACT_TYPES:
            self.types[name] = self.store.put_artifact_type(pb.ArtifactType(name=name))
        for name in CONTEXT_TYPES:
            self.types[name] = self.store.put_context_type(pb.ContextType(name=name))
        self._pipelines: dict[str, object] = {}

    # -- values ----------------------------------------------------------------------------------------
    def value(self, v):
        pb = self.pb
        if isinstance(v, bool):
            return pb.Value(bool_value=v)
        if isinstance(v, int):
            return pb.Value(int_value=v)
        if isinstance(v, float):
            return pb.Value(double_value=v)
        if isinstance(v, str):
            return pb.Value(string_value=v)
        from google.protobuf import struct_pb2

        s = struct_pb2.Struct()
        s.update(v)
        return pb.Value(struct_value=s)

    def _set(self, target, values: dict):
        for key, v in values.items():
            if v is None:
                continue
            target[key].CopyFrom(self.value(v))

    # -- contexts --------------------------------------------------------------------------------------
    def pipeline_context(self, name: str, pipeline_root: str):
        if name not in self._pipelines:
            ctx = self.pb.Context(type_id=self.types["system.Pipeline"], name=name)
            self._set(ctx.custom_properties, {"pipeline_root": pipeline_root})
            [ctx.id] = self.store.put_contexts([ctx])
            self._pipelines[name] = ctx
        return self._pipelines[name]

    def run_context(self, pipeline_ctx, run_id: str, pipeline_root: str, namespace: str = "kubeflow"):
        ctx = self.pb.Context(type_id=self.types["system.PipelineRun"], name=run_id)
        self._set(ctx.custom_properties, {
            "pipeline_root": f"{pipeline_root}/{run_id}",
            "namespace": namespace,
            "resource_name": f"{pipeline_ctx.name}-{run_id[:5]}",
            "store_session_info": '{"Provider":"minio","Params":{"region":"minio","endpoint":"minio-service.kubeflow:9000"}}',
        })
        [ctx.id] = self.store.put_contexts([ctx])
        self.store.put_parent_contexts([self.pb.ParentContext(child_id=ctx.id, parent_id=pipeline_ctx.id)])
        return ctx

    # -- executions ------------------------------------------------------------------------------------
    def start(self, type_name: str, contexts, *, name: str = "", task_name: str = "", parent_dag_id: int | None = None,
              inputs: dict | None = None, input_artifacts: list | None = None, pod_name: str = "",
              cache_fingerprint: str = "", extra: dict | None = None):
        """The driver: create the execution RUNNING with its INPUT events."""
        pb = self.pb
        execution = pb.Execution(type_id=self.types[type_name], last_known_state=pb.Execution.RUNNING)
        if name:
            execution.name = name
        props = {"display_name": task_name, "task_name": task_name, "parent_dag_id": parent_dag_id,
                 "pod_name": pod_name or None, "cache_fingerprint": cache_fingerprint or None,
                 "inputs": inputs or None, **(extra or {})}
        self._set(execution.custom_properties, props)
        pairs = [(artifact, self.event(pb.Event.INPUT, key)) for key, artifact in (input_artifacts or [])]
        execution.id, _, _ = self.store.put_execution(execution, pairs, contexts, reuse_context_if_already_exist=True)
        return execution

    def publish(self, execution, contexts, *, state: str = "COMPLETE", outputs: dict | None = None,
                output_artifacts: list | None = None, extra: dict | None = None):
        """The launcher: final state, output parameters and OUTPUT events (new artefacts get their ids here)."""
        pb = self.pb
        execution.last_known_state = getattr(pb.Execution, state)
        self._set(execution.custom_properties, {"outputs": outputs or None, **(extra or {})})
        pairs = [(artifact, self.event(pb.Event.OUTPUT, key)) for key, artifact in (output_artifacts or [])]
        _, artifact_ids, _ = self.store.put_execution(execution, pairs, contexts, reuse_context_if_already_exist=True)
        for (_, artifact), artifact_id in zip(output_artifacts or [], artifact_ids):
            artifact.id = artifact_id
        return execution

    def event(self, event_type, key: str):
        ev = self.pb.Event(type=event_type)
        ev.path.steps.add().key = key
        return ev

    def artifact(self, type_name: str, uri: str, display_name: str, metadata: dict | None = None):
        artifact = self.pb.Artifact(type_id=self.types[type_name], uri=uri, state=self.pb.Artifact.LIVE)
        self._set(artifact.custom_properties, {"display_name": display_name, **(metadata or {})})
        return artifact


# ---------------------------------------------------------------------------------------------------------
# The demo scenario
# ---------------------------------------------------------------------------------------------------------
@dataclass
class DemoSource:
    """What was generated: the MLMD store path and the KFP API objects describing the same runs."""

    mlmd_path: Path
    experiments: list[dict] = field(default_factory=list)
    pipelines: list[dict] = field(default_factory=list)
    versions: list[dict] = field(default_factory=list)
    runs: list[dict] = field(default_factory=list)
    # Handy ids for tests: run_id -> {task name -> execution id}, and named artefact ids.
    executions: dict[str, dict[str, int]] = field(default_factory=dict)
    artifacts: dict[str, int] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        import json

        body = {k: getattr(self, k) for k in ("experiments", "pipelines", "versions", "runs", "executions", "artifacts")}
        Path(path).write_text(json.dumps(body))

    @classmethod
    def load(cls, mlmd_path: Path, path: Path) -> "DemoSource":
        import json

        return cls(mlmd_path=Path(mlmd_path), **json.loads(Path(path).read_text()))


class _Scenario:
    def __init__(self, path: Path):
        self.w = KfpMetadataWriter(path)
        self.src = DemoSource(mlmd_path=path)
        self.experiment_id = _uid("experiment", "default")
        self.src.experiments.append({
            "experiment_id": self.experiment_id, "display_name": "Default", "description": "Demo experiment",
            "created_at": _rfc3339(BASE_TIME - dt.timedelta(days=1)), "namespace": "kubeflow",
            "storage_state": "AVAILABLE",
        })
        self._versions: dict[str, dict] = {}

    def pipeline(self, name: str, description: str) -> dict:
        if name in self._versions:
            return self._versions[name]
        pipeline_id = _uid("pipeline", name)
        version_id = _uid("pipeline-version", name, "v1")
        created = _rfc3339(BASE_TIME - dt.timedelta(hours=len(self._versions) + 1))
        self.src.pipelines.append({"pipeline_id": pipeline_id, "display_name": name, "name": name,
                                   "description": description, "created_at": created, "namespace": "kubeflow"})
        version = {"pipeline_id": pipeline_id, "pipeline_version_id": version_id, "display_name": f"{name} v1",
                   "name": f"{name}-v1", "description": f"First version of {name}", "created_at": created,
                   "code_source_url": f"https://git.example.com/ml/{name}/tree/v1",
                   "pipeline_spec": {"pipelineInfo": {"name": name}, "schemaVersion": "2.1.0",
                                     "sdkVersion": "kfp-2.13.0",
                                     "deploymentSpec": {"executors": {
                                         f"exec-{task}": {"container": {"image": image, "command": ["python", "-m", task]}}
                                         for task, image in IMAGES.items()}}}}
        self.src.versions.append(version)
        self._versions[name] = version
        return version

    def run(self, pipeline: str, index: int, *, state: str, parameters: dict, started: dt.datetime,
            minutes: int = 12, run_id: str | None = None) -> tuple[str, list, int]:
        version = self.pipeline(pipeline, f"Demo pipeline {pipeline}")
        run_id = run_id or _uid("run", pipeline, index)
        root = "minio://mlpipeline/v2/artifacts"
        pctx = self.w.pipeline_context(pipeline, f"{root}/{pipeline}")
        rctx = self.w.run_context(pctx, run_id, f"{root}/{pipeline}")
        contexts = [pctx, rctx]
        dag = self.w.start("system.DAGExecution", contexts, name=f"run/{run_id}", inputs={"parameterValues": parameters})
        finished = started + dt.timedelta(minutes=minutes)
        history = [{"update_time": _rfc3339(started), "state": "PENDING"},
                   {"update_time": _rfc3339(started + dt.timedelta(seconds=20)), "state": "RUNNING"}]
        if state in ("SUCCEEDED", "FAILED"):
            history.append({"update_time": _rfc3339(finished), "state": state})
        api_run = {
            "experiment_id": self.experiment_id, "run_id": run_id, "display_name": f"{pipeline} #{index}",
            "storage_state": "AVAILABLE", "description": f"Demo run {index} of {pipeline}",
            "pipeline_version_reference": {"pipeline_id": version["pipeline_id"],
                                           "pipeline_version_id": version["pipeline_version_id"]},
            "runtime_config": {"parameters": parameters, "pipeline_root": f"{root}/{pipeline}"},
            "service_account": "pipeline-runner", "created_at": _rfc3339(started),
            "scheduled_at": _rfc3339(started), "state": state, "state_history": history,
        }
        if state in ("SUCCEEDED", "FAILED"):
            api_run["finished_at"] = _rfc3339(finished)
        if state == "FAILED":
            api_run["error"] = {"code": 2, "message": "task validate failed: exit code 1", "details": []}
        self.src.runs.append(api_run)
        self.src.executions[run_id] = {"root": dag.id}
        return run_id, contexts, dag

    def task(self, run_id, contexts, parent, task_name, *, type_name="system.ContainerExecution", inputs=None,
             params=None, outputs=None, out_params=None, state="COMPLETE", fingerprint=True, logs=True):
        pod = f"{contexts[0].name}-{run_id[:5]}-{int(hashlib.md5(task_name.encode()).hexdigest()[:8], 16)}"
        fp = hashlib.sha256(f"{contexts[0].name}/{task_name}/{sorted((params or {}).items())}".encode()).hexdigest() if fingerprint else ""
        execution = self.w.start(type_name, contexts, task_name=task_name, parent_dag_id=parent.id,
                                 inputs={"parameterValues": params} if params else None,
                                 input_artifacts=inputs, pod_name=pod, cache_fingerprint=fp,
                                 extra={"image": IMAGES[task_name]} if task_name in IMAGES else None)
        produced = list(outputs or [])
        if logs and type_name == "system.ContainerExecution":
            produced.append(("executor-logs", self.w.artifact(
                "system.Artifact", f"minio://mlpipeline/logs/{run_id}/{task_name}/{pod}/main.log", "executor-logs")))
        self.w.publish(execution, contexts, state=state,
                       outputs={"parameterValues": out_params} if out_params else None, output_artifacts=produced)
        self.src.executions[run_id][task_name] = execution.id
        return execution

    def cached(self, run_id, contexts, parent, task_name, original, original_outputs, params=None):
        """A cache hit: the driver finds `original` by fingerprint and records a CACHED execution whose
        OUTPUT events point at the original's artefacts."""
        fp = original.custom_properties["cache_fingerprint"].string_value
        execution = self.w.start("system.ContainerExecution", contexts, task_name=task_name, parent_dag_id=parent.id,
                                 inputs={"parameterValues": params} if params else None, cache_fingerprint=fp,
                                 extra={"cached_execution_id": str(original.id)})
        self.w.publish(execution, contexts, state="CACHED", output_artifacts=original_outputs)
        self.src.executions[run_id][task_name] = execution.id
        return execution

    def finish(self, contexts, dag, state="COMPLETE"):
        self.w.publish(dag, contexts, state=state)


def _churn_run(s: _Scenario, index: int, raw, *, started, cached_ingest=None, run_id=None, model_meta=None):
    params = {"learning_rate": 0.05 * index, "max_depth": 6, "train_split": 0.8}
    run_id, ctx, dag = s.run("churn-training", index, state="SUCCEEDED", parameters=params, started=started,
                             run_id=run_id)
    importer = s.task(run_id, ctx, dag, "importer", type_name="system.ImporterExecution", outputs=[("artifact", raw)],
                      params={"uri": DEMO_RAW_DATA_URI}, fingerprint=False, logs=False)
    if cached_ingest is None:
        clean = s.w.artifact("system.Dataset", f"minio://mlpipeline/v2/artifacts/churn-training/{run_id}/ingest/clean_data",
                             "clean_data", {"rows": 120000, "format": "parquet"})
        ingest = s.task(run_id, ctx, dag, "ingest", inputs=[("raw_data", raw)], outputs=[("clean_data", clean)],
                        params={"drop_nulls": True})
    else:
        ingest_original, clean = cached_ingest
        ingest = s.cached(run_id, ctx, dag, "ingest", ingest_original, [("clean_data", clean)], params={"drop_nulls": True})
    uri = DEMO_MODEL_URI if run_id == DEMO_KFP_RUN_ID else f"minio://mlpipeline/v2/artifacts/churn-training/{run_id}/train/model"
    digest = DEMO_MODEL_DIGEST if run_id == DEMO_KFP_RUN_ID else "sha256:" + hashlib.sha256(uri.encode()).hexdigest()
    model = s.w.artifact("system.Model", uri, "model", {"model_name": DEMO_MODEL_NAME, "framework": "xgboost",
                                                        "uri": uri, "digest": digest, **(model_meta or {})})
    metrics = s.w.artifact("system.Metrics", f"minio://mlpipeline/v2/artifacts/churn-training/{run_id}/train/metrics",
                           "metrics", {"accuracy": 0.91 + 0.01 * index, "f1": 0.87, "auc": 0.94, "n_estimators": 200})
    s.task(run_id, ctx, dag, "train", inputs=[("dataset", clean)], outputs=[("model", model), ("metrics", metrics)],
           params=params)
    report = s.w.artifact("system.ClassificationMetrics",
                          f"minio://mlpipeline/v2/artifacts/churn-training/{run_id}/evaluate/report", "report",
                          {"confusionMatrix": {"annotationSpecs": [{"displayName": "stay"}, {"displayName": "churn"}],
                                               "rows": [{"row": [900, 40]}, {"row": [35, 300]}]}})
    s.task(run_id, ctx, dag, "evaluate", inputs=[("model", model), ("test_data", clean)], outputs=[("report", report)])
    s.finish(ctx, dag)
    s.src.artifacts.update({f"model#{index}": model.id, f"clean_data#{index}": clean.id, f"metrics#{index}": metrics.id})
    return run_id, ingest, clean, importer


def generate(path: str | Path) -> DemoSource:
    """The hand-written demo: three pipelines, five runs, a cache hit across runs, a failed task, nested DAGs."""
    path = Path(path)
    if path.exists():
        path.unlink()
    s = _Scenario(path)
    raw = s.w.artifact("system.Dataset", DEMO_RAW_DATA_URI, "artifact", {"source": "datalake", "owner": "crm-team"})
    _, ingest1, clean1, _ = _churn_run(s, 1, raw, started=BASE_TIME, run_id=DEMO_KFP_RUN_ID)
    s.src.artifacts["raw"] = raw.id
    _churn_run(s, 2, raw, started=BASE_TIME + dt.timedelta(hours=6), cached_ingest=(ingest1, clean1))

    # A failing data-quality pipeline: nested DAG, one task fails (executor logs but no outputs).
    run_id, ctx, dag = s.run("feature-quality", 1, state="FAILED", parameters={"threshold": 0.98},
                             started=BASE_TIME + dt.timedelta(hours=8), minutes=4)
    checks = s.w.start("system.DAGExecution", ctx, task_name="checks", parent_dag_id=dag.id)
    s.src.executions[run_id]["checks"] = checks.id
    profile = s.w.artifact("system.HTML", f"minio://mlpipeline/v2/artifacts/feature-quality/{run_id}/profile/report",
                           "profile_report")
    s.task(run_id, ctx, checks, "profile", inputs=[("data", raw)], outputs=[("profile_report", profile)])
    s.task(run_id, ctx, checks, "validate", inputs=[("data", raw)], state="FAILED", params={"threshold": 0.98})
    s.w.publish(checks, ctx, state="FAILED")
    s.finish(ctx, dag, state="FAILED")

    # A metrics-only pipeline whose second run is a cache hit of the first.
    run_id, ctx, dag = s.run("metrics-report", 1, state="SUCCEEDED", parameters={}, started=BASE_TIME + dt.timedelta(hours=9))
    m = s.w.artifact("system.Metrics", f"minio://mlpipeline/v2/artifacts/metrics-report/{run_id}/output-metrics/metrics",
                     "metrics", {"accuracy": 0.88})
    original = s.task(run_id, ctx, dag, "output-metrics", outputs=[("metrics", m)])
    s.finish(ctx, dag)
    run_id, ctx, dag = s.run("metrics-report", 2, state="SUCCEEDED", parameters={}, started=BASE_TIME + dt.timedelta(hours=10))
    s.cached(run_id, ctx, dag, "output-metrics", original, [("metrics", m)])
    s.finish(ctx, dag)
    return s.src


def generate_bulk(path: str | Path, runs: int) -> DemoSource:
    """A large store for benchmarks: `runs` runs of one training pipeline, each with 4 executions
    (root DAG, ingest, train, evaluate), 4 artefacts (data, model, metrics, evaluate's executor logs) and 9
    events, sharing one imported raw dataset."""
    path = Path(path)
    if path.exists():
        path.unlink()
    s = _Scenario(path)
    raw = s.w.artifact("system.Dataset", DEMO_RAW_DATA_URI, "artifact", {"source": "datalake"})
    _, seed_ctx, seed_dag = s.run("bulk-training", 0, state="SUCCEEDED", parameters={}, started=BASE_TIME)
    s.task(_uid("run", "bulk-training", 0), seed_ctx, seed_dag, "importer", type_name="system.ImporterExecution",
           outputs=[("artifact", raw)], fingerprint=False, logs=False)
    s.finish(seed_ctx, seed_dag)
    for i in range(1, runs + 1):
        params = {"learning_rate": 0.01 * (i % 10 + 1), "seed": i}
        run_id, ctx, dag = s.run("bulk-training", i, state="SUCCEEDED", parameters=params,
                                 started=BASE_TIME + dt.timedelta(minutes=i))
        clean = s.w.artifact("system.Dataset", f"minio://mlpipeline/bulk/{run_id}/clean", "clean_data", {"rows": 1000 + i})
        s.task(run_id, ctx, dag, "ingest", inputs=[("raw_data", raw)], outputs=[("clean_data", clean)], logs=False)
        model = s.w.artifact("system.Model", f"minio://mlpipeline/bulk/{run_id}/model", "model",
                             {"model_name": "bulk-model", "framework": "sklearn"})
        metrics = s.w.artifact("system.Metrics", f"minio://mlpipeline/bulk/{run_id}/metrics", "metrics",
                               {"accuracy": 0.5 + (i % 50) / 100})
        s.task(run_id, ctx, dag, "train", inputs=[("dataset", clean)], outputs=[("model", model), ("metrics", metrics)],
               params=params, logs=False)
        s.task(run_id, ctx, dag, "evaluate", inputs=[("model", model), ("dataset", clean), ("metrics", metrics)])
        s.finish(ctx, dag)
    return s.src


def load_demo(*, mlmd_path: str | Path | None = None, progress: bool = False) -> dict:
    """Generate the demo store, serve the fake KFP API in a thread, harvest both into the database, stop.

    Returns the harvest records' counts. Called by `make demo` (through the load_demo command).
    """
    from django.conf import settings

    from connectors.base import run_harvest
    from connectors.kubeflow.connector import KubeflowConnector
    from devtools.kubeflow.fake_api import FakeKfpServer
    from common.audit import context

    path = Path(mlmd_path or Path(settings.DATA_DIR) / "demo-kfp-mlmd.sqlite")
    api_path = path.with_suffix(".api.json")
    if path.exists() and api_path.exists():
        # Run twice, harvest twice: the same store again, so the second harvest is a no-op, not new history.
        source = DemoSource.load(path, api_path)
    else:
        source = generate(path)
        source.save(api_path)
    with FakeKfpServer.serving(source) as server, context.acting_as(
        context.AuditContext(username="demo", service="harvester:kubeflow")
    ):
        connector = KubeflowConnector.from_settings({"kfp_host": server.url, "mlmd_sqlite": str(path),
                                                     "instance": "demo"})
        harvest = run_harvest(connector)
    return {"harvest": harvest.pk, "status": harvest.status, "counts": harvest.counts}
