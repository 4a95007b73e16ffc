"""Real MLflow objects logged with MLflow's own client: runs with parameters, metric histories, tags,
dataset inputs and logged models; registered models, versions, aliases. Used by tests and the benchmark."""
from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path


def client(url: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=url, registry_uri=url)


@dataclass
class Logged:
    experiment_id: str
    runs: list = field(default_factory=list)        # run ids
    models: dict = field(default_factory=dict)      # run id -> logged model id
    versions: list = field(default_factory=list)    # (registered model name, version)


def log_run(c, experiment_id: str, *, name: str, params=None, losses=(0.9, 0.5, 0.3), tags=None,
            dataset=None, model=True, finish=True) -> tuple[str, str | None]:
    """One run as a training script logs it; returns (run id, logged model id)."""
    from mlflow.entities import Dataset, DatasetInput, InputTag, LoggedModelOutput

    run = c.create_run(experiment_id, run_name=name, tags={"mlflow.source.git.commit": "3f2a9c1",
                                                            "mlflow.source.name": "train.py",
                                                            "mlflow.source.type": "LOCAL", **(tags or {})})
    rid = run.info.run_id
    for key, value in (params or {"lr": "0.1", "depth": "6"}).items():
        c.log_param(rid, key, value)
    for step, loss in enumerate(losses):
        c.log_metric(rid, "loss", loss, step=step)
    c.log_metric(rid, "auc", 0.8 + 0.01 * len(losses), step=len(losses) - 1)
    if dataset is not None:
        ds_name, digest, uri = dataset
        ds = Dataset(name=ds_name, digest=digest, source_type="s3", source=f'{{"uri": "{uri}"}}',
                     schema='{"mlflow_colspec": [{"name": "age", "type": "long"}]}', profile='{"num_rows": 100}')
        c.log_inputs(rid, [DatasetInput(ds, [InputTag("mlflow.data.context", "training")])])
    model_id = None
    if model:
        logged = c.create_logged_model(experiment_id, name="model", source_run_id=rid, model_type="sklearn",
                                       params={"n_estimators": "10"})
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "MLmodel").write_text(f"model_id: {logged.model_id}\n")
            c.log_model_artifacts(logged.model_id, tmp)
        c.finalize_logged_model(logged.model_id, "READY")
        c.log_outputs(rid, [LoggedModelOutput(logged.model_id, len(losses) - 1)])
        model_id = logged.model_id
    if finish:
        c.set_terminated(rid)
    return rid, model_id


def register(c, name: str, run_id: str, model_id: str, *, description="", tags=None):
    from mlflow.exceptions import MlflowException

    try:
        c.create_registered_model(name, description=f"{name} registered model")
    except MlflowException:
        pass  # already there
    version = c.create_model_version(name, f"models:/{model_id}", run_id=run_id, model_id=model_id,
                                     description=description, tags=tags or {})
    return version.version


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
