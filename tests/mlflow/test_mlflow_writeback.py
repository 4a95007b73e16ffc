"""An approved promotion of an MLflow model version, written back to a real MLflow server as an alias and a
tag (opt-in per connector, audited), read back through MLflow's own client; and refused or only recorded
when the connector does not allow it."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from connectors.mlflow.harvest import instance_of
from connectors.models import ConnectorConfig
from tests.support import approvals as t
from governance.approvals.models import StageAssignment
from governance.audit.models import AuditEntry
from lineage.models import Node
from tests.support.mlflow_scenario import client, log_run, register, unique

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
URL = "/api/promotion-requests/"


def _harvested_version(url):
    c = client(url)
    rid, model_id = log_run(c, c.create_experiment(unique("wb")), name="train")
    name = unique("wb-model")
    version = register(c, name, rid, model_id)
    call_command("harvest", "mlflow", "--tracking-uri", url, "--no-progress", stdout=io.StringIO())
    node = Node.objects.get(source="mlflow", kind="model_version",
                            source_id=f"{instance_of(url)}/model/{name}/version/{version}")
    return c, name, version, node


def _config(url, write_back=True):
    config = ConnectorConfig(name="mlflow-prod", kind="mlflow", settings={"tracking_uri": url},
                             write_back_enabled=write_back)
    config.set_secrets({})
    config.save()
    return config


def _approve(clients, node):
    req = clients["engineer"].post(URL, {"node": node.pk, "target_stage": "production",
                                         "justification": "Validated on the holdout set", "submit": True},
                                   format="json").json()
    assert req["state"] == "pending", req
    clients["approver"].post(f"{URL}{req['id']}/approve/", {"comment": "ok"}, format="json")
    return clients["admin"].post(f"{URL}{req['id']}/approve/", {"comment": "go"}, format="json")


def test_approved_promotion_sets_the_alias_and_tag_in_mlflow(clients, mlflow_server):
    c, name, version, node = _harvested_version(mlflow_server.url)
    # The gates see MLflow's provenance: the producing run, its metrics, its status.
    t.open_policy("production", approvals=2, require_producing_run=True, forbid_failed_runs=True,
                  required_metrics={"auc": {">=": 0.8}}, source_actions={
                      "mlflow": {"action": "set_alias", "alias": "production", "tags": {"approved_stage": "production"}}})
    _config(mlflow_server.url)
    r = _approve(clients, node)
    assert r.status_code == 200, r.content
    done = r.json()
    assert done["state"] == "executed" and done["execution"]["status"] == "succeeded"
    assert done["execution"]["result"]["status"] == "done" and done["execution"]["result"]["previous_version"] is None
    gates = {g["gate"]: g["passed"] for g in clients["admin"].get(f"{URL}{done['id']}/").json()["gates"]}
    assert gates == {"producing_run": True, "metrics": True, "no_failed_run": True}, gates

    # Read back through MLflow's client.
    assert c.get_model_version_by_alias(name, "production").version == version
    assert c.get_model_version(name, version).tags["approved_stage"] == "production"
    assert StageAssignment.objects.get(node=node, superseded_at__isnull=True).stage.name == "production"
    entry = AuditEntry.objects.get(action="mlflow.writeback.set_alias")
    assert entry.after["status"] == "done" and entry.after["connector"] == "mlflow-prod"

    # The next harvest sees the alias on the version.
    call_command("harvest", "mlflow", "--tracking-uri", mlflow_server.url, "--no-progress", stdout=io.StringIO())
    node.refresh_from_db()
    assert node.properties["aliases"] == ["production"] and node.properties["tags"]["approved_stage"] == "production"


def test_executing_again_changes_nothing_in_mlflow(mlflow_server):
    from connectors.mlflow.writeback import execute_promotion

    c, name, version, node = _harvested_version(mlflow_server.url)
    config = _config(mlflow_server.url)
    first = execute_promotion(config, node, {"action": "set_alias", "alias": "staging"})
    assert first["changed"] == ["alias", "tag:lineage_ledger.promoted_to"]
    again = execute_promotion(config, node, {"action": "set_alias", "alias": "staging"})
    assert again["status"] == "unchanged" and again["previous_version"] == version
    assert c.get_model_version(name, version).tags["lineage_ledger.promoted_to"] == "staging"
    assert AuditEntry.objects.filter(action="mlflow.writeback.set_alias").count() == 2


def test_write_back_off_or_bad_alias_touches_nothing(clients, mlflow_server):
    from connectors.mlflow.writeback import execute_promotion

    c, name, version, node = _harvested_version(mlflow_server.url)
    config = _config(mlflow_server.url, write_back=False)
    with pytest.raises(PermissionError):
        execute_promotion(config, node, {"action": "set_alias", "alias": "production"})
    config.write_back_enabled = True
    config.save()
    for alias in ("latest", "v3", "no spaces", ""):
        with pytest.raises(ValueError):
            execute_promotion(config, node, {"action": "set_alias", "alias": alias})
    assert c.get_registered_model(name).aliases == {}

    config.write_back_enabled = False
    config.save()
    t.open_policy("production", approvals=2, source_actions={"mlflow": {"action": "set_alias", "alias": "production"}})
    done = _approve(clients, node).json()
    assert done["execution"]["status"] == "recorded" and "does not have write-back enabled" in done["execution"]["note"]
    assert c.get_registered_model(name).aliases == {}
