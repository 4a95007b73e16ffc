"""Separation of duties for overrides: whoever overrode a gate on a request cannot count as one of its
approvers (and an approver cannot then override its gates), unless the stage policy says
`overrider_may_approve` (off by default, for production as for every stage). Refused with a reason naming the
rule, and audited as a refusal."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from tests.conftest import make_user
from common.roles import ADMIN, APPROVER, ENGINEER
from governance.approvals import services as approvals
from governance.approvals.models import Stage, StagePolicy
from tests.support.approvals import node as make_node, set_policy
from governance.audit.models import AuditEntry
from lineage.kinds import NodeKind

pytestmark = pytest.mark.django_db


def _gated_request(users, stage="production"):
    """A pending request whose producing-run gate fails (the model version has no producing run)."""
    set_policy(stage, required_approvals=1, require_producing_run=True, max_training_hops=None, required_metrics={},
               forbid_failed_runs=False, require_evidence_archived=False, expiry_hours=None, source_actions={})
    return approvals.create_request(users[ENGINEER], node=make_node(NodeKind.MODEL_VERSION, f"sod-{stage}"),
                                    target_stage=Stage.objects.get(name=stage), justification="j", submit=True)


def test_the_overrider_cannot_approve(users, clients):
    assert StagePolicy.objects.get(stage__name="production").overrider_may_approve is False
    users[ADMIN].groups.add(Group.objects.get(name=APPROVER))
    req = _gated_request(users)
    admin = clients[ADMIN]
    assert admin.post(f"/api/promotion-requests/{req.pk}/override/",
                      {"gate": "producing_run", "reason": "trained offline"}, format="json").status_code == 201
    refused = admin.post(f"/api/promotion-requests/{req.pk}/approve/", {"comment": "ok"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("Separation of duties: you overrode the gate(s) producing_run")
    entry = AuditEntry.objects.get(request_id=refused["X-Request-ID"])
    assert entry.action == "promotion_request.approve.refused" and entry.actor_username == ADMIN
    assert "Separation of duties" in entry.reason
    assert approvals.PromotionRequest.objects.get(pk=req.pk).state == "pending"
    # Another approver's approval counts, and the request goes through.
    assert clients[APPROVER].post(f"/api/promotion-requests/{req.pk}/approve/", {}, format="json").status_code == 200
    assert approvals.PromotionRequest.objects.get(pk=req.pk).state in ("approved", "executed")


def test_an_approver_cannot_then_override(users, clients):
    users[ADMIN].groups.add(Group.objects.get(name=APPROVER))
    _gated_request(users)  # sets the production policy's gates
    set_policy("production", required_approvals=2, forbid_failed_runs=True)
    req = approvals.create_request(users[ENGINEER], node=make_node(NodeKind.MODEL_VERSION, "sod-two"),
                                   target_stage=Stage.objects.get(name="production"), justification="j", submit=True)
    approvals.override_gate(make_user("second-admin", ADMIN), req.pk, "producing_run", "trained offline")
    assert clients[ADMIN].post(f"/api/promotion-requests/{req.pk}/approve/", {}, format="json").status_code == 200
    refused = clients[ADMIN].post(f"/api/promotion-requests/{req.pk}/override/",
                                  {"gate": "no_failed_run", "reason": "just in case"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("Separation of duties: you approved this request")
    assert AuditEntry.objects.get(request_id=refused["X-Request-ID"]).action == "promotion_request.override.refused"


def test_a_policy_may_allow_it(users, clients):
    users[ADMIN].groups.add(Group.objects.get(name=APPROVER))
    req_stage = "staging"
    set_policy(req_stage, overrider_may_approve=True)
    req = _gated_request(users, req_stage)
    approvals.override_gate(users[ADMIN], req.pk, "producing_run", "trained offline")
    assert clients[ADMIN].post(f"/api/promotion-requests/{req.pk}/approve/", {}, format="json").status_code == 200
