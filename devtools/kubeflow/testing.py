"""Helpers the Kubeflow tests and benchmarks share: harvest in one call, and a comparable store snapshot."""
from __future__ import annotations

from connectors.base import run_harvest
from connectors.kubeflow.connector import KubeflowConnector
from common.audit import context
from lineage.models import Edge, Node

FAST_RETRY = {"retry_attempts": 4, "retry_base_delay": 0.01, "retry_max_delay": 0.05}


def harvest(settings: dict, secrets: dict | None = None, *, page_hook=None, config=None):
    """One harvest as the harvester service actor; returns the Harvest record (raises on failure)."""
    connector = KubeflowConnector.from_settings({**FAST_RETRY, **settings}, secrets or {}, page_hook=page_hook)
    with context.acting_as(context.AuditContext(username="harvester", service="harvester:kubeflow")):
        return run_harvest(connector, config=config)


def snapshot() -> tuple[set, set]:
    """Nodes (kind, source_id, properties) and open edges (kind, src, dst, properties): what a harvest means."""
    import json

    nodes = {(n.kind, n.source_id, n.name, json.dumps(n.properties, sort_keys=True))
             for n in Node.objects.all()}
    edges = {(e.kind, e.src.source_id, e.dst.source_id, json.dumps(e.properties, sort_keys=True), e.valid_from)
             for e in Edge.objects.filter(valid_to__isnull=True).select_related("src", "dst")}
    return nodes, edges


__all__ = ["FAST_RETRY", "harvest", "snapshot"]
