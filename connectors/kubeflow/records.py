"""Source-neutral records of what a metadata backend knows about one KFP run's tasks and artefacts.

The mapper works on these, not on ML Metadata protos, because KFP plans to move artefacts out of ML
Metadata into its own API (kubeflow/pipelines proposal 12147): a second `MetadataReader` then only has to
fill these in.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ExecutionRecord:
    id: int
    type: str  # system.DAGExecution, system.ContainerExecution, system.ImporterExecution …
    name: str
    state: str  # NEW, RUNNING, COMPLETE, FAILED, CACHED, CANCELED
    created_ms: int
    updated_ms: int
    properties: dict  # custom properties as plain JSON values
    raw: dict
    run_id: str = ""  # the KFP run (system.PipelineRun context) this execution belongs to
    pipeline_name: str = ""  # the system.Pipeline context

    @property
    def parent_dag_id(self) -> int | None:
        value = self.properties.get("parent_dag_id")
        return int(value) if value not in (None, "", 0) else None

    @property
    def cached_execution_id(self) -> int | None:
        value = self.properties.get("cached_execution_id")
        return int(value) if value not in (None, "", 0) else None

    @property
    def is_run_root(self) -> bool:
        return self.type == "system.DAGExecution" and self.name.startswith("run/")


@dataclass
class ArtifactRecord:
    id: int
    type: str  # system.Dataset, system.Model, system.Metrics, system.Artifact, custom …
    uri: str
    name: str
    state: str
    created_ms: int
    updated_ms: int
    properties: dict
    raw: dict


@dataclass
class EventRecord:
    execution_id: int
    artifact_id: int
    type: str  # INPUT, OUTPUT
    path: str  # the artefact's name as the execution sees it (one-step path)
    ms: int
    raw: dict


@dataclass
class ExecutionBatch:
    """A page of executions with everything needed to map them without another round trip."""

    executions: list[ExecutionRecord]
    events: list[EventRecord] = field(default_factory=list)
    artifacts: dict[int, ArtifactRecord] = field(default_factory=dict)
    # Parent DAG executions of this page that are not on it (to tell a run root from a nested DAG).
    parents: dict[int, ExecutionRecord] = field(default_factory=dict)
