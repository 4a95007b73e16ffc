"""Connector configuration API: admins write (audited, secrets write-only), every role reads harvests,
outsiders get 403 and anonymous callers 401; "harvest now" runs a real harvest against a fake KFP API."""
import json

import pytest

from devtools.kubeflow import demo
from devtools.kubeflow.fake_api import FakeKfpServer
from connectors.models import ConnectorConfig, Harvest
from governance.audit.models import AuditEntry
from lineage.models import Node

pytestmark = pytest.mark.django_db

URL = "/api/connectors/"
GOOD = {"name": "kfp-prod", "kind": "kubeflow",
        "settings": {"kfp_host": "http://kfp.example:8888", "mlmd_host": "metadata-grpc-service", "mlmd_port": 8080},
        "secrets": {"kfp_token": "s3cret-token-value"}}


def create(clients, body=GOOD):
    return clients["admin"].post(URL, body, format="json")


def test_admin_creates_a_connector_audited_with_secrets_redacted(clients):
    response = create(clients)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret_names"] == ["kfp_token"]
    assert "secrets" not in body and "s3cret-token-value" not in response.content.decode()
    config = ConnectorConfig.objects.get(name="kfp-prod")
    assert config.secrets == {"kfp_token": "s3cret-token-value"}
    assert "s3cret-token-value" not in config.encrypted_secrets  # encrypted at rest
    entry = AuditEntry.objects.get(action="connector.create")
    assert entry.actor_username == "admin" and entry.object_id == str(config.pk)
    assert entry.after["secrets"] == {"kfp_token": "********"}
    assert "s3cret-token-value" not in json.dumps(entry.after)


def test_update_keeps_unnamed_secrets_and_removes_null_ones(clients):
    create(clients)
    url = URL + "kfp-prod/"
    r = clients["admin"].patch(url, {"settings": {**GOOD["settings"], "namespace": "team-a"},
                                     "secrets": {"mlmd_password": "pw"}}, format="json")
    assert r.status_code == 200, r.content
    assert ConnectorConfig.objects.get().secrets == {"kfp_token": "s3cret-token-value", "mlmd_password": "pw"}
    r = clients["admin"].patch(url, {"secrets": {"kfp_token": None}}, format="json")
    assert r.json()["secret_names"] == ["mlmd_password"]
    entry = AuditEntry.objects.filter(action="connector.update").order_by("-seq").first()
    assert entry.before["secrets"] == {"kfp_token": "********", "mlmd_password": "********"}
    assert entry.after["secrets"] == {"mlmd_password": "********"}
    assert clients["admin"].delete(url).status_code == 204
    assert AuditEntry.objects.get(action="connector.delete").before["name"] == "kfp-prod"
    assert not ConnectorConfig.objects.exists()


BAD = [
    ({**GOOD, "settings": {"kfp_host": "not a url"}}, "settings"),
    ({**GOOD, "settings": {}}, "settings"),
    ({**GOOD, "settings": {"kfp_host": "http://x", "bogus": 1}}, "settings"),
    ({**GOOD, "settings": {"mlmd_sqlite": "/a", "mlmd_host": "b"}}, "settings"),
    ({**GOOD, "settings": {"kfp_host": "http://x", "timeout": -1}}, "settings"),
    ({**GOOD, "secrets": {"password": "x"}}, "settings"),
    ({**GOOD, "kind": "nosuch"}, "kind"),
    ({**GOOD, "name": "not a slug!"}, "name"),
    ({**GOOD, "settings": "x"}, "settings"),
]


def test_bad_configuration_is_a_400_and_changes_nothing(clients):
    before = AuditEntry.objects.count()
    for body, field in BAD:
        response = create(clients, body)
        assert response.status_code == 400, body
        assert response.json()["error"] and field in json.dumps(response.json()["detail"]), response.json()
        assert not ConnectorConfig.objects.exists()
        assert AuditEntry.objects.count() == before


def test_kind_cannot_change(clients):
    create(clients)
    r = clients["admin"].patch(URL + "kfp-prod/", {"kind": "viya"}, format="json")
    assert r.status_code == 400


def test_only_admins_see_or_write_connectors(clients):
    create(clients)
    for who, code in [("engineer", 403), ("auditor", 403), ("approver", 403), ("outsider", 403), ("anonymous", 401)]:
        assert clients[who].get(URL).status_code == code, who
        assert clients[who].get(URL + "kfp-prod/").status_code == code, who
        assert clients[who].post(URL, {**GOOD, "name": "other"}, format="json").status_code == code, who
        assert clients[who].patch(URL + "kfp-prod/", {"enabled": False}, format="json").status_code == code, who
        assert clients[who].delete(URL + "kfp-prod/").status_code == code, who
        assert clients[who].post(URL + "kfp-prod/harvest/").status_code == code, who
    assert ConnectorConfig.objects.get().enabled is True
    assert not Harvest.objects.exists()
    assert clients["admin"].get(URL).json()["results"][0]["name"] == "kfp-prod"


def test_harvests_are_readable_by_every_role(clients):
    made = Harvest.objects.create(source_key="kubeflow:x", kind="kubeflow", status="succeeded")
    for who, code in [("engineer", 200), ("auditor", 200), ("approver", 200), ("admin", 200), ("outsider", 403),
                      ("anonymous", 401)]:
        response = clients[who].get("/api/harvests/")
        assert response.status_code == code, who
        if code == 200:
            assert response.json()["results"][0]["source_key"] == "kubeflow:x"
            assert clients[who].get(f"/api/harvests/{made.pk}/").json()["status"] == "succeeded"
        assert clients[who].post("/api/harvests/", {}, format="json").status_code in (401, 403, 405), who
        assert clients[who].delete(f"/api/harvests/{made.pk}/").status_code in (401, 403, 405), who
    assert Harvest.objects.filter(pk=made.pk).exists()


def test_harvest_now_runs_a_real_harvest_and_records_it(clients, users, tmp_path):
    source = demo.generate(tmp_path / "mlmd.sqlite")
    with FakeKfpServer.serving(source, token="tok") as server:
        body = {"name": "kfp-demo", "kind": "kubeflow",
                "settings": {"kfp_host": server.url, "mlmd_sqlite": str(source.mlmd_path), "retry_attempts": 2,
                             "retry_base_delay": 0.01},
                "secrets": {"kfp_token": "tok"}}
        assert create(clients, body).status_code == 201
        response = clients["admin"].post(URL + "kfp-demo/harvest/")
        assert response.status_code == 201, response.content
        harvest = response.json()
        assert harvest["status"] == "succeeded" and harvest["connector"] == "kfp-demo"
        assert harvest["counts"]["read"]["runs"] == len(source.runs)
        assert Node.objects.filter(source_id=f"kfp-demo/run/{demo.DEMO_KFP_RUN_ID}").exists()
        entry = AuditEntry.objects.get(action="harvest.succeeded")
        assert entry.actor_id == users["admin"].pk and entry.actor_username == "admin"
        assert Harvest.objects.get(pk=harvest["id"]).actor == "harvester:kubeflow"
        # Every role can now read that record; filtering by connector works.
        listed = clients["engineer"].get("/api/harvests/", {"connector": "kfp-demo"}).json()["results"]
        assert [h["id"] for h in listed] == [harvest["id"]]
        # A wrong token gives a failed harvest record and a 502, not a crash.
        clients["admin"].patch(URL + "kfp-demo/", {"secrets": {"kfp_token": "wrong"}}, format="json")
        failed = clients["admin"].post(URL + "kfp-demo/harvest/")
        assert failed.status_code == 502
        assert failed.json()["status"] == "failed" and "credentials" in failed.json()["error"]
        assert "wrong" not in json.dumps(failed.json())


def test_disabled_connector_is_not_harvested(clients):
    create(clients, {**GOOD, "enabled": False})
    assert clients["admin"].post(URL + "kfp-prod/harvest/").status_code == 409
    assert not Harvest.objects.exists()
