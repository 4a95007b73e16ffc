"""Small lineage graphs and stage policies for the approvals tests (and the others that need a governed
node), written through the one store write path."""
from __future__ import annotations

from lineage import store
from lineage.kinds import EdgeKind, NodeKind
from lineage.models import Node

SOURCE = "manual"


def key(kind: str, source_id: str, source: str = SOURCE) -> store.NodeKey:
    return store.NodeKey(source, kind, source_id)


def node(kind: str, source_id: str, properties: dict | None = None, source: str = SOURCE, name: str = "",
         namespace: str = "") -> Node:
    k = key(kind, source_id, source)
    result = store.apply([store.NodeFact(key=k, name=name or source_id, namespace=namespace,
                                         properties=properties or {})])
    return result.nodes[k]


def edge(kind: str, src: Node, dst: Node) -> None:
    store.apply([store.EdgeFact(kind, store.NodeKey(src.source, src.kind, src.source_id),
                                store.NodeKey(dst.source, dst.kind, dst.source_id), src.source)])


def trained_model(prefix: str = "m", *, run_state: str = "SUCCEEDED", metrics: dict | None = None,
                  properties: dict | None = None, source: str = SOURCE) -> dict[str, Node]:
    """dataset -consumed-> train run -produced-> model version (+ metrics node when `metrics`)."""
    data = node(NodeKind.DATASET, f"{prefix}-data", source=source)
    run = node(NodeKind.RUN, f"{prefix}-run", {"state": run_state}, source=source)
    mv = node(NodeKind.MODEL_VERSION, f"{prefix}-mv", properties or {}, source=source)
    edge(EdgeKind.CONSUMED, data, run)
    edge(EdgeKind.PRODUCED, run, mv)
    made = {"data": data, "run": run, "mv": mv}
    if metrics is not None:
        m = node(NodeKind.METRICS, f"{prefix}-metrics", {"metrics": metrics}, source=source)
        edge(EdgeKind.PRODUCED, run, m)
        made["metrics"] = m
    return made


def set_policy(stage: str, **changes):
    from governance.approvals.models import StagePolicy

    policy = StagePolicy.objects.get(stage__name=stage)
    for attr, value in changes.items():
        setattr(policy, attr, value)
    policy.save()
    return policy


def open_policy(stage: str, approvals: int = 1, **changes):
    """A policy with every gate off, so a test can look at one rule at a time."""
    closed = {"require_producing_run": False, "max_training_hops": None, "required_metrics": {},
              "forbid_failed_runs": False, "require_evidence_archived": False, "expiry_hours": None,
              "source_actions": {}}
    return set_policy(stage, required_approvals=approvals, **{**closed, **changes})


def ensure_default_stages() -> None:
    """Recreate the data migration's stages and policies: transactional tests flush every table after
    themselves, so a test running after one cannot count on migration data."""
    import importlib

    from django.apps import apps

    importlib.import_module("governance.approvals.migrations.0002_default_stages").create(apps, None)
