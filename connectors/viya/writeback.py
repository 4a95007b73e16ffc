"""Acting on Viya for an approved promotion: set a project's champion, publish a model version.

Only for connectors with write-back enabled. Each call is idempotent (a champion already in place or a
publish already made for the same version and destination is reported, not repeated) and leaves an audit
entry whatever happens, because an auditor must see attempts that failed as well as those that worked. The
remote write cannot share our transaction, so the entry is written right after Viya answered.
"""
from __future__ import annotations

from urllib.parse import quote

from django.db import transaction

from connectors.viya.client import MODEL, ViyaClient, and_, eq
from connectors.viya.errors import ViyaConflict, ViyaError
from common.audit import record

ACTIONS = ("set_champion", "publish")
LIVE_PUBLISH_STATES = ("pending", "running", "completed", "succeeded", "published")


def execute_promotion(config, model_version_node, action: dict, *, client: ViyaClient | None = None) -> dict:
    """Carry out `action` ({"action": "set_champion"} or {"action": "publish", "destination": "maslocal"})
    for a Viya model version node. Raises PermissionError when write-back is off, ValueError on bad input,
    ViyaError when Viya refuses."""
    name = (action or {}).get("action")
    if name not in ACTIONS:
        raise ValueError(f"unknown Viya write-back action {name!r}; known: {', '.join(ACTIONS)}")
    if getattr(config, "kind", "viya") != "viya":
        raise ValueError(f"connector {config.name!r} is a {config.kind} connector, not a Viya one")
    if not config.write_back_enabled:
        raise PermissionError(f"write-back is disabled on connector {config.name!r}; an admin must enable it "
                              "before approvals can act on Viya")
    props = model_version_node.properties or {}
    if model_version_node.source != "viya" or model_version_node.kind != "model_version" or not props.get("model_id"):
        raise ValueError(f"node {model_version_node.pk} is not a Viya model version")
    if client is None:
        from connectors.viya.plugin import client_for

        client = client_for(config.settings, config.secrets)
    before = {"model_id": props["model_id"], "version_name": props.get("version_name"), "action": dict(action)}
    try:
        if name == "set_champion":
            result = _set_champion(client, props)
        else:
            result = _publish(client, props, action)
    except ViyaError as exc:
        _audit(name, model_version_node, before, {"status": "failed", "error": str(exc)}, config)
        raise
    _audit(name, model_version_node, before, result, config)
    return result


def _audit(name, node, before, after, config):
    with transaction.atomic():
        record(f"viya.writeback.{name}", "lineage.node", node.pk, before=before,
               after={**after, "connector": config.name}, reason=f"approved promotion via connector {config.name}")


def _model(client: ViyaClient, model_id: str):
    return client.get(f"/modelRepository/models/{quote(model_id)}", accept=MODEL)


def _set_champion(client: ViyaClient, props: dict) -> dict:
    model = _model(client, props["model_id"]).body
    version = props.get("version_name")
    if version and model.get("modelVersionName") != version:
        raise ValueError(f"Viya makes a model's current version the champion; {model.get('name')!r} is at "
                         f"{model.get('modelVersionName')}, not {version}")
    if model.get("role") == "champion":
        return {"action": "set_champion", "status": "unchanged", "project_id": model.get("projectId"),
                "model_id": model["id"], "version_name": model.get("modelVersionName")}
    for attempt in (1, 2):
        try:
            answer = client.set_champion(model["projectId"], model["id"])
            break
        except ViyaConflict:
            # Someone changed the project between our read and our write: read its ETag again, once.
            if attempt == 2:
                raise
    body = answer.body if isinstance(answer.body, dict) else {}
    return {"action": "set_champion", "status": "done", "project_id": model.get("projectId"), "model_id": model["id"],
            "version_name": body.get("modelVersionName") or model.get("modelVersionName"),
            "role": body.get("role") or "champion"}


def _publish(client: ViyaClient, props: dict, action: dict) -> dict:
    destination = str(action.get("destination") or "").strip()
    if not destination:
        raise ValueError("a publish needs a destination, e.g. {\"action\": \"publish\", \"destination\": \"maslocal\"}")
    model = _model(client, props["model_id"]).body
    version = props.get("version_name") or model.get("modelVersionName")
    client.get(f"/modelPublish/destinations/{quote(destination, safe='')}")  # 404 → clear error before publishing
    for existing in client.collection("/modelPublish/models", params={
            "filter": and_(eq("modelId", model["id"]), eq("destinationName", destination))}):
        if existing.get("modelVersionId") == version and existing.get("state") in LIVE_PUBLISH_STATES:
            return {"action": "publish", "status": "unchanged", "publish_id": existing["id"],
                    "destination": destination, "state": existing.get("state"), "version_name": version}
    if version == model.get("modelVersionName"):
        source_uri = f"/modelRepository/models/{model['id']}"
    elif props.get("snapshot_id"):
        source_uri = f"/modelRepository/models/{model['id']}/modelVersions/{props['snapshot_id']}"
    else:
        raise ValueError(f"version {version} of {model.get('name')!r} has no snapshot id to publish from")
    publish_name = action.get("publish_name") or "".join(ch for ch in model.get("name", "") if ch.isalnum()) + \
        "_" + model["id"].replace("-", "")
    answer = client.publish(name=model.get("name") or publish_name, model_name=publish_name, source_uri=source_uri,
                            destination=destination, notes=action.get("notes"))
    body = answer.body if isinstance(answer.body, dict) else {}
    return {"action": "publish", "status": "done", "publish_id": body.get("id"), "destination": destination,
            "state": body.get("state"), "version_name": version, "source_uri": source_uri}
