"""Node and edge kinds of the lineage store, and the one direction rule every mapper follows.

Direction rule: an edge always points downstream, the way data and artefacts flow. `src` is upstream of
`dst`. "Upstream of X" is therefore every node reachable by walking edges backwards from X, "downstream"
by walking them forwards. Mappers (OpenLineage, Kubeflow, Viya) choose src/dst by this rule:

- consumed:          dataset/artifact/model version  -> run   (the run read it)
- produced:          run  -> dataset/artifact/model version   (the run wrote it)
- reused_from_cache: artifact -> run  (a cached run reused an artefact an earlier run produced; it did
                     not produce it; the artefact stays produced by the original run)
- version_of:        version -> versioned thing (dataset_version -> dataset, model_version -> model)
- instance_of:       job -> run (a run is one execution of a job / pipeline / pipeline version)
- parent_of:         parent run -> child run (pipeline run -> task run; OpenLineage parent facet)
- deployed_as:       model_version -> deployment
- contains:          container -> member (project -> model, repository -> project)
- same_as:           original -> copy on another platform (Kubeflow model artifact -> Viya model version)
"""
from django.db import models


class NodeKind(models.TextChoices):
    JOB = "job"
    RUN = "run"
    DATASET = "dataset"
    DATASET_VERSION = "dataset_version"
    ARTIFACT = "artifact"
    METRICS = "metrics"
    MODEL = "model"
    MODEL_VERSION = "model_version"
    DEPLOYMENT = "deployment"
    PROJECT = "project"
    REPOSITORY = "repository"


class EdgeKind(models.TextChoices):
    CONSUMED = "consumed"
    PRODUCED = "produced"
    REUSED_FROM_CACHE = "reused_from_cache"
    VERSION_OF = "version_of"
    INSTANCE_OF = "instance_of"
    PARENT_OF = "parent_of"
    DEPLOYED_AS = "deployed_as"
    CONTAINS = "contains"
    SAME_AS = "same_as"


class Source(models.TextChoices):
    OPENLINEAGE = "openlineage"
    KUBEFLOW = "kubeflow"
    VIYA = "viya"
    MANUAL = "manual"
