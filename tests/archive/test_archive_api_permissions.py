"""Who may do what on the archive API, per role (anonymous, outsider, engineer, approver, auditor, admin)."""
import pytest

from governance.archive import services
from governance.archive.models import EvidenceBundle, LegalHold, RetentionPolicy
from devtools.archive_sample import make_model_lineage

pytestmark = pytest.mark.django_db
ROLES = ["anonymous", "outsider", "engineer", "approver", "auditor", "admin"]


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def mv(db):
    return make_model_lineage("p", upstream=6)


def _expect(expected: dict, actual: dict):
    assert actual == expected, f"expected {expected}, got {actual}"


def test_creating_bundles_needs_auditor_or_admin(clients, mv):
    got = {role: clients[role].post("/api/archive/bundles", {"node": mv.pk, "depth": 3}, format="json").status_code
           for role in ROLES}
    _expect({"anonymous": 401, "outsider": 403, "engineer": 403, "approver": 403, "auditor": 201, "admin": 201}, got)
    assert set(EvidenceBundle.objects.values_list("created_by__username", flat=True)) == {"auditor", "admin"}


def test_reading_bundles_all_for_auditors_own_for_engineers(clients, users, mv):
    by_auditor = services.build_bundle(mv, users["auditor"], depth=3)
    # An engineer who once held the auditor role built this one; engineers read the bundles they created.
    by_engineer = services.build_bundle(mv, users["engineer"], depth=3)
    listed = {}
    for role in ROLES:
        response = clients[role].get("/api/archive/bundles")
        listed[role] = response.status_code if response.status_code != 200 else sorted(b["id"] for b in response.json()["results"])
    _expect({"anonymous": 401, "outsider": 403, "engineer": [by_engineer.pk], "approver": [],
             "auditor": sorted([by_auditor.pk, by_engineer.pk]), "admin": sorted([by_auditor.pk, by_engineer.pk])}, listed)
    for path in ("", "/download", "/verify"):
        got = {role: clients[role].get(f"/api/archive/bundles/{by_auditor.pk}{path}").status_code for role in ROLES}
        _expect({"anonymous": 401, "outsider": 403, "engineer": 404, "approver": 404, "auditor": 200, "admin": 200}, got)
        assert clients["engineer"].get(f"/api/archive/bundles/{by_engineer.pk}{path}").status_code == 200


def test_verify_upload_is_open_to_every_role_and_writes_nothing(clients, users, mv):
    data = services.bundle_bytes(services.build_bundle(mv, users["auditor"], depth=3))
    from django.core.files.uploadedfile import SimpleUploadedFile

    got = {}
    for role in ROLES:
        upload = SimpleUploadedFile("b.zip", data, content_type="application/zip")
        got[role] = clients[role].post("/api/archive/bundles/verify-upload", {"file": upload}, format="multipart").status_code
    _expect({"anonymous": 401, "outsider": 403, "engineer": 200, "approver": 200, "auditor": 200, "admin": 200}, got)


def test_holds_are_placed_and_released_by_auditors_and_admins(clients, mv):
    got = {role: clients[role].post("/api/archive/holds", {"node": mv.pk, "reason": f"case {role}"}, format="json").status_code
           for role in ROLES}
    _expect({"anonymous": 401, "outsider": 403, "engineer": 403, "approver": 403, "auditor": 201, "admin": 201}, got)
    read = {role: clients[role].get("/api/archive/holds").status_code for role in ROLES}
    _expect({"anonymous": 401, "outsider": 403, "engineer": 200, "approver": 200, "auditor": 200, "admin": 200}, read)
    hold = LegalHold.objects.get(placed_by__username="auditor")
    released = {role: clients[role].post(f"/api/archive/holds/{hold.pk}/release", {"reason": "done"}, format="json").status_code
                for role in ["anonymous", "outsider", "engineer", "approver"]}
    _expect({"anonymous": 401, "outsider": 403, "engineer": 403, "approver": 403}, released)
    assert LegalHold.objects.get(pk=hold.pk).active
    assert clients["admin"].post(f"/api/archive/holds/{hold.pk}/release", {"reason": "done"}, format="json").status_code == 200


def test_policies_are_written_by_admins_only(clients):
    got = {}
    for i, role in enumerate(ROLES):
        kind = ["run", "job", "dataset", "artifact", "metrics", "dataset_version"][i]
        got[role] = clients[role].post("/api/archive/retention-policies", {"node_kind": kind, "max_age_days": 30},
                                       format="json").status_code
    _expect({"anonymous": 401, "outsider": 403, "engineer": 403, "approver": 403, "auditor": 403, "admin": 201}, got)
    policy = RetentionPolicy.objects.get()
    read = {role: clients[role].get("/api/archive/retention-policies").status_code for role in ROLES}
    _expect({"anonymous": 401, "outsider": 403, "engineer": 200, "approver": 200, "auditor": 200, "admin": 200}, read)
    patch = {role: clients[role].patch(f"/api/archive/retention-policies/{policy.pk}", {"max_age_days": 9},
                                       format="json").status_code for role in ROLES}
    _expect({"anonymous": 401, "outsider": 403, "engineer": 403, "approver": 403, "auditor": 403, "admin": 200}, patch)
    preview = {role: clients[role].get("/api/archive/retention-policies/preview").status_code for role in ROLES}
    _expect({"anonymous": 401, "outsider": 403, "engineer": 403, "approver": 403, "auditor": 200, "admin": 200}, preview)
    apply = {role: clients[role].post("/api/archive/retention-policies/apply").status_code for role in ROLES}
    _expect({"anonymous": 401, "outsider": 403, "engineer": 403, "approver": 403, "auditor": 403, "admin": 200}, apply)
    delete = {role: clients[role].delete(f"/api/archive/retention-policies/{policy.pk}").status_code
              for role in ["anonymous", "outsider", "engineer", "approver", "auditor", "admin"]}
    _expect({"anonymous": 401, "outsider": 403, "engineer": 403, "approver": 403, "auditor": 403, "admin": 204}, delete)
