"""The connectors as governance sees them through common.sources (installed by ConnectorsConfig.ready()):
governance may not import this app, which imports governance."""
from __future__ import annotations

from common.sources import Unavailable
from connectors import registry
from connectors.models import ConnectorConfig


def configured(kinds: tuple[str, ...] = ()) -> list[ConnectorConfig]:
    configs = ConnectorConfig.objects.order_by("pk")
    return list(configs.filter(kind__in=kinds) if kinds else configs)


def execute_promotion(config: ConnectorConfig, node, action: dict):
    try:
        module = registry.plugin(config.kind)
    except (ImportError, ValueError) as exc:
        raise Unavailable(f"connector plugin {config.kind!r} unavailable: {exc}") from exc
    execute = getattr(module, "execute_promotion", None)
    if execute is None:
        raise Unavailable(f"connector plugin {config.kind!r} cannot execute promotions")
    return execute(config, node, action)
