"""Links back to a source's own user interface, where the source has one and we know its address.

The address comes from the connector that harvested the node (its `instance` names the node's source-id
prefix); a node harvested ad hoc (the CLI, the demo) has none, and then only a URL the source itself put in
the node's properties is offered. Nothing here guesses a host.
"""
from __future__ import annotations

from common import sources
from lineage.kinds import NodeKind, Source

URL_PROPERTIES = ("url", "external_url", "externalUrl", "source_url", "code_source_url")


def _instance(node) -> str:
    return (node.source_id or "").split("/", 1)[0]


def _connector_settings(kind: str, instance: str, cache: dict) -> dict | None:
    """Read once per card (`cache`: every connector in one query), never across requests: a connector edited
    a second ago counts."""
    if "connectors" not in cache:
        cache["connectors"] = {(c.kind, (c.settings or {}).get("instance", c.name)): dict(c.settings or {})
                               for c in sources.configured("kubeflow", "viya")}
    return cache["connectors"].get((kind, instance))


def source_links(node, properties: dict | None = None, cache: dict | None = None) -> list[dict]:
    """[{label, url}] for `node`: its source UI page (when its connector is known) and any URL the source
    recorded on it."""
    props = properties if properties is not None else (node.properties or {})
    cache = {} if cache is None else cache
    links: list[dict] = []
    if node.source == Source.KUBEFLOW:
        settings = _connector_settings("kubeflow", _instance(node), cache)
        host = (settings or {}).get("kfp_host", "").rstrip("/")
        if host and node.kind == NodeKind.RUN and props.get("run_id") and props.get("kfp_kind") == "run":
            links.append({"label": "Kubeflow run", "url": f"{host}/#/runs/details/{props['run_id']}"})
        elif host and node.kind == NodeKind.JOB and props.get("pipeline_id"):
            links.append({"label": "Kubeflow pipeline", "url": f"{host}/#/pipelines/details/{props['pipeline_id']}"})
    elif node.source == Source.VIYA:
        settings = _connector_settings("viya", _instance(node), cache)
        base = (settings or {}).get("url", "").rstrip("/")
        model_id = props.get("model_id") or (props.get("viya_id") if props.get("viya_kind") == "model" else None)
        if base and model_id:
            links.append({"label": "SAS Model Manager", "url": f"{base}/SASModelManager/models/{model_id}"})
    for name in URL_PROPERTIES:
        value = props.get(name)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            links.append({"label": name.replace("_", " "), "url": value})
    return links
