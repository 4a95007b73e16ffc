"""Deciding promotions from the dashboard goes through the approvals service and its rules."""
import json

import pytest
from django.test import Client

from devtools.dashboard import DashCaller, demo_model, find_component
from governance.approvals import services
from governance.approvals.models import Decision, PromotionRequest, Stage
from governance.audit.models import AuditEntry
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def caller_for(user) -> DashCaller:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return DashCaller(client)


@pytest.fixture
def pending(users):
    ids = demo_model()
    from lineage.models import Node

    req = services.create_request(users["engineer"], node=Node.objects.get(pk=ids["model_version"]),
                                  target_stage=Stage.objects.get(name="staging"),
                                  justification="validated on holdout", submit=True)
    return req


def decide(caller, req, verdict="approve", comment="looks right"):
    clicks = {"req-approve.n_clicks": 1} if verdict == "approve" else {"req-reject.n_clicks": 1}
    return caller.call_json("req-decision-result.children",
                            {**clicks, "req-comment.value": comment, "req-id.data": req.pk},
                            changed="req-approve.n_clicks" if verdict == "approve" else "req-reject.n_clicks")


def test_approver_approves_and_the_decision_is_audited_under_their_name(users, pending):
    response = decide(caller_for(users["approver"]), pending)
    text = json.dumps(response)
    assert "req-decided" in text
    pending.refresh_from_db()
    assert pending.state == "executed"  # staging needs one approval; no source action: recorded only
    decision = Decision.objects.get(request=pending)
    assert (decision.actor, decision.comment) == (users["approver"], "looks right")
    assert AuditEntry.objects.filter(action="promotion.decision.approve", actor_username="approver").count() == 1
    assert '"executed"' in text  # the redrawn detail shows the new state
    # no longer waiting for them
    assert f"req-link-{pending.pk}" not in json.dumps(find_component(response["req-lists"]["children"], "waiting-for-me"))


def test_requester_who_is_also_approver_gets_the_four_eyes_refusal(users):
    rita = make_user("rita", "engineer", "approver")
    ids = demo_model()
    from lineage.models import Node

    req = services.create_request(rita, node=Node.objects.get(pk=ids["model_version"]),
                                  target_stage=Stage.objects.get(name="staging"), justification="mine", submit=True)
    caller = caller_for(rita)
    page = json.dumps(caller.call_json("page.children", {"url.pathname": "/dashboard/approvals",
                                                         "url.search": f"?request={req.pk}"}))
    assert "req-cannot-decide" in page and "Four-eyes rule" in page
    response = json.dumps(decide(caller, req))
    assert "req-refused" in response and "Four-eyes rule: you requested this promotion" in response
    req.refresh_from_db()
    assert req.state == "pending" and not Decision.objects.filter(request=req).exists()


@pytest.mark.parametrize("role", ["auditor", "engineer", "outsider"])
def test_non_approvers_are_refused_on_the_server_and_see_no_buttons(users, pending, role):
    caller = caller_for(users[role])
    if role != "outsider":
        page = json.dumps(caller.call_json("page.children", {"url.pathname": "/dashboard/approvals",
                                                             "url.search": f"?request={pending.pk}"}))
        assert "req-approve-denied" in page and '"req-approve"' not in page
    audit_before = AuditEntry.objects.count()
    response = json.dumps(decide(caller, pending))
    assert "req-refused" in response and "needs the role approver" in response
    pending.refresh_from_db()
    assert pending.state == "pending" and not Decision.objects.exists()
    # Only the refusal itself is recorded (governance.audit.refusals), under the caller's name.
    added = list(AuditEntry.objects.order_by("seq"))[audit_before:]
    assert [(e.action, e.actor_username) for e in added] == [("promotion_request.approve.refused", role)]


def test_reject_without_comment_is_refused_with_the_services_reason(users, pending):
    response = json.dumps(decide(caller_for(users["approver"]), pending, verdict="reject", comment=""))
    assert "A rejection needs a comment" in response
    assert PromotionRequest.objects.get(pk=pending.pk).state == "pending"


def test_waiting_for_me_lists_what_the_approver_may_decide(users, pending):
    def waiting(user):
        page = caller_for(user).call_json("page.children", {"url.pathname": "/dashboard/approvals", "url.search": ""})
        return json.dumps(find_component(page, "waiting-for-me"))

    assert f"req-link-{pending.pk}" in waiting(users["approver"])
    # An approver who made the request is not asked to decide it (the service's four-eyes rule).
    rita = make_user("rita", "engineer", "approver")
    ids = demo_model("fraud-model", "1")
    from lineage.models import Node

    own = services.create_request(rita, node=Node.objects.get(pk=ids["model_version"]),
                                  target_stage=Stage.objects.get(name="staging"), justification="x", submit=True)
    assert f"req-link-{own.pk}" not in waiting(rita) and f"req-link-{pending.pk}" in waiting(rita)
    assert f"req-link-{own.pk}" in waiting(users["approver"])
    assert "Only approvers have requests waiting for them" in waiting(users["engineer"])
