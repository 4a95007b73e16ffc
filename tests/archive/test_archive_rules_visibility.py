"""The archive's one visibility rule (governance/archive/rules.py), which the API's querysets and the
dashboard both call: auditors and admins see every bundle and build, engineers and approvers only their
own, a user without a role nothing."""
import pytest

from governance.archive import rules, services
from governance.archive.models import BundleBuild
from devtools.archive_sample import make_model_lineage

pytestmark = pytest.mark.django_db


@pytest.fixture
def made(users, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    mv = make_model_lineage("rules", upstream=2)
    auditors = services.build_bundle(mv, users["auditor"], depth=1)
    engineers = services.build_bundle(mv, users["engineer"], depth=2)
    build = BundleBuild.objects.create(node=mv, subject_kind=mv.kind, subject_source_id=mv.source_id, depth=1,
                                       requested_by=users["engineer"], state="done", bundle=engineers)
    return {"auditor": auditors.pk, "engineer": engineers.pk, "build": build.pk}


@pytest.mark.parametrize("role, sees", [("auditor", {"auditor", "engineer"}), ("admin", {"auditor", "engineer"}),
                                        ("engineer", {"engineer"}), ("approver", set()), ("outsider", set())])
def test_bundles_visible_to_each_role(users, made, role, sees):
    assert set(rules.visible_to(users[role]).values_list("pk", flat=True)) == {made[who] for who in sees}
    for who in ("auditor", "engineer"):
        bundle = rules.visible_to(users["admin"]).get(pk=made[who])
        assert rules.can(users[role], "read", bundle) == (who in sees)


@pytest.mark.parametrize("role, sees", [("auditor", True), ("engineer", True), ("approver", False),
                                        ("outsider", False)])
def test_builds_follow_the_bundles_rule(users, made, role, sees):
    assert rules.builds_visible_to(users[role]).filter(pk=made["build"]).exists() == sees


@pytest.mark.parametrize("role, may", [("auditor", True), ("admin", True), ("engineer", False),
                                       ("approver", False), ("outsider", False)])
def test_building_is_for_auditors(users, role, may):
    assert rules.can(users[role], "build") == may


def test_an_anonymous_user_sees_nothing():
    from django.contrib.auth.models import AnonymousUser

    assert not rules.visible_to(AnonymousUser()).exists() and not rules.can(AnonymousUser(), "read")
