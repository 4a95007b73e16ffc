"""Execution: on approval, act at the source through its connector when the policy maps an action and the
connector has write-back enabled; otherwise record the promotion only. The full flow runs on model versions
harvested from the Viya recordings, against the fake Viya."""
import pytest

from connectors.base import run_harvest
from connectors.models import ConnectorConfig
from connectors.viya.client import MODEL
from devtools.viya.fake_server import FakeViya
from devtools.viya.fake_state import ViyaState
from tests.support.viya import connector_for
from tests.support import approvals as t
from governance.approvals.models import Execution, StageAssignment
from governance.audit.models import AuditEntry
from lineage.models import Node
from tests.conftest import shared_fixture

pytestmark = pytest.mark.django_db
URL = "/api/promotion-requests/"


@pytest.fixture
def fake():
    state = ViyaState.from_recordings(shared_fixture("viya", "viya_202310"))
    with FakeViya(state) as viya:
        run_harvest(connector_for(viya))
        yield viya


def _config(fake, *, write_back=True, password="viya-password"):
    config = ConnectorConfig(name="viya-prod", kind="viya", settings={"url": fake.url, "username": "viya-user"},
                             write_back_enabled=write_back)
    config.set_secrets({"password": password})
    config.save()
    return config


def _a_model_in_a_project(fake):
    return next(m for m in sorted(fake.state.items("model").values(), key=lambda m: m["id"])
                if m.get("projectId") and m.get("role") != "champion")


def _version_node(fake, model):
    return Node.objects.get(source="viya", kind="model_version",
                            source_id=f"{fake.url.split('://')[1]}/model/{model['id']}/version/{model['modelVersionName']}")


def _production_policy():
    t.open_policy("production", approvals=2, forbid_failed_runs=True,
                  source_actions={"viya": {"action": "set_champion"}})


def _request_and_approve(clients, node):
    req = clients["engineer"].post(URL, {"node": node.pk, "target_stage": "production",
                                         "justification": "Champion candidate after review", "submit": True},
                                   format="json").json()
    assert req["state"] == "pending", req
    first = clients["approver"].post(f"{URL}{req['id']}/approve/", {"comment": "validated"}, format="json").json()
    assert first["state"] == "pending" and first["execution"] is None
    return clients["admin"].post(f"{URL}{req['id']}/approve/", {"comment": "go"}, format="json")


def test_full_flow_request_two_approvals_executed_champion_written_back(clients, fake):
    _production_policy()
    _config(fake)
    model = _a_model_in_a_project(fake)
    node = _version_node(fake, model)
    project_etag = fake.state.etag("project", (model["projectId"],))

    r = _request_and_approve(clients, node)
    assert r.status_code == 200, r.content
    done = r.json()
    assert done["state"] == "executed"
    assert done["execution"]["status"] == "succeeded" and done["execution"]["connector_name"] == "viya-prod"
    assert done["execution"]["result"]["status"] == "done" and done["execution"]["result"]["model_id"] == model["id"]

    # What the fake Viya received: one champion POST, on the model's project, conditional on its ETag.
    [call] = fake.calls_to("POST", f"/modelRepository/projects/{model['projectId']}/champion")
    assert call.headers["If-Match"] == project_etag
    assert call.headers["Accept"] == MODEL
    assert call.query == f"modelId={model['id']}"
    assert call.body == b""
    assert fake.state.get("model", model["id"])["role"] == "champion"

    assignment = StageAssignment.objects.get(node=node, superseded_at__isnull=True)
    assert assignment.stage.name == "production" and assignment.approved_by == ["approver", "admin"]
    actions = list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))
    tail = actions[actions.index("promotion.approved"):]
    assert tail == ["promotion.approved", "viya.writeback.set_champion", "promotion.execute", "stage.assign"]

    # Executing again (an admin retry, a duplicated task) does not touch Viya a second time.
    assert clients["admin"].post(f"{URL}{done['id']}/execute/", format="json").json()["state"] == "executed"
    assert len(fake.calls_to("POST", "/modelRepository/projects")) == 1


def test_write_back_disabled_records_the_promotion_only(clients, fake):
    _production_policy()
    _config(fake, write_back=False)
    node = _version_node(fake, _a_model_in_a_project(fake))
    done = _request_and_approve(clients, node).json()
    assert done["state"] == "executed" and done["execution"]["status"] == "recorded"
    assert "does not have write-back enabled" in done["execution"]["note"]
    assert not fake.calls_to("POST", "/modelRepository/projects")
    assert StageAssignment.objects.get(node=node).stage.name == "production"


def test_no_connector_for_the_source_records_the_promotion_only(clients, fake):
    _production_policy()
    node = _version_node(fake, _a_model_in_a_project(fake))
    done = _request_and_approve(clients, node).json()
    assert done["execution"]["status"] == "recorded" and "No connector of kind 'viya'" in done["execution"]["note"]
    assert not fake.calls_to("POST", "/modelRepository/projects")


def test_a_failed_write_back_leaves_the_request_approved_until_an_admin_retries(clients, fake):
    _production_policy()
    config = _config(fake, password="wrong-password")
    model = _a_model_in_a_project(fake)
    node = _version_node(fake, model)
    failed = _request_and_approve(clients, node).json()
    assert failed["state"] == "approved"
    assert failed["execution"]["status"] == "failed" and failed["execution"]["attempts"] == 1
    assert failed["execution"]["error"]
    assert "wrong-password" not in failed["execution"]["error"]
    assert not StageAssignment.objects.filter(node=node).exists()
    assert AuditEntry.objects.filter(action="promotion.execution_failed", object_id=str(failed["id"])).exists()

    config.set_secrets({"password": "viya-password"})
    config.save()
    assert clients["approver"].post(f"{URL}{failed['id']}/execute/", format="json").status_code == 403
    retried = clients["admin"].post(f"{URL}{failed['id']}/execute/", format="json").json()
    assert retried["state"] == "executed" and retried["execution"]["status"] == "succeeded"
    assert retried["execution"]["attempts"] == 2
    assert len(fake.calls_to("POST", f"/modelRepository/projects/{model['projectId']}/champion")) == 1
    assert Execution.objects.count() == 1


def test_with_several_connectors_of_a_kind_the_one_whose_url_the_node_came_from_acts(clients, fake):
    _production_policy()
    other = ConnectorConfig(name="viya-other", kind="viya", settings={"url": "http://127.0.0.1:9", "username": "u"},
                            write_back_enabled=True)
    other.set_secrets({"password": "p"})
    other.save()
    _config(fake)
    model = _a_model_in_a_project(fake)
    done = _request_and_approve(clients, _version_node(fake, model)).json()
    assert done["execution"]["status"] == "succeeded" and done["execution"]["connector_name"] == "viya-prod"
    assert len(fake.calls_to("POST", f"/modelRepository/projects/{model['projectId']}/champion")) == 1


def test_several_connectors_and_none_matching_is_a_failed_execution_not_a_guess(clients, fake):
    _production_policy()
    for n in (1, 2):
        c = ConnectorConfig(name=f"viya-elsewhere-{n}", kind="viya",
                            settings={"url": f"http://10.0.0.{n}:8080", "username": "u"}, write_back_enabled=True)
        c.set_secrets({"password": "p"})
        c.save()
    node = _version_node(fake, _a_model_in_a_project(fake))
    failed = _request_and_approve(clients, node).json()
    assert failed["state"] == "approved" and failed["execution"]["status"] == "failed"
    assert "none matches" in failed["execution"]["error"]
    assert not fake.calls_to("POST", "/modelRepository/projects")
