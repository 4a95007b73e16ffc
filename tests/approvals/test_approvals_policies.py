"""Stages and their policies: defaults from the data migration, edited by admins only (API and Django
admin), validated, audited, and snapshotted onto requests at submission."""
import json

import pytest

from tests.support import approvals as t
from governance.approvals.models import Stage, StagePolicy
from governance.audit.models import AuditEntry
from lineage.kinds import NodeKind

POLICIES = "/api/stage-policies/"


@pytest.mark.django_db
def test_default_stages_and_policies_exist(clients):
    stages = [s["name"] for s in clients["auditor"].get("/api/stages/").json()["results"]]
    assert sorted(stages) == ["production", "retired", "staging"]
    production = clients["engineer"].get(POLICIES + "production/").json()
    assert production["required_approvals"] == 2 and production["author_may_approve"] is False
    assert production["source_actions"] == {"viya": {"action": "set_champion"}}
    assert clients["engineer"].get(POLICIES + "staging/").json()["required_approvals"] == 1


@pytest.mark.django_db
def test_admin_edits_a_policy_and_the_change_is_audited(clients):
    body = {"required_approvals": 3, "required_metrics": {"accuracy": {">=": 0.85}}, "expiry_hours": 48}
    r = clients["admin"].patch(POLICIES + "production/", body, format="json")
    assert r.status_code == 200, r.content
    assert StagePolicy.objects.get(stage__name="production").required_approvals == 3
    entry = AuditEntry.objects.get(action="stage_policy.update")
    assert entry.actor_username == "admin"
    assert entry.before["required_approvals"] == 2 and entry.after["required_approvals"] == 3
    assert entry.after["required_metrics"] == {"accuracy": {">=": 0.85}}


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["engineer", "approver", "auditor", "outsider", "anonymous"])
def test_only_admins_configure(clients, who):
    r = clients[who].patch(POLICIES + "production/", {"required_approvals": 1}, format="json")
    assert r.status_code in (401, 403)
    assert clients[who].post("/api/stages/", {"name": "canary"}, format="json").status_code in (401, 403)
    assert StagePolicy.objects.get(stage__name="production").required_approvals == 2
    entries = AuditEntry.objects.filter(object_type__in=["stage", "stage_policy"])
    assert not entries.exclude(action__endswith=".refused").exists()
    # Each refused attempt is audited under the caller's name (governance.audit.refusals); anonymous is not.
    assert entries.count() == (0 if who == "anonymous" else 2)


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    {"required_metrics": {"accuracy": {"~=": 0.8}}},
    {"required_metrics": {"accuracy": {">=": "high"}}},
    {"required_metrics": ["accuracy"]},
    {"required_approvals": 0},
    {"max_training_hops": 0},
    {"expiry_hours": 0},
    {"source_actions": {"viya": "set_champion"}},
    {"source_actions": {"viya": {"action": ""}}},
    {"stage": "staging"},
])
def test_invalid_policies_are_400_and_change_nothing(clients, body):
    before = StagePolicy.objects.get(stage__name="production").snapshot()
    r = clients["admin"].patch(POLICIES + "production/", body, format="json")
    assert r.status_code == 400 and r.json()["error"] == "invalid"
    assert StagePolicy.objects.get(stage__name="production").snapshot() == before
    assert not AuditEntry.objects.filter(object_type="stage_policy").exists()


@pytest.mark.django_db
def test_admin_adds_a_stage_with_its_policy_and_it_can_be_requested(clients):
    assert clients["admin"].post("/api/stages/", {"name": "canary", "order": 15}, format="json").status_code == 201
    mv = t.node(NodeKind.MODEL_VERSION, "x-v1")
    body = {"node": mv.pk, "target_stage": "canary", "justification": "j"}
    r = clients["engineer"].post("/api/promotion-requests/", body, format="json")
    assert r.status_code == 400 and "no policy" in r.json()["detail"]
    r = clients["admin"].post(POLICIES, {"stage": "canary", "required_approvals": 1, "require_producing_run": False,
                                         "max_training_hops": None, "forbid_failed_runs": False}, format="json")
    assert r.status_code == 201, r.content
    assert clients["engineer"].post("/api/promotion-requests/", body, format="json").status_code == 201
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"stage.create", "stage_policy.create"} <= actions
    # A stage that requests refer to cannot be deleted.
    assert clients["admin"].delete("/api/stages/canary/").status_code == 409
    assert Stage.objects.filter(name="canary").exists()


@pytest.mark.django_db
def test_a_policy_edit_does_not_change_the_rules_of_a_pending_request(clients):
    t.open_policy("production", approvals=2)
    mv = t.node(NodeKind.MODEL_VERSION, "y-v1")
    req = clients["engineer"].post("/api/promotion-requests/", {"node": mv.pk, "target_stage": "production",
                                                                "justification": "j", "submit": True},
                                   format="json").json()
    clients["admin"].patch(POLICIES + "production/", {"required_approvals": 1}, format="json")
    after_one = clients["approver"].post(f"/api/promotion-requests/{req['id']}/approve/", {}, format="json").json()
    assert after_one["state"] == "pending" and after_one["required_approvals"] == 2


@pytest.mark.django_db
def test_django_admin_edits_are_validated_and_audited(client, users):
    users["admin"].is_staff = True
    users["admin"].is_superuser = True
    users["admin"].save()
    client.force_login(users["admin"])
    policy = StagePolicy.objects.get(stage__name="staging")
    url = f"/admin/approvals/stagepolicy/{policy.pk}/change/"
    assert client.get(url).status_code == 200
    form = {"stage": policy.stage_id, "required_approvals": 2, "require_producing_run": "on",
            "max_training_hops": "", "required_metrics": json.dumps({"f1": {"~": 1}}), "forbid_failed_runs": "on",
            "expiry_hours": "", "source_actions": "{}"}
    assert client.post(url, form).status_code == 200  # the form again, with the error
    assert StagePolicy.objects.get(pk=policy.pk).required_approvals == 1
    form["required_metrics"] = json.dumps({"f1": {">": 0.7}})
    assert client.post(url, form).status_code == 302
    assert StagePolicy.objects.get(pk=policy.pk).required_approvals == 2
    entry = AuditEntry.objects.get(action="stage_policy.update")
    assert entry.actor_username == "admin" and entry.reason == "Django admin"
    assert entry.before["required_approvals"] == 1 and entry.after["required_metrics"] == {"f1": {">": 0.7}}
