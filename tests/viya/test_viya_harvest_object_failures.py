"""One Viya object must not sink a harvest: a project whose projectVersions answer 404 (deleted between
listing and reading) or 403 (the harvest account may not read it), or a model whose versions do, is skipped
with a warning (object and reason); the harvest continues and ends "partial"; the API and the dashboard show
it; the next harvest reads the skipped objects again. A source that is down still fails the harvest."""
from __future__ import annotations

import pytest

from connectors.models import ConnectorConfig, Harvest
from devtools.viya.fake_server import FakeViya
from devtools.viya.fake_state import ViyaState
from dashboard.pages.connectors import history_rows
from lineage.models import Node
from tests.support.http_proxy import FaultyProxy

pytestmark = pytest.mark.django_db
URL = "/api/connectors/"


def _state():
    state = ViyaState()
    repo = state.add_repository("Repo", when="2026-01-01T00:00:00Z")
    projects = [state.add_project(repo, f"project-{i}", when="2026-01-02T00:00:00Z") for i in range(3)]
    models = [state.add_model(p, f"model-{i}", versions=2, when="2026-01-03T00:00:00Z") for i, p in enumerate(projects)]
    state.add_destination("maslocal", when="2026-01-01T00:00:00Z")
    for model in models[:2]:
        state.add_publish(model, "maslocal", state="completed", when="2026-01-04T00:00:00Z")
    return state, projects, models


@pytest.fixture
def served():
    state, projects, models = _state()
    with FakeViya(state) as viya, FaultyProxy(viya.url) as proxy:
        config = ConnectorConfig(name="viya-x", kind="viya", settings={"url": proxy.url, "username": "viya-user",
                                                                       "timeout": 5, "workflows": False})
        config.set_secrets({"password": "viya-password"})
        config.save()
        yield proxy, projects, models


def _nodes(kind):
    """Nodes harvested from their own record (an edge to a skipped project leaves a bare placeholder)."""
    return {n.properties.get("viya_id") for n in Node.objects.filter(source="viya", kind=kind)} - {None}


def test_unreadable_projects_and_models_are_warnings_and_are_read_next_time(clients, served):
    proxy, projects, models = served
    gone, forbidden, fine = projects
    proxy.inject(rf"/projects/{gone['id']}/projectVersions", status=404)
    proxy.inject(rf"/projects/{forbidden['id']}/projectVersions", status=403)
    proxy.inject(rf"/models/{models[2]['id']}/modelVersions", status=403)

    r = clients["admin"].post(URL + "viya-x/harvest/")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "partial" and body["counts"]["warnings"] == 3
    reasons = {w["object"].split(" (")[0]: w["reason"] for w in body["warnings"]}
    assert set(reasons) == {f"project {gone['id']}", f"project {forbidden['id']}", f"model {models[2]['id']}"}
    assert "404" in reasons[f"project {gone['id']}"] and "403" in reasons[f"project {forbidden['id']}"]
    # Everything else landed.
    assert _nodes("project") == {fine["id"]}
    assert {m["id"] for m in models[:2]} <= _nodes("model") and models[2]["id"] not in _nodes("model")

    # Every role sees partial harvests and their warnings.
    listed = clients["engineer"].get("/api/harvests/", {"status": "partial"}).json()["results"]
    assert [h["id"] for h in listed] == [body["id"]] and listed[0]["warnings"] == body["warnings"]
    row = next(r for r in history_rows() if r[0] == body["id"])
    assert row[4] == "partial" and f"project {gone['id']}" in str(row[10])

    # The objects are back (or readable again): the next harvest reads exactly them.
    again = clients["admin"].post(URL + "viya-x/harvest/").json()
    assert again["status"] == "succeeded" and again["warnings"] == []
    assert again["counts"]["read"]["projects_changed"] == 2 and again["counts"]["read"]["models_changed"] == 1
    assert _nodes("project") == {p["id"] for p in projects} and {m["id"] for m in models} <= _nodes("model")


def test_a_publish_whose_log_is_forbidden_is_a_warning(clients, served):
    proxy, projects, models = served
    proxy.inject(r"/modelPublish/models/[^/]+/log", status=403, times=1)
    first = clients["admin"].post(URL + "viya-x/harvest/").json()
    assert first["status"] == "partial" and first["counts"]["read"]["publishes_changed"] == 1
    [warning] = first["warnings"]
    assert warning["object"].startswith("publish ") and "403" in warning["reason"]
    assert Node.objects.filter(source="viya", kind="deployment").count() == 1
    again = clients["admin"].post(URL + "viya-x/harvest/").json()
    assert again["status"] == "succeeded" and again["counts"]["read"]["publishes_changed"] == 1
    assert Node.objects.filter(source="viya", kind="deployment").count() == 2


def test_a_source_that_is_down_still_fails_the_harvest(clients, served):
    proxy, projects, models = served
    proxy.inject(r"/modelRepository/projects", status=503, times=100)
    r = clients["admin"].post(URL + "viya-x/harvest/")
    assert r.status_code == 502 and r.json()["status"] == "failed"
    assert Harvest.objects.get().warnings == []
