"""Viya bodies → lineage store facts, by the direction rule in lineage/kinds.py.

    repository -contains-> project -contains-> model <-version_of- model_version -deployed_as-> deployment
    project -contains{role: champion}-> model_version        (open while it is the champion)

A Viya model *is* its current version; `/models/{id}/modelVersions` holds immutable snapshots of earlier
ones, with ids of their own. A model version is therefore keyed by (model id, version name): the current
"2.0" and, once a "3.0" is made, the snapshot named "2.0" are the same lineage node. Every fact carries the
Viya body it came from (RawPayload source "viya").
"""
from __future__ import annotations

import re

from connectors.viya import times
from lineage import store
from lineage.kinds import EdgeKind, NodeKind, Source

SOURCE = Source.VIYA
MODEL_URI = re.compile(r"/modelRepository/models/([0-9a-fA-F-]{36})(?:/modelVersions/([0-9a-fA-F-]{36}))?")
PROJECT_URI = re.compile(r"/modelRepository/projects/([0-9a-fA-F-]{36})")


class Keys:
    def __init__(self, instance: str):
        self.instance = instance

    def _key(self, kind, suffix) -> store.NodeKey:
        return store.NodeKey(SOURCE, kind, f"{self.instance}/{suffix}")

    def repository(self, rid):
        return self._key(NodeKind.REPOSITORY, f"repository/{rid}")

    def project(self, pid):
        return self._key(NodeKind.PROJECT, f"project/{pid}")

    def model(self, mid):
        return self._key(NodeKind.MODEL, f"model/{mid}")

    def model_version(self, mid, version_name):
        return self._key(NodeKind.MODEL_VERSION, f"model/{mid}/version/{version_name}")

    def deployment(self, publish_id):
        return self._key(NodeKind.DEPLOYMENT, f"publish/{publish_id}")


def raw(kind: str, source_id, body) -> store.RawPayload:
    return store.RawPayload(SOURCE, f"viya.{kind}", str(source_id), body)


def _when(body: dict):
    return times.parse(body.get("modifiedTimeStamp")) or times.parse(body.get("creationTimeStamp"))


def _common(body: dict) -> dict:
    return {
        "viya_id": body.get("id"),
        "created": times.iso(times.parse(body.get("creationTimeStamp"))),
        "created_by": body.get("createdBy") or "",
        "modified": times.iso(times.parse(body.get("modifiedTimeStamp"))),
        "modified_by": body.get("modifiedBy") or "",
    }


def user_properties(body: dict) -> dict:
    """Viya model/project `properties`: a list of {name, value, type} (or, in places, a plain dict)."""
    props = body.get("properties")
    if isinstance(props, dict):
        return {str(k): v for k, v in props.items()}
    if isinstance(props, list):
        return {str(p.get("name")): p.get("value") for p in props if isinstance(p, dict) and p.get("name")}
    return {}


def repository_facts(keys: Keys, body: dict) -> list:
    return [store.NodeFact(
        key=keys.repository(body["id"]), name=body.get("name") or body["id"], namespace=keys.instance,
        properties={**_common(body), "viya_kind": "repository", "description": body.get("description") or "",
                    "default": bool(body.get("defaultRepository")), "folder_id": body.get("folderId") or ""},
        seen_at=_when(body), raw=raw("repository", body["id"], body), replace_properties=True)]


def project_facts(keys: Keys, body: dict, *, versions: list, champion: dict | None, challengers: list,
                  history: list | None, workflows: list | None, previous_champion: str | None) -> tuple[list, str | None]:
    """Facts for a project; returns them and the champion model-version source id now in force."""
    pid = body["id"]
    payload = raw("project", pid, body)
    props = {
        **_common(body), "viya_kind": "project", "function": body.get("function") or "",
        "status": body.get("status") or "", "target_variable": body.get("targetVariable") or "",
        "latest_version": body.get("latestVersion") or "", "location": body.get("location") or "",
        "description": body.get("description") or "", "tags": body.get("tags") or [],
        "versions": [{"id": v.get("id"), "name": v.get("name"), "number": v.get("versionNumber"),
                      "created": times.iso(times.parse(v.get("creationTimeStamp")))} for v in versions],
        "champion": champion, "challengers": challengers, "user_properties": user_properties(body),
    }
    if history is not None:
        props["history"] = history
    if workflows is not None:
        props["workflows"] = workflows
    facts: list = [store.NodeFact(key=keys.project(pid), name=body.get("name") or pid, namespace=keys.instance,
                                  properties=props, seen_at=_when(body), raw=payload, replace_properties=True)]
    for v in versions:
        facts.append(store.RawPayload(SOURCE, "viya.project_version", str(v.get("id")), v))
    if body.get("repositoryId"):
        facts.append(store.EdgeFact(EdgeKind.CONTAINS, keys.repository(body["repositoryId"]), keys.project(pid), SOURCE,
                                    valid_from=times.parse(body.get("creationTimeStamp")), raw=payload))
    now_champion = None
    if champion:
        now_champion = keys.model_version(champion["model_id"], champion["version"]).source_id
    if previous_champion and previous_champion != now_champion:
        facts.append(store.EdgeClose(EdgeKind.CONTAINS, keys.project(pid),
                                     store.NodeKey(SOURCE, NodeKind.MODEL_VERSION, previous_champion), at=_when(body)))
    if now_champion:
        facts.append(store.EdgeFact(EdgeKind.CONTAINS, keys.project(pid),
                                    keys.model_version(champion["model_id"], champion["version"]), SOURCE,
                                    valid_from=times.parse(champion.get("since")) or _when(body),
                                    properties={"role": "champion"}, raw=payload))
    return facts, now_champion


def content_summary(body: dict, *, size=None, digest=None) -> dict:
    entry = {"name": body.get("name") or "", "role": body.get("role") or "", "file_uri": body.get("fileUri") or "",
             "content_id": body.get("id") or ""}
    for field, value in (("size", size if size is not None else body.get("size")),
                         ("digest", digest or (f"sha1:{body['key']}" if body.get("key") else None)),
                         ("content_type", body.get("contentType"))):
        if value not in (None, ""):
            entry[field] = value
    return entry


MODEL_FIELDS = ("role", "algorithm", "function", "tool", "toolVersion", "modeler", "modelType", "scoreCodeType",
                "targetVariable", "targetLevel", "trainCodeType", "description", "location", "sourceUri",
                "datasourceUri", "externalUrl", "trainTable")


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


METRIC_NAMES = re.compile(r"(?i)^(_?(ase|rase|mce|ks|ksc|auc|c|gini|gain|lift|misc|accuracy|precision|recall|f1|"
                          r"rmse|mse|mae|r2|r_squared|roc|logloss|kappa)\b|.*(metric|score|accuracy|auc|error|loss))")


def model_metrics(body: dict) -> dict:
    """Viya model properties that are metrics: user-defined properties typed numeric, or named like a fit
    statistic (ASE, KS, AUC, Gini, accuracy …) with a numeric value. Viya keeps fit statistics in the model's
    `properties` list when a client (sasctl, Model Studio) registers them there."""
    props = body.get("properties")
    items = props if isinstance(props, list) else [{"name": k, "value": v} for k, v in (props or {}).items()] \
        if isinstance(props, dict) else []
    found = {}
    for p in items:
        if not isinstance(p, dict) or not p.get("name"):
            continue
        value = _number(p.get("value"))
        typed = str(p.get("type") or "").lower() in ("numeric", "number", "decimal", "integer")
        if value is not None and (typed or METRIC_NAMES.match(str(p["name"]))):
            found[str(p["name"])] = value
    return found


def _code_fields(body: dict) -> dict:
    """The fields that say which code made and scores a model (tool, algorithm, score code type, training
    table …), copied onto each version: a snapshot keeps the values it was taken with."""
    return {_snake(f): body[f] for f in MODEL_FIELDS if body.get(f) not in (None, "") and f not in ("description", "role")}


def model_facts(keys: Keys, body: dict, *, snapshots: list, contents: list, snapshot_contents: dict) -> list:
    """Facts for one model, its current version and every snapshot version.

    `contents` are summaries (see content_summary) of the current version's files; `snapshot_contents`
    maps a snapshot id to its file summaries.
    """
    mid = body["id"]
    payload = raw("model", mid, body)
    mkey = keys.model(mid)
    user = user_properties(body)
    props = {**_common(body), "viya_kind": "model", "current_version": body.get("modelVersionName") or "",
             "project_id": body.get("projectId") or "", "project_version_id": body.get("projectVersionId") or "",
             "repository_id": body.get("repositoryId") or "", "user_properties": user,
             "input_variables": [v.get("name") for v in body.get("inputVariables") or [] if isinstance(v, dict)],
             "output_variables": [v.get("name") for v in body.get("outputVariables") or [] if isinstance(v, dict)]}
    for field in MODEL_FIELDS:
        if body.get(field) not in (None, ""):
            props[_snake(field)] = body[field]
    facts: list = [store.NodeFact(key=mkey, name=body.get("name") or mid, namespace=keys.instance, properties=props,
                                  seen_at=_when(body), raw=payload, replace_properties=True)]
    if body.get("projectId"):
        facts.append(store.EdgeFact(EdgeKind.CONTAINS, keys.project(body["projectId"]), mkey, SOURCE,
                                    valid_from=times.parse(body.get("creationTimeStamp")), raw=payload))
    current = body.get("modelVersionName") or "1.0"
    by_name: dict[str, dict] = {}
    for snap in snapshots:
        name = snap.get("modelVersionName") or snap.get("id")
        by_name[name] = snap
    for name, snap in sorted(by_name.items()):
        if name == current:
            continue
        vprops = {**_common(snap), "viya_kind": "model_version", "model_id": mid, "version_name": name,
                  "snapshot_id": snap.get("id"), "current": False, "immutable": True,
                  "contents": snapshot_contents.get(snap.get("id"), []), "role": snap.get("role") or "",
                  "user_properties": user_properties(snap), "description": snap.get("description") or "",
                  **_code_fields(snap), "metrics": model_metrics(snap)}
        vkey = keys.model_version(mid, name)
        vraw = raw("model_version", snap.get("id"), snap)
        facts.append(store.NodeFact(key=vkey, name=f"{body.get('name') or mid} {name}", namespace=keys.instance,
                                    properties=vprops, seen_at=_when(snap), raw=vraw, replace_properties=True))
        facts.append(store.EdgeFact(EdgeKind.VERSION_OF, vkey, mkey, SOURCE,
                                    valid_from=times.parse(snap.get("creationTimeStamp")), raw=vraw))
    vkey = keys.model_version(mid, current)
    cprops = {**_common(body), "viya_kind": "model_version", "model_id": mid, "version_name": current,
              "snapshot_id": by_name.get(current, {}).get("id"), "current": True, "immutable": False,
              "contents": contents, "role": body.get("role") or "", "user_properties": user,
              "description": body.get("description") or "", **_code_fields(body), "metrics": model_metrics(body)}
    facts.append(store.NodeFact(key=vkey, name=f"{body.get('name') or mid} {current}", namespace=keys.instance,
                                properties=cprops, seen_at=_when(body), raw=payload, replace_properties=True))
    facts.append(store.EdgeFact(EdgeKind.VERSION_OF, vkey, mkey, SOURCE, valid_from=_when(body), raw=payload))
    return facts


def publish_facts(keys: Keys, body: dict, *, destination: dict | None, log: object) -> list:
    pub_id = body["id"]
    payload = raw("publish", pub_id, body)
    dkey = keys.deployment(pub_id)
    dest_name = body.get("destinationName") or ""
    props = {**_common(body), "viya_kind": "publish", "state": body.get("state") or "",
             "publish_name": body.get("publishName") or "", "publish_type": body.get("publishType") or "",
             "publish_level": body.get("publishLevel") or "", "source_uri": body.get("sourceUri") or "",
             "model_id": body.get("modelId") or "", "model_version": body.get("modelVersionId") or "",
             "project_id": body.get("projectId") or "", "destination": dest_name,
             "destination_type": (destination or {}).get("destinationType") or "", "verified": bool(body.get("verified")),
             "code_type": body.get("codeType") or ""}
    if body.get("errorResponse"):
        props["error"] = body["errorResponse"]
    if log is not None:
        props["log"] = log.get("log") if isinstance(log, dict) and "log" in log else log
    facts: list = [store.NodeFact(key=dkey, name=body.get("publishName") or body.get("name") or pub_id,
                                  namespace=keys.instance, display_name=f"{body.get('publishName') or ''} @ {dest_name}",
                                  properties=props, seen_at=_when(body), raw=payload, replace_properties=True)]
    if destination is not None:
        facts.append(store.RawPayload(SOURCE, "viya.destination", dest_name, destination))
    model_id, version = _published_model(body)
    if model_id and version:
        facts.append(store.EdgeFact(EdgeKind.DEPLOYED_AS, keys.model_version(model_id, version), dkey, SOURCE,
                                    valid_from=times.parse(body.get("creationTimeStamp")), raw=payload))
    return facts


def _published_model(body: dict) -> tuple[str | None, str | None]:
    model_id = body.get("modelId")
    if not model_id:
        m = MODEL_URI.search(body.get("sourceUri") or "")
        model_id = m.group(1) if m else None
    return model_id, body.get("modelVersionId") or None


def relationship_facts(keys: Keys, body: dict) -> list:
    """Relationships are kept raw; a `Contains` between two resources we map becomes a contains edge."""
    facts: list = [raw("relationship", body.get("id"), body)]
    src, dst = _resource_key(keys, body.get("resourceUri")), _resource_key(keys, body.get("relatedResourceUri"))
    if str(body.get("type", "")).lower() == "contains" and src and dst:
        facts.append(store.EdgeFact(EdgeKind.CONTAINS, src, dst, SOURCE, valid_from=_when(body),
                                    properties={"viya_relationship": body.get("id")}, raw=facts[0]))
    return facts


def _resource_key(keys: Keys, uri: str | None):
    if not uri:
        return None
    m = MODEL_URI.fullmatch(uri)
    if m and not m.group(2):
        return keys.model(m.group(1))
    m = PROJECT_URI.fullmatch(uri)
    if m:
        return keys.project(m.group(1))
    return None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
