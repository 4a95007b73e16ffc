"""Races, on PostgreSQL with real concurrent connections: two approvals at the same instant count once each,
one approver approving twice at once counts once, and no request is approved or executed twice."""
import threading

import pytest
from django.db import connections

from tests.support import approvals as t
from governance.approvals.models import Decision, PromotionRequest, StageAssignment
from governance.audit.models import AuditEntry
from lineage.kinds import NodeKind
from tests.conftest import client_for, make_user

URL = "/api/promotion-requests/"
ROUNDS = 3

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def default_stages():
    t.ensure_default_stages()


def at_once(calls):
    """Run the callables in threads released together; each thread uses (and closes) its own connection."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    return results


def people():
    engineer = make_user("eng", "engineer")
    approvers = [make_user(f"appr{i}", "approver") for i in range(3)]
    return engineer, approvers


def new_request(engineer, name):
    mv = t.node(NodeKind.MODEL_VERSION, name)
    r = client_for(engineer).post(URL, {"node": mv.pk, "target_stage": "production", "justification": "race",
                                        "submit": True}, format="json")
    assert r.status_code == 201, r.content
    return r.json()["id"]


def approve(user, pk):
    return lambda: client_for(user).post(f"{URL}{pk}/approve/", {"comment": "at once"}, format="json").status_code


def test_two_approvals_at_the_same_time_count_once_each():
    t.open_policy("production", approvals=2)
    engineer, (a, b, _) = people()
    for n in range(ROUNDS):
        pk = new_request(engineer, f"race-two-{n}")
        assert at_once([approve(a, pk), approve(b, pk)]) == [200, 200]
        req = PromotionRequest.objects.get(pk=pk)
        assert req.state == "executed"
        assert Decision.objects.filter(request=req).count() == 2
        assert StageAssignment.objects.filter(request=req).count() == 1
        assert AuditEntry.objects.filter(action="promotion.approved", object_id=str(pk)).count() == 1
        assert AuditEntry.objects.filter(action="promotion.execute", object_id=str(pk)).count() == 1


def test_the_same_approver_twice_at_the_same_time_counts_once():
    t.open_policy("production", approvals=2)
    engineer, (a, _, _) = people()
    for n in range(ROUNDS):
        pk = new_request(engineer, f"race-same-{n}")
        assert sorted(at_once([approve(a, pk), approve(a, pk)])) == [200, 409]
        req = PromotionRequest.objects.get(pk=pk)
        assert req.state == "pending" and Decision.objects.filter(request=req).count() == 1


def test_three_approvers_racing_for_two_places_never_over_approve():
    t.open_policy("production", approvals=2)
    engineer, approvers = people()
    for n in range(ROUNDS):
        pk = new_request(engineer, f"race-three-{n}")
        codes = at_once([approve(u, pk) for u in approvers])
        assert sorted(codes) == [200, 200, 409]
        assert Decision.objects.filter(request_id=pk).count() == 2
        assert PromotionRequest.objects.get(pk=pk).state == "executed"
        assert StageAssignment.objects.filter(node__promotion_requests=pk, superseded_at__isnull=True).count() == 1


def test_two_requests_for_the_same_promotion_at_once_make_one():
    t.open_policy("production", approvals=1)
    engineer, _ = people()
    other = make_user("eng2", "engineer")
    mv = t.node(NodeKind.MODEL_VERSION, "race-create")
    body = {"node": mv.pk, "target_stage": "production", "justification": "me first", "submit": True}
    post = lambda u: lambda: client_for(u).post(URL, body, format="json").status_code
    assert sorted(at_once([post(engineer), post(other)])) == [201, 409]
    assert PromotionRequest.objects.filter(node=mv).count() == 1
