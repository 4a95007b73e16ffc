"""Acting on MLflow for an approved promotion: point a registered-model alias at the version and tag it.

    stage policy source_actions: {"mlflow": {"action": "set_alias", "alias": "production",
                                             "tags": {"approved_stage": "production"}}}   (tags optional)

Only for connectors with write-back enabled. Idempotent: an alias already on the version and tags already
set are reported "unchanged", not written again. Every attempt, failed or not, leaves an audit entry, written
right after MLflow answered (the remote write cannot share our transaction). Without `tags`, the version is
tagged `lineage_ledger.promoted_to=<alias>` so a reader of MLflow sees who moved the alias.
"""
from __future__ import annotations

import re

from django.db import transaction

from connectors.mlflow import mapping
from common.audit import record

ACTIONS = ("set_alias",)
ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,254}$")
DEFAULT_TAG = "lineage_ledger.promoted_to"


def execute_promotion(config, node, action: dict, *, reader=None) -> dict:
    name = (action or {}).get("action")
    if name not in ACTIONS:
        raise ValueError(f"unknown MLflow write-back action {name!r}; known: {', '.join(ACTIONS)}")
    if config.kind != "mlflow":
        raise ValueError(f"connector {config.name!r} is a {config.kind} connector, not an MLflow one")
    if not config.write_back_enabled:
        raise PermissionError(f"write-back is disabled on connector {config.name!r}; an admin must enable it "
                              "before approvals can act on MLflow")
    alias = str(action.get("alias") or "").strip()
    if not ALIAS.match(alias) or alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
        raise ValueError(f"an MLflow alias is a name like 'production' (not 'latest' or v<number>), not {alias!r}")
    tags = action.get("tags") or {DEFAULT_TAG: alias}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and k for k in tags):
        raise ValueError('tags must be an object of tag names to values, e.g. {"approved_stage": "production"}')
    props = node.properties or {}
    if node.source != mapping.SOURCE or node.kind != "model_version" or not props.get("model_name"):
        raise ValueError(f"node {node.pk} is not an MLflow model version")
    model, version = props["model_name"], str(props["version_name"])
    if reader is None:
        from connectors.mlflow import plugin

        reader = plugin.build(config.settings, config.secrets).reader
    before = {"model": model, "version": version, "action": dict(action)}
    try:
        result = _set_alias(reader, model, version, alias, {str(k): str(v) for k, v in tags.items()})
    except Exception as exc:
        _audit(node, before, {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:2000]}, config)
        raise
    _audit(node, before, result, config)
    return result


def _set_alias(reader, model: str, version: str, alias: str, tags: dict) -> dict:
    from mlflow.exceptions import MlflowException

    c = reader.client
    current = reader.call("get_model_version", lambda: c.get_model_version(model, version))
    try:
        holder = reader.call("get_model_version_by_alias", lambda: c.get_model_version_by_alias(model, alias))
        previous = str(holder.version)
    except Exception as exc:
        if not isinstance(getattr(exc, "__cause__", None), MlflowException) and not isinstance(exc, MlflowException):
            raise
        previous = None
    changed = []
    if previous != version:
        reader.call("set_registered_model_alias", lambda: c.set_registered_model_alias(model, alias, version))
        changed.append("alias")
    for key, value in tags.items():
        if (current.tags or {}).get(key) != value:
            reader.call("set_model_version_tag", lambda key=key, value=value: c.set_model_version_tag(model, version, key, value))
            changed.append(f"tag:{key}")
    return {"action": "set_alias", "status": "done" if changed else "unchanged", "model": model, "version": version,
            "alias": alias, "previous_version": previous, "tags": tags, "changed": changed}


def _audit(node, before, after, config):
    with transaction.atomic():
        record("mlflow.writeback.set_alias", "lineage.node", node.pk, before=before,
               after={**after, "connector": config.name}, reason=f"approved promotion via connector {config.name}")
