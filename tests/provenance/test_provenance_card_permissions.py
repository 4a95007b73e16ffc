"""Who may read the card, and what each role sees of the evidence: every role reads it, nobody else does;
auditors and admins see every bundle, engineers and approvers their own, and each is told how many others
exist rather than "none"."""
from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.support.provenance import timed_story

pytestmark = pytest.mark.django_db


@pytest.fixture
def version_with_bundle(users):
    from governance.archive.services import build_bundle
    from common.audit import context
    from lineage.models import Node

    ids = timed_story()
    node = Node.objects.get(pk=ids["viya"])
    with context.acting_as(context.for_user(users["auditor"])):
        bundle = build_bundle(node, users["auditor"], depth=5)
    return node, bundle


@pytest.mark.parametrize("role,visible,hidden", [
    ("auditor", 1, 0), ("admin", 1, 0), ("engineer", 0, 1), ("approver", 0, 1)])
def test_roles_read_the_card_and_see_the_evidence_their_role_allows(version_with_bundle, clients, role, visible, hidden):
    node, bundle = version_with_bundle
    response = clients[role].get(f"/api/model-versions/{node.pk}/provenance/")
    assert response.status_code == 200
    evidence = response.json()["evidence"]
    assert len(evidence["bundles"]) == visible and evidence["hidden_count"] == hidden and evidence["total"] == 1
    if visible:
        assert evidence["bundles"][0]["sha256"] == bundle.sha256
        assert evidence["bundles"][0]["download_url"] == f"/api/archive/bundles/{bundle.pk}/download/"


def test_an_engineers_own_bundle_is_visible_to_them():
    """Bundle visibility is the archive API's rule, not one of the card's own: a bundle an engineer made
    (through the service, e.g. before a role change) is theirs to see."""
    from governance.archive.services import build_bundle
    from common.audit import context
    from lineage.models import Node
    from tests.conftest import make_user

    ids = timed_story("own")
    eve = make_user("eve", "engineer")
    with context.acting_as(context.for_user(eve)):
        build_bundle(Node.objects.get(pk=ids["viya"]), eve, depth=3)
    evidence = client_for(eve).get(f"/api/model-versions/{ids['viya']}/provenance/").json()["evidence"]
    assert len(evidence["bundles"]) == 1 and evidence["hidden_count"] == 0


@pytest.mark.parametrize("who,status", [("outsider", 403), ("anonymous", 401)])
def test_no_role_no_card(version_with_bundle, clients, who, status):
    node, bundle = version_with_bundle
    response = clients[who].get(f"/api/model-versions/{node.pk}/provenance/")
    assert response.status_code == status
    assert bundle.sha256 not in response.content.decode() and "scorer" not in response.content.decode()


def test_the_card_is_read_only(version_with_bundle, clients):
    from governance.audit.models import AuditEntry

    node, _ = version_with_bundle
    before = AuditEntry.objects.count()
    for method in ("post", "put", "patch", "delete"):
        response = getattr(clients["admin"], method)(f"/api/model-versions/{node.pk}/provenance/", {}, format="json")
        assert response.status_code in (403, 405)
    assert AuditEntry.objects.count() == before
