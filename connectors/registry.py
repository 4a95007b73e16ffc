"""Connector kinds and the plugin module that builds each.

A plugin module exposes:
    add_arguments(parser)            ad-hoc CLI arguments for `manage.py harvest <kind> ...`
    from_options(options) -> Connector          build from those CLI options
    from_config(config: ConnectorConfig) -> Connector   build from a configured connector (settings + secrets)
    validate(settings: dict, secrets: dict) -> None     raise ValueError with a clear message when invalid
    NODE_STYLE = (border colour, border style)          how the dashboard draws the platform's nodes
and, optionally, hooks the shared code calls when present (docs/connectors.md has the checklist):
    plan_partitions, prepare_rest_partition, run_partition, finish_cursor    split a harvest for workers
    stitching_index(), stitching_copies(instance)       same-as rules (connectors/stitching.py)
    execute_promotion(config, node, action)             write-back of an approved promotion
    emit_openlineage(harvest)                           OpenLineage re-emission after a harvest

Connector kinds are the keys below: a new connector is its package and one line here, nothing else.
"""
from __future__ import annotations

import importlib

PLUGINS = {
    "kubeflow": "connectors.kubeflow.plugin",
    "viya": "connectors.viya.plugin",
    "mlflow": "connectors.mlflow.plugin",
}


def plugin(kind: str):
    try:
        return importlib.import_module(PLUGINS[kind])
    except KeyError:
        raise ValueError(f"unknown connector kind {kind!r}; known: {', '.join(sorted(PLUGINS))}") from None
