"""Carrying an approved promotion out at the source (e.g. setting the Viya project champion).

Only when the stage policy maps the model version's source to an action AND a configured connector of that
source has write-back enabled; otherwise the promotion is recorded here only, and the Execution row says why.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from common import sources


@dataclass
class Plan:
    action: dict | None
    config: object | None  # a configured connector (common.sources.configured)
    note: str  # why nothing runs at the source, when nothing does

    @property
    def runs_at_source(self) -> bool:
        return self.action is not None and self.config is not None


def _matches(config, node) -> bool:
    """Connectors name the instance a node came from by the host[:port] of their URL (node namespace and
    source-id prefix), so that is how a node finds its connector when several of one kind exist."""
    for value in (config.settings or {}).values():
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            netloc = urlsplit(value).netloc
            if netloc and (node.namespace == netloc or node.source_id.startswith(netloc + "/")):
                return True
    return False


def plan(policy: dict, node) -> Plan:
    action = (policy.get("source_actions") or {}).get(node.source)
    if not action:
        return Plan(None, None, f"The {policy.get('stage')} policy maps no action for source {node.source!r}: "
                                "promotion recorded only.")
    configs = sources.configured(node.source)
    if not configs:
        return Plan(None, None, f"No connector of kind {node.source!r} is configured: promotion recorded only.")
    if len(configs) > 1:
        matching = [c for c in configs if _matches(c, node)]
        configs = matching or configs
        if len(configs) > 1:
            raise WriteBackError(f"{len(configs)} {node.source} connectors could own this model version "
                                 f"({', '.join(c.name for c in configs)}); none matches its namespace "
                                 f"{node.namespace!r}.")
    config = configs[0]
    if not config.enabled:
        return Plan(None, config, f"Connector {config.name} is disabled: promotion recorded only.")
    if not config.write_back_enabled:
        return Plan(None, config, f"Connector {config.name} does not have write-back enabled: promotion recorded only.")
    return Plan(dict(action), config, "")


class WriteBackError(Exception):
    pass


def perform(p: Plan, node):
    """Call the connector plugin (through common.sources); its answer (a JSON-able description of what it
    did) is returned."""
    try:
        return sources.execute_promotion(p.config, node, p.action)
    except sources.Unavailable as exc:
        raise WriteBackError(str(exc)) from exc
