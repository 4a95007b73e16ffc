"""Helpers the Viya tests share: a started fake, a connector pointed at it, and what the
recordings say should exist, derived independently of the fake's own index."""
from __future__ import annotations

import json
import re
from pathlib import Path

from connectors.retry import RetryPolicy
from connectors.viya import plugin
from devtools.viya.fake_server import FakeViya

FAST = RetryPolicy(attempts=6, base_delay=0.01, max_delay=0.05, jitter=False)
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def small_state():
    """A Viya with one repository, one project and three models of two versions each: the tests' smallest
    source that still pages and has something to change."""
    from devtools.viya.fake_state import ViyaState

    state = ViyaState()
    repo = state.add_repository("Public", when="2026-01-01T00:00:00Z")
    project = state.add_project(repo, "Churn", when="2026-01-01T00:00:00Z")
    for n in range(3):
        state.add_model(project, f"model-{n}", versions=2, when="2026-01-02T00:00:00Z")
    return state


def connector_for(fake: FakeViya, *, how: str = "password", timeout: float = 5.0, policy=FAST, **settings):
    if how == "password":
        s, sec = {"url": fake.url, "username": "viya-user"}, {"password": "viya-password"}
    elif how == "client":
        s, sec = {"url": fake.url, "client_id": "ll-harvester"}, {"client_secret": "ll-client-secret"}
    else:
        s, sec = {"url": fake.url}, {"token": fake.issue_token()}
    s.update(settings)
    s["timeout"] = timeout
    plugin.validate(s, sec)
    return plugin.build(s, sec, policy=policy)


def expected_from_recordings(folder: Path) -> dict:
    """What a harvest must end with, read straight from the recorded answers.

    Resources are found by the `self` links of every JSON body (top level, collection items, embedded
    modelVersions/files), the newest body of each wins, and whatever a recorded DELETE or 404 removed after
    it was last seen is gone, with its project's or model's members.
    """
    latest: dict[tuple, tuple] = {}
    removed: dict[tuple, str] = {}
    patterns = {
        "project": re.compile(rf"^/modelRepository/projects/({_UUID})$"),
        "model": re.compile(rf"^/modelRepository/models/({_UUID})$"),
        "snapshot": re.compile(rf"^/modelRepository/models/({_UUID})/modelVersions/({_UUID})$"),
        "content": re.compile(rf"^/modelRepository/models/({_UUID})/contents/({_UUID})$"),
        "publish": re.compile(rf"^/modelPublish/models/({_UUID})$"),
        "repository": re.compile(rf"^/modelRepository/repositories/({_UUID})$"),
    }

    def kind_of(path):
        for kind, pat in patterns.items():
            m = pat.match(path.split("?")[0])
            if m:
                return kind, m.groups()
        return None, None

    def visit(body, when):
        if isinstance(body, list):
            for b in body:
                visit(b, when)
            return
        if not isinstance(body, dict):
            return
        for item in body.get("items") or []:
            visit(item, when)
        me = next((link.get("href") for link in body.get("links") or []
                   if isinstance(link, dict) and link.get("rel") == "self"), None)
        kind, ident = kind_of(me or "")
        if kind:
            mark = (body.get("modifiedTimeStamp") or "", when)
            if (kind, ident) not in latest or _instant(mark[0]) >= _instant(latest[(kind, ident)][0][0]):
                latest[(kind, ident)] = (mark, body)
        for key in ("modelVersions", "files"):
            visit(body.get(key) or [], when)

    for n, path in enumerate(sorted(folder.glob("*.json"))):
        for it in json.loads(path.read_text()):
            when = (it["recorded_at"], n, it["seq"])
            kind, ident = kind_of(it["uri"])
            if kind and ((it["method"] == "DELETE" and it["status"] == 204) or (it["method"] == "GET" and it["status"] == 404)):
                removed[(kind, ident)] = max(str(when), removed.get((kind, ident), ""))
                continue
            if 200 <= it["status"] < 300:
                visit(it["response_body"], str(when))

    alive = {k: v[1] for k, v in latest.items() if not (k in removed and removed[k] >= v[0][1])}
    projects = {i[0]: b for (k, i), b in alive.items() if k == "project"}
    dead_projects = {i[0] for (k, i) in removed if k == "project"}
    models = {i[0]: b for (k, i), b in alive.items() if k == "model" and b.get("projectId") not in dead_projects}
    snapshots = {i: b for (k, i), b in alive.items() if k == "snapshot" and i[0] in models}
    contents = {i: b for (k, i), b in alive.items() if k == "content" and i[0] in models}
    return {
        "repositories": {i[0]: b for (k, i), b in alive.items() if k == "repository"},
        "projects": projects,
        "models": models,
        "snapshots": snapshots,
        "contents": contents,
        "publishes": {i[0]: b for (k, i), b in alive.items() if k == "publish"},
    }


def _instant(text):
    from connectors.viya import times

    try:
        return times.parse(text) or times.parse("1970-01-01T00:00:00Z")
    except ValueError:
        return times.parse("1970-01-01T00:00:00Z")
