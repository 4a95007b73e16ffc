"""The Viya connector: pages of store facts for whatever changed in Model Manager since the cursor.

Incremental by each resource's `modifiedTimeStamp` (kept per resource in the cursor): listings are cheap
and always read in full, but versions, contents, histories and logs are fetched, and facts written, only for
resources whose stamp moved. The cursor goes into the database with each page, so a harvest killed half-way
resumes with what it had not stored yet, and a re-harvest of an unchanged server writes nothing.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator
from urllib.parse import urlsplit

from connectors.base import Page
from connectors.viya import mapping, times
from connectors.viya.client import ViyaClient, href
from connectors.viya.errors import ViyaHTTPError, ViyaNotFound, ViyaPayloadError

CURSOR_VERSION = 1
WORKFLOW_PATHS = {
    "processes": "/modelManagement/workflowProcesses",
    "associations": "/modelManagement/workflowAssociations",
    "tasks": "/modelManagement/workflowTasks",
}


def _object_failure(exc: BaseException) -> bool:
    """One object's problem, not the source's: it vanished since the listing (404), this account may not
    read it (403: service accounts often see only some projects), or its record is malformed. Such an
    object is skipped with a warning; anything else (auth, 5xx after retries, a wrong host) fails the
    harvest as before."""
    if isinstance(exc, ViyaHTTPError):
        return exc.status in (403, 404, 410)
    return isinstance(exc, (ViyaPayloadError, KeyError, TypeError, ValueError))


def _warning(what: str, exc: BaseException) -> dict:
    return {"object": what, "reason": f"{type(exc).__name__}: {exc}"}


def _sig(*parts) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class ViyaConnector:
    kind = "viya"

    def __init__(self, client: ViyaClient, *, batch: int = 100, download_digests: bool = False,
                 history: bool = True, workflows: bool = True, relationships: bool = True, stitch: bool = True,
                 instance: str | None = None, concurrency: int = 4):
        self.client = client
        self.batch = max(1, int(batch))
        self.download_digests = download_digests
        self.history = history
        self.workflows = workflows
        self.relationships = relationships
        self.stitch = stitch
        # Per-model reads (versions, contents) are independent; a few in flight hide the network latency.
        self.concurrency = max(1, int(concurrency))
        # Node ids are namespaced by instance (host:port unless named), so two Viya servers never collide.
        self.instance = instance or urlsplit(client.base_url).netloc
        self.keys = mapping.Keys(self.instance)

    def source_key(self) -> str:
        return f"viya:{self.instance}"

    # -- the walk ------------------------------------------------------------------------------------------
    def changes_since(self, cursor: dict | None) -> Iterator[Page]:
        cursor = dict(cursor or {})
        if cursor.get("v") != CURSOR_VERSION:
            cursor = {"v": CURSOR_VERSION}
        stamps: dict = dict(cursor.get("stamps") or {})
        champions: dict = dict(cursor.get("champions") or {})

        def page(facts, read, warnings=()):
            return Page(facts, {"v": CURSOR_VERSION, "stamps": dict(stamps), "champions": dict(champions)}, read,
                        warnings=list(warnings))

        workflows_by_project, wf_read = self._workflows()

        # Repositories.
        facts, changed = [], 0
        repos = list(self.client.collection("/modelRepository/repositories", limit=self.batch))
        for body in repos:
            if self._changed(stamps, "repository", body["id"], times.stamp(body)):
                facts += mapping.repository_facts(self.keys, body)
                changed += 1
        yield page(facts, {"repositories": len(repos), "repositories_changed": changed, **wf_read})

        # All models (summaries) first: projects need their champion and challengers from them.
        models = list(self.client.collection("/modelRepository/models", limit=self.batch))
        by_project: dict[str, list] = {}
        for m in models:
            by_project.setdefault(m.get("projectId") or "", []).append(m)

        projects = list(self.client.collection("/modelRepository/projects", limit=self.batch))
        for chunk in _chunks(projects, self.batch):
            facts, changed, versions_read, warnings = [], 0, 0, []
            for body in chunk:
                pid = body["id"]
                members = by_project.get(pid, [])
                champion = next(({"model_id": m["id"], "model_name": m.get("name"), "version": m.get("modelVersionName") or "1.0",
                                  "since": body.get("modifiedTimeStamp")} for m in members if m.get("role") == "champion"), None)
                challengers = sorted({*(body.get("challengerModels") or []),
                                      *(m["id"] for m in members if m.get("role") == "challenger")})
                wfs = workflows_by_project.get(pid) if workflows_by_project is not None else None
                champ_sig = champion and (champion["model_id"], champion["version"])
                stamp_before = stamps.get(f"project:{pid}")
                if not self._changed(stamps, "project", pid, _sig(times.stamp(body), champ_sig, challengers, wfs)):
                    continue
                try:
                    versions = list(self.client.collection(f"/modelRepository/projects/{pid}/projectVersions",
                                                           limit=self.batch))
                    history = self._history(body) if self.history else None
                    new_facts, now_champion = mapping.project_facts(
                        self.keys, body, versions=versions, champion=champion, challengers=challengers,
                        history=history, workflows=wfs, previous_champion=champions.get(pid))
                except Exception as exc:
                    if not _object_failure(exc):
                        raise
                    # Skipped, and its stamp left as it was, so the next harvest reads it again.
                    _restore(stamps, f"project:{pid}", stamp_before)
                    warnings.append(_warning(f"project {pid} ({body.get('name') or ''})", exc))
                    continue
                versions_read += len(versions)
                facts += new_facts
                if now_champion:
                    champions[pid] = now_champion
                else:
                    champions.pop(pid, None)
                changed += 1
            yield page(facts, {"projects": len(chunk), "projects_changed": changed, "project_versions": versions_read},
                       warnings)
        facts = self._vanished(stamps, "project", {p["id"] for p in projects}, self.keys.project)
        for pid in [p for p in list(champions) if p not in {x["id"] for x in projects}]:
            champions.pop(pid)

        # Models with their versions and contents.
        for chunk in (_chunks(models, self.batch) if models else [[]]):
            read = {"models": len(chunk), "models_changed": 0, "model_versions": 0, "contents": 0}
            before = {b["id"]: stamps.get(f"model:{b['id']}") for b in chunk}
            changed = [b for b in chunk if self._changed(stamps, "model", b["id"], times.stamp(b))]
            if self.concurrency > 1 and len(changed) > 1:
                with ThreadPoolExecutor(self.concurrency, thread_name_prefix="viya-harvest") as pool:
                    results = list(pool.map(self._model_or_warning, changed))
            else:
                results = [self._model_or_warning(b) for b in changed]
            warnings = []
            for body, (new, counts, warning) in zip(changed, results):
                if warning is not None:
                    _restore(stamps, f"model:{body['id']}", before[body["id"]])
                    warnings.append(warning)
                    continue
                facts += new
                for name, value in counts.items():
                    read[name] += value
            read["models_changed"] = len(changed) - len(warnings)
            yield page(facts, read, warnings)
            facts = []
        facts = self._vanished(stamps, "model", {m["id"] for m in models}, self.keys.model)

        # Publish destinations and publish records.
        destinations = {d.get("name"): d for d in self.client.collection("/modelPublish/destinations", limit=self.batch)}
        for name, d in destinations.items():
            if self._changed(stamps, "destination", name, times.stamp(d)):
                facts.append(mapping.raw("destination", name, d))
        publishes = list(self.client.collection("/modelPublish/models", limit=self.batch))
        yield page(facts, {"destinations": len(destinations)})
        for chunk in _chunks(publishes, self.batch):
            facts, changed, warnings = [], 0, []
            for body in chunk:
                stamp_before = stamps.get(f"publish:{body['id']}")
                if not self._changed(stamps, "publish", body["id"], _sig(times.stamp(body), body.get("state"))):
                    continue
                try:
                    log = None
                    log_url = href(body, "publishingLog") or f"/modelPublish/models/{body['id']}/log"
                    got = self.client.get_optional(log_url)
                    if got is not None:
                        log = got.body
                    facts += mapping.publish_facts(self.keys, body, destination=destinations.get(body.get("destinationName")),
                                                   log=log)
                except Exception as exc:
                    if not _object_failure(exc):
                        raise
                    _restore(stamps, f"publish:{body['id']}", stamp_before)
                    warnings.append(_warning(f"publish {body['id']}", exc))
                    continue
                changed += 1
            yield page(facts, {"publishes": len(chunk), "publishes_changed": changed}, warnings)

        # Relationships between resources.
        if self.relationships:
            facts, count = [], 0
            try:
                for body in self.client.collection("/relationships/relationships", limit=self.batch):
                    count += 1
                    if self._changed(stamps, "relationship", body.get("id"), times.stamp(body)):
                        facts += mapping.relationship_facts(self.keys, body)
                yield page(facts, {"relationships": count})
            except ViyaNotFound:
                yield page([], {"relationships_skipped": 1})
        # Same-as links to originals on other platforms follow every harvest (connectors.tasks.after_harvest,
        # unless `stitch` is off), for every version: the originals may have arrived since.

    # -- parts -----------------------------------------------------------------------------------------------
    @staticmethod
    def _changed(stamps: dict, kind: str, ident: str, mark: str) -> bool:
        key = f"{kind}:{ident}"
        if stamps.get(key) == mark and mark:
            return False
        stamps[key] = mark
        return True

    def _vanished(self, stamps: dict, kind: str, present: set, key_of) -> list:
        """Resources listed before and missing now were deleted in Viya: mark them, close what held them."""
        from lineage.models import Edge

        facts = []
        now = dt.datetime.now(dt.timezone.utc)
        for key in [k for k in stamps if k.startswith(kind + ":")]:
            ident = key.split(":", 1)[1]
            if ident in present:
                continue
            del stamps[key]
            node_key = key_of(ident)
            facts.append(mapping.store.NodeFact(
                key=node_key, name="", properties={"deleted": True, "deleted_seen": times.iso(now)},
                raw=mapping.raw(f"{kind}.deleted", ident, {"id": ident, "deleted": True})))
            holders = Edge.objects.filter(kind="contains", valid_to__isnull=True, dst__source=node_key.source,
                                          dst__kind=node_key.kind, dst__source_id=node_key.source_id).select_related("src")
            for edge in holders:
                facts.append(mapping.store.EdgeClose("contains", mapping.store.NodeKey(edge.src.source, edge.src.kind,
                                                                                       edge.src.source_id), node_key, at=now))
        return facts

    def _model_or_warning(self, body: dict) -> tuple[list, dict, dict | None]:
        try:
            facts, read = self._model(body)
        except Exception as exc:
            if not _object_failure(exc):
                raise
            return [], {}, _warning(f"model {body.get('id')} ({body.get('name') or ''})", exc)
        return facts, read, None

    def _model(self, body: dict) -> tuple[list, dict]:
        read = {"model_versions": 0, "contents": 0}
        mid = body["id"]
        base = f"/modelRepository/models/{mid}"
        snapshots = list(self.client.collection(href(body, "modelVersions") or f"{base}/modelVersions", limit=self.batch))
        read["model_versions"] += len(snapshots) + 1
        contents = [self._content(c) for c in self.client.collection(href(body, "contents") or f"{base}/contents", limit=self.batch)]
        read["contents"] += len(contents)
        snapshot_contents = {}
        for snap in snapshots:
            files = snap.get("files")
            if files is None:
                url = href(snap, "contents") or f"{base}/modelVersions/{snap['id']}/contents"
                try:
                    files = list(self.client.collection(url, limit=self.batch))
                except ViyaNotFound:
                    files = []
            snapshot_contents[snap["id"]] = [self._content(f) for f in files]
            read["contents"] += len(files)
        return mapping.model_facts(self.keys, body, snapshots=snapshots, contents=contents,
                                   snapshot_contents=snapshot_contents), read

    def _content(self, body: dict) -> dict:
        if not self.download_digests:
            return mapping.content_summary(body)
        url = href(body, "content") or (href(body, "self") or "") + "/content"
        data = self.client.download(url)
        return mapping.content_summary(body, size=len(data), digest="sha256:" + hashlib.sha256(data).hexdigest())

    def _history(self, project: dict) -> list | None:
        url = href(project, "projectHistory")
        if not url:
            return None
        try:
            return [{k: v for k, v in h.items() if k != "links"}
                    for h in self.client.collection(url, limit=self.batch)]
        except ViyaNotFound:
            return None

    def _workflows(self) -> tuple[dict | None, dict]:
        """Workflow processes and tasks by the project they are associated with, or None when the workflow
        service is absent (404), which is noted in the page's read counts rather than failing the harvest."""
        if not self.workflows:
            return None, {}
        try:
            associations = list(self.client.collection(WORKFLOW_PATHS["associations"], limit=self.batch))
        except ViyaNotFound:
            return None, {"workflows_skipped": 1}
        processes, tasks = {}, {}
        try:
            processes = {p.get("id"): p for p in self.client.collection(WORKFLOW_PATHS["processes"], limit=self.batch)}
            for t in self.client.collection(WORKFLOW_PATHS["tasks"], limit=self.batch):
                tasks.setdefault(t.get("processId"), []).append(t)
        except ViyaNotFound:
            pass
        by_project: dict[str, list] = {}
        for a in associations:
            m = mapping.PROJECT_URI.search(a.get("solutionObjectUri") or a.get("objectUri") or "")
            if not m:
                continue
            proc = processes.get(a.get("processId"), {})
            by_project.setdefault(m.group(1), []).append({
                "process_id": a.get("processId"), "process_name": a.get("processName") or proc.get("name") or "",
                "state": proc.get("state") or a.get("state") or "",
                "tasks": [{"id": t.get("id"), "name": t.get("name"), "state": t.get("state"),
                           "actual_owner": t.get("actualOwner") or ""} for t in tasks.get(a.get("processId"), [])],
            })
        return by_project, {"workflow_associations": len(associations), "workflow_processes": len(processes)}


def _restore(stamps: dict, key: str, value) -> None:
    if value is None:
        stamps.pop(key, None)
    else:
        stamps[key] = value


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]
