"""Bundle endpoints: create, list, download, verify, verify an upload; bad input is a 4xx JSON and changes nothing."""
import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.archive import verify
from governance.archive.models import EvidenceBundle
from devtools.archive_sample import make_model_lineage
from governance.audit.models import AuditEntry
from lineage.kinds import NodeKind
from lineage.models import Node

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def test_create_download_and_verify(clients):
    mv = make_model_lineage("api", upstream=12)
    response = clients["auditor"].post("/api/archive/bundles/", {"node": mv.pk, "depth": 20}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["subject_source_id"] == mv.source_id and body["created_by_username"] == "auditor"
    assert body["node_count"] > 12 and body["depth"] == 20

    download = clients["auditor"].get(body["download_url"], HTTP_ACCEPT="application/zip")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert hashlib.sha256(download.content).hexdigest() == body["sha256"] == download["X-Content-SHA256"]
    assert verify.verify_bytes(download.content).nodes == body["node_count"]
    assert AuditEntry.objects.filter(action="bundle.download", object_id=str(body["id"]), actor_username="auditor").exists()

    checked = clients["auditor"].get(f"/api/archive/bundles/{body['id']}/verify").json()
    assert checked["ok"] is True and checked["sha256"] == body["sha256"]
    assert any("signature verified" in n for n in checked["notes"])

    listed = clients["admin"].get("/api/archive/bundles", {"subject_kind": "model_version"}).json()["results"]
    assert [b["id"] for b in listed] == [body["id"]]
    assert clients["admin"].get("/api/archive/bundles", {"subject_kind": "run"}).json()["results"] == []


def test_verify_reports_a_tampered_stored_file(clients, settings):
    mv = make_model_lineage("tamper", upstream=6)
    bundle_id = clients["admin"].post("/api/archive/bundles", {"node": mv.pk}, format="json").json()["id"]
    bundle = EvidenceBundle.objects.get(pk=bundle_id)
    path = settings.DATA_DIR / "archive" / bundle.storage_key
    path.write_bytes(path.read_bytes() + b"x")
    result = clients["auditor"].get(f"/api/archive/bundles/{bundle_id}/verify").json()
    assert result["ok"] is False and "expected" in result["problem"]
    path.unlink()
    assert clients["auditor"].get(f"/api/archive/bundles/{bundle_id}/verify").json()["problem"].startswith("the stored file is missing")
    missing = clients["auditor"].get(f"/api/archive/bundles/{bundle_id}/download")
    assert missing.status_code == 409 and missing.json()["error"] == "conflict"


def test_verify_upload_names_the_problem(clients):
    mv = make_model_lineage("up", upstream=6)
    body = clients["auditor"].post("/api/archive/bundles", {"node": mv.pk}, format="json").json()
    data = clients["auditor"].get(body["download_url"]).content
    ok = clients["engineer"].post("/api/archive/bundles/verify-upload",
                                  {"file": SimpleUploadedFile("b.zip", data)}, format="multipart").json()
    assert ok["ok"] and ok["registered"] and ok["sha256"] == body["sha256"]
    bad = clients["engineer"].post("/api/archive/bundles/verify-upload",
                                   {"file": SimpleUploadedFile("b.zip", b"PK\x03\x04junk")}, format="multipart").json()
    assert bad["ok"] is False and bad["problem"].startswith("not a readable ZIP") and not bad["registered"]
    none = clients["engineer"].post("/api/archive/bundles/verify-upload", {}, format="multipart")
    assert none.status_code == 400 and "file" in none.json()["detail"]


@pytest.mark.parametrize("payload, field", [
    ({}, "node"),
    ({"node": 987654}, "node"),
    ({"node": "abc"}, "node"),
    ({"node": "MV", "depth": 0}, "depth"),
    ({"node": "MV", "depth": 51}, "depth"),
    ({"node": "MV", "depth": "deep"}, "depth"),
    ({"node": "DATASET"}, "node"),
])
def test_bad_input_is_a_400_json_and_changes_nothing(clients, payload, field):
    mv = make_model_lineage("bad", upstream=6)
    dataset = Node.objects.filter(kind=NodeKind.DATASET).first()
    payload = {k: {"MV": mv.pk, "DATASET": dataset.pk}.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    audit = AuditEntry.objects.count()
    response = clients["auditor"].post("/api/archive/bundles", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] and field in body["detail"]
    assert EvidenceBundle.objects.count() == 0 and AuditEntry.objects.count() == audit
    assert not Node.objects.filter(archived_at__isnull=False).exists()


def test_malformed_json_and_unknown_bundle(clients):
    response = clients["auditor"].post("/api/archive/bundles", data="{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "malformed_json"
    assert clients["auditor"].get("/api/archive/bundles/424242").status_code == 404
    missing = clients["auditor"].get("/api/archive/bundles/424242/download")
    assert missing.status_code == 404 and missing.json()["detail"]
    as_zip = clients["auditor"].get("/api/archive/bundles/424242/download", HTTP_ACCEPT="application/zip")
    assert as_zip.status_code == 404 and json.loads(as_zip.content)["detail"]
