"""What the Viya stand-in knows: every resource recorded anywhere, or resources generated for demo/bench.

Recordings are sasctl test runs, so one resource shows up in many answers (a create, a lookup by name, a
poll, as an item of some collection, embedded in another resource). Each body is classified by its own
`self` link, the newest body of each resource wins (by modification time, then recording order), and a
resource counts as deleted when a DELETE (204) or a 404 for it was recorded after it was last seen; deleting
a project or model takes what it contains with it, as Viya does.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from connectors.viya import times

UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
SEG = r"[^/?#]+"

# (kind, pattern over a self href) -> the path parameters that identify the resource.
SELF_PATTERNS = [
    ("version_content", re.compile(rf"^/modelRepository/models/({UUID})/modelVersions/({UUID})/contents/({UUID})$")),
    ("model_version", re.compile(rf"^/modelRepository/models/({UUID})/modelVersions/({UUID})$")),
    ("content", re.compile(rf"^/modelRepository/models/({UUID})/contents/({UUID})$")),
    ("model", re.compile(rf"^/modelRepository/models/({UUID})$")),
    ("project_version", re.compile(rf"^/modelRepository/projects/({UUID})/projectVersions/({UUID})$")),
    ("project", re.compile(rf"^/modelRepository/projects/({UUID})$")),
    ("repository", re.compile(rf"^/modelRepository/repositories/({UUID})$")),
    ("destination", re.compile(rf"^/modelPublish/destinations/({SEG})$")),
    ("publish_log", re.compile(rf"^/modelPublish/models/({UUID})/log$")),
    ("publish", re.compile(rf"^/modelPublish/models/({UUID})$")),
    ("relationship", re.compile(rf"^/relationships/relationships/({UUID})$")),
]
KINDS = [kind for kind, _ in SELF_PATTERNS]


def classify(path: str):
    path = path.split("?", 1)[0]
    for kind, pattern in SELF_PATTERNS:
        m = pattern.match(path)
        if m:
            return kind, m.groups()
    return None, None


def self_href(body) -> str | None:
    if not isinstance(body, dict):
        return None
    for item in body.get("links") or []:
        if isinstance(item, dict) and str(item.get("rel", "")).lower() == "self":
            return item.get("href") or item.get("uri")
    return None


def weak_etag(body: dict) -> str:
    """Go services' ETag: modification time in Unix nanoseconds, weak."""
    when = times.parse(body.get("modifiedTimeStamp")) or dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    ns = int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000
    return f'W/"{ns}"'


def now_stamp() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class _Seen:
    body: dict
    order: tuple
    etag: str | None = None


@dataclass
class Recorded:
    status: int
    content_type: str | None
    headers: dict
    body: object


@dataclass
class ViyaState:
    """Resources by kind and identity tuple. Bodies are kept exactly as Viya sent them."""

    resources: dict = field(default_factory=lambda: {kind: {} for kind in KINDS})
    etags: dict = field(default_factory=dict)  # (kind, ident) -> recorded ETag header
    replay: dict = field(default_factory=dict)  # (METHOD, uri) -> Recorded (last recorded answer)
    file_bytes: dict = field(default_factory=dict)  # fileUri -> bytes
    history: dict = field(default_factory=dict)  # project id -> [history entries]
    workflows: dict | None = None  # {"processes": [...], "associations": [...], "tasks": [...]} or None (404)
    deleted: dict = field(default_factory=lambda: {kind: set() for kind in KINDS})
    # (kind, parent ident) -> {ident: body}: members of a model or project without scanning every resource.
    children: dict = field(default_factory=dict)

    # -- views ---------------------------------------------------------------------------------------------
    def items(self, kind: str) -> dict:
        return self.resources[kind]

    def get(self, kind: str, *ident):
        return self.resources[kind].get(tuple(ident))

    def put(self, kind: str, ident: tuple, body: dict) -> None:
        ident = tuple(ident)
        self.resources[kind][ident] = body
        self.etags.pop((kind, ident), None)
        if len(ident) > 1:
            self.children.setdefault((kind, ident[:-1]), {})[ident] = body

    def members(self, kind: str, *parent) -> list[dict]:
        return list(self.children.get((kind, tuple(parent)), {}).values())

    def etag(self, kind: str, ident: tuple) -> str:
        return self.etags.get((kind, tuple(ident))) or weak_etag(self.resources[kind][tuple(ident)])

    def model_versions_of(self, model_id: str) -> list[dict]:
        return self.members("model_version", model_id)

    def contents_of(self, model_id: str) -> list[dict]:
        return self.members("content", model_id)

    def version_contents(self, model_id: str, version_id: str) -> list[dict]:
        return self.members("version_content", model_id, version_id)

    def file_content(self, file_uri: str) -> bytes:
        """Recorded bytes when the recordings have them; otherwise stable bytes derived from the URI (the
        recordings hold uploads as multipart bodies, not as the stored files)."""
        if file_uri in self.file_bytes:
            return self.file_bytes[file_uri]
        return ("viya fake content of " + file_uri + "\n").encode()

    # -- building: recordings ---------------------------------------------------------------------------------
    @classmethod
    def from_recordings(cls, folder: str | Path) -> "ViyaState":
        state = cls()
        seen: dict[tuple, _Seen] = {}
        gone: dict[tuple, tuple] = {}
        files = sorted(Path(folder).glob("*.json"))
        if not files:
            raise FileNotFoundError(f"no recordings (*.json) in {folder}")
        for file_no, path in enumerate(files):
            for it in json.loads(path.read_text()):
                order = (it.get("recorded_at") or "", file_no, it.get("seq", 0))
                method, uri, status = it["method"], it["uri"], it["status"]
                state.replay[(method, uri)] = Recorded(status, it.get("content_type"), it.get("response_headers") or {},
                                                       it.get("response_body"))
                kind, ident = classify(uri)
                if kind and (method == "DELETE" and 200 <= status < 300 or method == "GET" and status == 404):
                    gone[(kind, ident)] = max(order, gone.get((kind, ident), order))
                    continue
                body = it.get("response_body")
                if not (200 <= status < 300) or not isinstance(body, dict):
                    continue
                if method == "GET" and kind == "publish_log":
                    _remember(seen, ("publish_log", ident), {**body, "links": body.get("links") or [
                        {"method": "GET", "rel": "self", "href": uri, "uri": uri}]}, order, None)
                    continue
                if method == "GET" and uri.split("?")[0].startswith("/files/files/") and uri.endswith("/content"):
                    continue
                headers = it.get("response_headers") or {}
                single_etag = headers.get("Etag") or headers.get("ETag")
                top_is_item = "items" not in body
                for node, is_top in _bodies(body):
                    href = self_href(node)
                    k, i = classify(href or "")
                    if not k:
                        continue
                    _remember(seen, (k, i), node, order, single_etag if (is_top and top_is_item) else None)
            # binary/text file contents recorded under /files/files/{id}/content
            for it in json.loads(path.read_text()):
                m = re.match(rf"^(/files/files/{UUID})/content$", it["uri"])
                if m and it["status"] == 200 and it.get("response_body") is not None:
                    b = it["response_body"]
                    data = __import__("base64").b64decode(b["$base64"]) if isinstance(b, dict) and "$base64" in b \
                        else (b if isinstance(b, str) else json.dumps(b)).encode()
                    state.file_bytes[m.group(1)] = data
        for (kind, ident), s in seen.items():
            if (kind, ident) in gone and gone[(kind, ident)] >= s.order:
                state.deleted[kind].add(ident)
                continue
            state.put(kind, ident, s.body)
            if s.etag:
                state.etags[(kind, ident)] = s.etag
        for (kind, ident), when in gone.items():
            if (kind, ident) not in seen:
                state.deleted[kind].add(ident)
        state._cascade()
        return state

    def _cascade(self) -> None:
        """Deleting a project removes its versions and models; deleting a model its versions and contents."""
        gone_projects = {i[0] for i in self.deleted["project"]}
        for ident, body in list(self.resources["model"].items()):
            if body.get("projectId") in gone_projects:
                self._drop("model", ident)
        for ident in list(self.resources["project_version"]):
            if ident[0] in gone_projects:
                self._drop("project_version", ident)
        gone_models = {i[0] for i in self.deleted["model"]}
        for kind in ("model_version", "content", "version_content"):
            for ident in list(self.resources[kind]):
                if ident[0] in gone_models:
                    self._drop(kind, ident)
        for ident, body in list(self.resources["publish_log"].items()):
            if ident not in self.resources["publish"]:
                self._drop("publish_log", ident)

    def _drop(self, kind, ident):
        self.resources[kind].pop(ident, None)
        self.children.get((kind, ident[:-1]), {}).pop(ident, None)
        self.deleted[kind].add(ident)

    # -- building: generated ---------------------------------------------------------------------------------
    def add_repository(self, name: str, *, rid: str | None = None, when: str | None = None) -> dict:
        rid = rid or str(uuid.uuid5(uuid.NAMESPACE_URL, f"repo/{name}"))
        when = when or now_stamp()
        body = {"creationTimeStamp": when, "createdBy": "sas.modelRepository", "modifiedTimeStamp": when,
                "modifiedBy": "sas.modelRepository", "version": 0, "id": rid, "name": name,
                "folderId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"folder/{name}")),
                "links": [_self(f"/modelRepository/repositories/{rid}", "application/vnd.sas.models.repository")]}
        self.put("repository", (rid,), body)
        return body

    def add_project(self, repository: dict, name: str, *, pid: str | None = None, when: str | None = None,
                    function: str = "classification", **extra) -> dict:
        pid = pid or str(uuid.uuid5(uuid.NAMESPACE_URL, f"project/{repository['id']}/{name}"))
        when = when or now_stamp()
        url = f"/modelRepository/projects/{pid}"
        body = {"creationTimeStamp": when, "createdBy": "demo", "modifiedTimeStamp": when, "modifiedBy": "demo",
                "version": 0, "id": pid, "name": name, "function": function, "latestVersion": "Version 1",
                "status": "prototype", "repositoryId": repository["id"], "folderId": repository["folderId"],
                "location": f"/Model Repositories/{repository['name']}", "challengerModels": [], "tags": [],
                "globalTags": [], **extra,
                "links": [_self(url, "application/vnd.sas.models.project"),
                          {"method": "GET", "rel": "projectVersions", "href": url + "/projectVersions",
                           "uri": url + "/projectVersions", "type": "application/vnd.sas.collection"},
                          {"method": "GET", "rel": "projectHistory", "href": url + "/history",
                           "uri": url + "/history", "type": "application/vnd.sas.collection"},
                          {"method": "GET", "rel": "championModel", "href": url + "/champion",
                           "uri": url + "/champion", "type": "application/vnd.sas.models.model"}]}
        self.put("project", (pid,), body)
        vid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"projectVersion/{pid}/1"))
        self.put("project_version", (pid, vid), {
            "creationTimeStamp": when, "createdBy": "demo", "modifiedTimeStamp": when, "modifiedBy": "demo",
            "version": 0, "id": vid, "name": "Version 1", "versionNumber": "1.0", "projectId": pid,
            "links": [_self(f"{url}/projectVersions/{vid}", "application/vnd.sas.models.project.version")]})
        return body

    def project_version_id(self, project_id: str) -> str:
        return next(v for (p, v) in self.resources["project_version"] if p == project_id)

    def add_model(self, project: dict, name: str, *, versions: int = 1, when: str | None = None, mid: str | None = None,
                  contents=(("score.sas", "score"), ("model.pkl", "python pickle")), **extra) -> dict:
        """A model whose current version is `versions`.0, with `versions - 1` immutable snapshots before it."""
        mid = mid or str(uuid.uuid5(uuid.NAMESPACE_URL, f"model/{project['id']}/{name}"))
        when = when or now_stamp()
        url = f"/modelRepository/models/{mid}"
        body = {"creationTimeStamp": when, "createdBy": "demo", "modifiedTimeStamp": when, "modifiedBy": "demo",
                "id": mid, "name": name, "role": "plain", "scoreCodeType": "dataStep", "modeler": "demo",
                "modelType": "python", "version": 2, "repositoryId": project["repositoryId"],
                "projectId": project["id"], "projectVersionId": self.project_version_id(project["id"]),
                "immutable": False, "modelVersionName": f"{versions}.0", "projectName": project["name"],
                "projectVersionName": "Version 1", "projectVersionNum": "1.0", "inputVariables": [],
                "outputVariables": [], "modelVersions": [], "modelLocks": None, "globalTags": None, **extra,
                "links": [_self(url, "application/vnd.sas.models.model"),
                          {"method": "GET", "rel": "modelVersions", "href": url + "/modelVersions",
                           "uri": url + "/modelVersions", "type": "application/vnd.sas.collection"},
                          {"method": "GET", "rel": "contents", "href": url + "/contents", "uri": url + "/contents",
                           "type": "application/vnd.sas.collection"}]}
        self.put("model", (mid,), body)
        for number in range(1, versions):
            vid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"modelVersion/{mid}/{number}"))
            vurl = f"{url}/modelVersions/{vid}"
            files = [_content(mid, f"{vurl}/contents", fname, role, when, vid=vid) for fname, role in contents]
            self.put("model_version", (mid, vid), {
                **{k: v for k, v in body.items() if k not in ("links", "projectName", "projectVersionName")},
                "id": vid, "immutable": True, "modelVersionName": f"{number}.0", "modelId": mid, "files": files,
                "links": [_self(vurl, "application/vnd.sas.models.model.version")]})
            for f in files:
                self.put("version_content", (mid, vid, f["id"]), f)
        for fname, role in contents:
            c = _content(mid, f"{url}/contents", fname, role, when)
            self.put("content", (mid, c["id"]), c)
        return body

    def add_destination(self, name: str, dest_type: str = "microAnalyticService", when: str | None = None) -> dict:
        when = when or now_stamp()
        body = {"createdBy": "demo", "creationTimeStamp": when, "modifiedBy": "demo", "modifiedTimeStamp": when,
                "destinationType": dest_type, "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"dest/{name}")),
                "name": name, "version": 2,
                "links": [_self(f"/modelPublish/destinations/{name}", "application/vnd.sas.models.publishing.destination")]}
        self.put("destination", (name,), body)
        return body

    def add_publish(self, model: dict, destination: str, *, state: str = "completed", when: str | None = None,
                    version_name: str | None = None, source_uri: str | None = None, log: str | None = None) -> dict:
        when = when or now_stamp()
        pid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"publish/{model['id']}/{destination}/{when}/{len(self.resources['publish'])}"))
        publish_name = re.sub(r"\W", "", model["name"]) + "_" + model["id"].replace("-", "")
        body = {"creationTimeStamp": when, "createdBy": "demo", "modifiedTimeStamp": when, "modifiedBy": "demo",
                "version": 2, "id": pid, "name": publish_name, "publishName": publish_name,
                "publishType": "mas" if destination == "maslocal" else "cas", "verified": False,
                "principalId": model["id"], "destinationName": destination,
                "destination": {"creationTimeStamp": "0001-01-01T00:00:00Z", "modifiedTimeStamp": "0001-01-01T00:00:00Z", "version": 2},
                "codeType": "ds2", "analyticStoreUri": [], "sourceUri": source_uri or f"/modelRepository/models/{model['id']}",
                "projectId": model["projectId"], "projectVersionId": model["projectVersionId"], "modelId": model["id"],
                "modelVersionId": version_name or model["modelVersionName"], "publishLevel": "model", "state": state,
                "properties": {},
                "links": [_self(f"/modelPublish/models/{pid}", "application/vnd.sas.models.publishing.publish"),
                          {"method": "GET", "rel": "publishingLog", "href": f"/modelPublish/models/{pid}/log",
                           "uri": f"/modelPublish/models/{pid}/log", "type": "application/json"}]}
        self.put("publish", (pid,), body)
        self.put("publish_log", (pid,), {"log": log or f"{when} publish {publish_name} to {destination}: {state}",
                                         "modelName": publish_name,
                                         "links": [_self(f"/modelPublish/models/{pid}/log", "application/json")]})
        return body


def _self(url: str, media: str) -> dict:
    return {"method": "GET", "rel": "self", "href": url, "uri": url, "type": media}


def _content(mid: str, base: str, name: str, role: str, when: str, vid: str | None = None) -> dict:
    cid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{base}/{name}"))
    file_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"file/{base}/{name}"))
    body = {"creationTimeStamp": when, "createdBy": "demo", "modifiedTimeStamp": when, "modifiedBy": "demo",
            "version": 2, "id": cid, "name": name, "role": role, "fileUri": f"/files/files/{file_id}", "modelId": mid,
            "links": [_self(f"{base}/{cid}", "application/vnd.sas.models.model.content"),
                      {"method": "GET", "rel": "content", "uri": f"{base}/{cid}/content", "type": "application/octet-stream"}]}
    if vid:
        body["versionId"] = vid
    return body


def _remember(seen: dict, key: tuple, body: dict, order: tuple, etag: str | None) -> None:
    rank = (times.stamp(body), order)
    old = seen.get(key)
    if old is None or rank >= (times.stamp(old.body), old.order):
        seen[key] = _Seen(body, order, etag)


def _bodies(body, is_top=True):
    """The body itself, its collection items, and resources embedded in them (model versions, files)."""
    if isinstance(body, dict):
        if isinstance(body.get("items"), list):
            for item in body["items"]:
                yield from _bodies(item, False)
            return
        yield body, is_top
        for key in ("modelVersions", "files"):
            for sub in body.get(key) or []:
                yield from _bodies(sub, False)


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
