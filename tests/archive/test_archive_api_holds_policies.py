"""Legal hold and retention policy endpoints: reasons required, bad input 4xx JSON, every write audited."""
import datetime as dt

import pytest

from governance.archive import services
from governance.archive.models import LegalHold, RetentionPolicy
from devtools.archive_sample import make_model_lineage
from governance.audit.models import AuditEntry
from lineage.kinds import NodeKind
from lineage.models import Node

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def test_hold_lifecycle(clients):
    mv = make_model_lineage("hl", upstream=6)
    placed = clients["auditor"].post("/api/archive/holds", {"node": mv.pk, "reason": "subpoena 42"}, format="json")
    assert placed.status_code == 201
    hold = placed.json()
    assert hold["active"] and hold["node_kind"] == "model_version" and hold["reason"] == "subpoena 42"
    assert AuditEntry.objects.get(action="legal_hold.place").reason == "subpoena 42"
    active = clients["engineer"].get("/api/archive/holds", {"active": "true"}).json()["results"]
    assert [h["id"] for h in active] == [hold["id"]]

    no_reason = clients["auditor"].post(f"/api/archive/holds/{hold['id']}/release", {"reason": " "}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["detail"]
    released = clients["auditor"].post(f"/api/archive/holds/{hold['id']}/release", {"reason": "settled"}, format="json")
    assert released.status_code == 200 and released.json()["active"] is False
    assert released.json()["release_reason"] == "settled"
    again = clients["admin"].post(f"/api/archive/holds/{hold['id']}/release", {"reason": "twice"}, format="json")
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    assert AuditEntry.objects.filter(action="legal_hold.release").count() == 1
    assert clients["engineer"].get("/api/archive/holds", {"active": "true"}).json()["results"] == []


@pytest.mark.parametrize("payload", [
    {"node": "MV"}, {"node": "MV", "reason": ""}, {"node": "MV", "reason": "   "}, {"reason": "x"},
    {"node": 999999, "reason": "x"}, {"node": "JOB", "reason": "x"},
])
def test_bad_hold_requests_are_400_and_change_nothing(clients, payload):
    mv = make_model_lineage("hb", upstream=6)
    job = Node.objects.filter(kind=NodeKind.JOB).first()
    payload = {k: {"MV": mv.pk, "JOB": job.pk}.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    audit = AuditEntry.objects.count()
    response = clients["auditor"].post("/api/archive/holds", payload, format="json")
    assert response.status_code == 400 and response.json()["error"]
    assert LegalHold.objects.count() == 0 and AuditEntry.objects.count() == audit


def test_policy_crud_is_audited_and_validated(clients):
    created = clients["admin"].post("/api/archive/retention-policies", {"node_kind": "run", "max_age_days": 90}, format="json")
    assert created.status_code == 201
    pk = created.json()["id"]
    assert AuditEntry.objects.get(action="retention_policy.create").after["max_age_days"] == 90
    audit = AuditEntry.objects.count()
    for bad in ({"node_kind": "run", "max_age_days": 30}, {"node_kind": "galaxy", "max_age_days": 30},
                {"node_kind": "job", "max_age_days": 0}, {"node_kind": "job"}, {"node_kind": "job", "max_age_days": "x"}):
        response = clients["admin"].post("/api/archive/retention-policies", bad, format="json")
        assert response.status_code == 400 and response.json()["error"], bad
    assert AuditEntry.objects.count() == audit and RetentionPolicy.objects.count() == 1
    patched = clients["admin"].patch(f"/api/archive/retention-policies/{pk}", {"enabled": False}, format="json")
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    entry = AuditEntry.objects.get(action="retention_policy.update")
    assert entry.before["enabled"] is True and entry.after["enabled"] is False
    assert clients["admin"].delete(f"/api/archive/retention-policies/{pk}").status_code == 204
    assert AuditEntry.objects.get(action="retention_policy.delete").before["node_kind"] == "run"


def test_preview_and_apply_through_the_api(clients, users):
    old = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    mv = make_model_lineage("pa", upstream=6, when=old, deployment=False)
    services.build_bundle(mv, users["auditor"], depth=20)
    clients["admin"].post("/api/archive/retention-policies", {"node_kind": "run", "max_age_days": 30}, format="json")
    runs = set(Node.objects.filter(kind=NodeKind.RUN).values_list("pk", flat=True))
    preview = clients["auditor"].get("/api/archive/retention-policies/preview").json()
    assert preview["dry_run"] and {d["node_id"] for d in preview["decisions"] if d["action"] == "prune"} == runs
    assert Node.objects.filter(pk__in=runs).count() == len(runs)
    applied = clients["admin"].post("/api/archive/retention-policies/apply").json()
    assert applied["pruned"] == len(runs) and not Node.objects.filter(pk__in=runs).exists()
    assert AuditEntry.objects.filter(action="node.prune", actor_username="admin").count() == len(runs)
