"""Write-back (used by approvals): set a project's champion and publish a model version, against the Viya
stand-in with the recorded request shapes — right method, media type and If-Match; refused unless enabled;
idempotent; audited; and the next harvest records the champion change as time-stamped facts."""
from __future__ import annotations

import json

import pytest

from connectors.base import run_harvest
from connectors.models import ConnectorConfig
from connectors.viya.client import MODEL, PUBLISH_REQUEST
from connectors.viya.errors import ViyaNotFound
from devtools.viya.fake_server import FakeViya
from devtools.viya.fake_state import ViyaState
from connectors.viya.plugin import execute_promotion
from tests.support.viya import connector_for
from governance.audit.models import AuditEntry
from lineage.models import Edge, Node
from tests.conftest import shared_fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake():
    state = ViyaState.from_recordings(shared_fixture("viya", "viya_202310"))
    with FakeViya(state) as viya:
        yield viya


def _config(fake, enabled=True):
    config = ConnectorConfig(name="viya-test", kind="viya", settings={"url": fake.url, "username": "viya-user"},
                             write_back_enabled=enabled)
    config.set_secrets({"password": "viya-password"})
    config.save()
    return config


def _two_models_of_one_project(fake):
    by_project = {}
    for m in fake.state.items("model").values():
        by_project.setdefault(m["projectId"], []).append(m)
    return next(ms for ms in by_project.values() if len(ms) >= 2)


def _version_node(fake, model):
    return Node.objects.get(source="viya", kind="model_version",
                            source_id=f"{fake.url.split('://')[1]}/model/{model['id']}/version/{model['modelVersionName']}")


def test_refused_unless_write_back_is_enabled(fake):
    run_harvest(connector_for(fake))
    model = _two_models_of_one_project(fake)[0]
    with pytest.raises(PermissionError, match="write-back is disabled"):
        execute_promotion(_config(fake, enabled=False), _version_node(fake, model), {"action": "set_champion"})
    assert not fake.calls_to("POST", "/modelRepository/projects")


def test_set_champion_sends_if_match_and_is_idempotent_and_audited(fake):
    run_harvest(connector_for(fake))
    first, second = _two_models_of_one_project(fake)[:2]
    config = _config(fake)
    project_etag = fake.state.etag("project", (first["projectId"],))

    result = execute_promotion(config, _version_node(fake, first), {"action": "set_champion"})
    assert result["status"] == "done"
    [call] = fake.calls_to("POST", f"/modelRepository/projects/{first['projectId']}/champion")
    assert call.headers["If-Match"] == project_etag and project_etag.startswith('W/"')
    assert call.headers["Accept"] == MODEL and f"modelId={first['id']}" in call.query
    assert fake.state.get("model", first["id"])["role"] == "champion"

    again = execute_promotion(config, _version_node(fake, first), {"action": "set_champion"})
    assert again["status"] == "unchanged"
    assert len(fake.calls_to("POST", "/modelRepository/projects")) == 1
    actions = list(AuditEntry.objects.filter(action="viya.writeback.set_champion").values_list("after", flat=True))
    assert [a["status"] for a in actions] == ["done", "unchanged"]
    assert "viya-password" not in json.dumps(actions)

    # The next harvest keeps the change as time-stamped facts; a new champion closes the old edge.
    run_harvest(connector_for(fake))
    project = Node.objects.get(source="viya", kind="project", source_id__endswith=first["projectId"])
    assert project.properties["champion"]["model_id"] == first["id"]
    open_champion = Edge.objects.get(src=project, kind="contains", properties__role="champion", valid_to__isnull=True)
    assert open_champion.dst == _version_node(fake, first)

    execute_promotion(config, _version_node(fake, second), {"action": "set_champion"})
    run_harvest(connector_for(fake))
    champion_edges = Edge.objects.filter(src=project, kind="contains", properties__role="champion").order_by("valid_from")
    assert [(e.dst_id, e.valid_to is None) for e in champion_edges] == [
        (_version_node(fake, first).pk, False), (_version_node(fake, second).pk, True)]
    assert [r.properties["champion"]["model_id"] for r in project.revisions.order_by("valid_from", "pk")
            if r.properties.get("champion")] == [first["id"], second["id"]]
    model_roles = [r.properties["role"] for r in Node.objects.get(
        source="viya", kind="model", source_id__endswith=first["id"]).revisions.order_by("valid_from", "pk")]
    assert model_roles[-2:] == ["champion", "plain"]


def test_stale_etag_is_reread_once(fake):
    run_harvest(connector_for(fake))
    model = _two_models_of_one_project(fake)[0]
    client = connector_for(fake).client
    real = client.set_champion
    attempts = []

    def stale_first(project_id, model_id, etag=None):
        attempts.append(1)
        return real(project_id, model_id, etag='W/"1"' if len(attempts) == 1 else None)

    client.set_champion = stale_first
    result = execute_promotion(_config(fake), _version_node(fake, model), {"action": "set_champion"}, client=client)
    assert result["status"] == "done" and len(attempts) == 2
    statuses = [c for c in fake.calls if c.method == "POST" and c.path.endswith("/champion")]
    assert len(statuses) == 2


def test_publish_posts_the_recorded_request_shape_once(fake):
    run_harvest(connector_for(fake))
    model = _two_models_of_one_project(fake)[0]
    config = _config(fake)
    node = _version_node(fake, model)
    before = len(fake.state.items("publish"))
    result = execute_promotion(config, node, {"action": "publish", "destination": "maslocal"})
    assert result["status"] == "done" and result["destination"] == "maslocal"
    [call] = fake.calls_to("POST", "/modelManagement/publish")
    assert call.headers["Content-Type"] == PUBLISH_REQUEST
    body = json.loads(call.body)
    assert body["destinationName"] == "maslocal"
    assert body["modelContents"][0]["sourceUri"] == f"/modelRepository/models/{model['id']}"
    assert body["modelContents"][0]["publishLevel"] == "model"
    assert len(fake.state.items("publish")) == before + 1

    again = execute_promotion(config, node, {"action": "publish", "destination": "maslocal"})
    assert again["status"] == "unchanged" and again["publish_id"] == result["publish_id"]
    assert len(fake.calls_to("POST", "/modelManagement/publish")) == 1

    run_harvest(connector_for(fake))
    deployment = Node.objects.get(source="viya", kind="deployment", source_id__endswith=result["publish_id"])
    assert Edge.objects.filter(src=node, dst=deployment, kind="deployed_as", valid_to__isnull=True).exists()


def test_publish_to_an_unknown_destination_fails_clearly_and_is_audited(fake):
    run_harvest(connector_for(fake))
    model = _two_models_of_one_project(fake)[0]
    with pytest.raises(ViyaNotFound, match="no-such-destination"):
        execute_promotion(_config(fake), _version_node(fake, model), {"action": "publish", "destination": "no-such-destination"})
    assert not fake.calls_to("POST", "/modelManagement/publish")
    entry = AuditEntry.objects.get(action="viya.writeback.publish")
    assert entry.after["status"] == "failed"


@pytest.mark.parametrize("action, message", [
    ({"action": "delete_everything"}, "unknown Viya write-back action"),
    ({"action": "publish"}, "needs a destination"),
])
def test_bad_actions_are_refused_before_calling_viya(fake, action, message):
    run_harvest(connector_for(fake))
    model = _two_models_of_one_project(fake)[0]
    calls = len(fake.calls)
    with pytest.raises(ValueError, match=message):
        execute_promotion(_config(fake), _version_node(fake, model), action)
    assert not [c for c in fake.calls[calls:] if c.method == "POST" and not c.path.startswith("/SASLogon")]


def test_publishing_an_earlier_version_names_its_snapshot():
    state = ViyaState()
    repo = state.add_repository("Public", when="2026-01-01T00:00:00Z")
    project = state.add_project(repo, "Risk", when="2026-01-01T00:00:00Z")
    model = state.add_model(project, "scorecard", versions=3, when="2026-01-02T00:00:00Z")
    state.add_destination("maslocal")
    with FakeViya(state) as fake:
        run_harvest(connector_for(fake))
        host = fake.url.split("://")[1]
        old = Node.objects.get(source="viya", source_id=f"{host}/model/{model['id']}/version/1.0")
        config = _config(fake)
        result = execute_promotion(config, old, {"action": "publish", "destination": "maslocal"})
        [call] = fake.calls_to("POST", "/modelManagement/publish")
        source_uri = json.loads(call.body)["modelContents"][0]["sourceUri"]
        assert source_uri == f"/modelRepository/models/{model['id']}/modelVersions/{old.properties['snapshot_id']}"
        assert result["version_name"] == "1.0"
        assert fake.state.get("publish", result["publish_id"])["modelVersionId"] == "1.0"
        with pytest.raises(ValueError, match="current version the champion"):
            execute_promotion(config, old, {"action": "set_champion"})
