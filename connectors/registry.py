"""Connector kinds and the plugin module that builds each.

A plugin module exposes:
    add_arguments(parser)            ad-hoc CLI arguments for `manage.py harvest <kind> ...`
    from_options(options) -> Connector          build from those CLI options
    from_config(config: ConnectorConfig) -> Connector   build from a configured connector (settings + secrets)
    validate(settings: dict, secrets: dict) -> None     raise ValueError with a clear message when invalid
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
