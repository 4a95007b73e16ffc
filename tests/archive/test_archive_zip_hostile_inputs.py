"""Crafted bundles (bombs, many entries, lying manifests and directories, bad names, methods, flags,
wrong field types, extra files) are refused with a reason by every door a bundle comes in through: the
verifier itself, the upload API (a 4xx JSON, never a 5xx), the offline command (`FAIL: ...`, exit 1, no
traceback) and restore_bundle (a refusal that writes nothing but its audit entry)."""
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from governance.archive import services, verify
from governance.archive.models import EvidenceBundle
from devtools.archive_sample import make_model_lineage
from governance.audit.models import AuditEntry
from governance.audit.recorder import record
from lineage.models import Edge, Node
from tests.support import crafted_zips

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.ARCHIVE_VERIFY_RATE_LIMIT = ""


@pytest.fixture
def corpus(users):
    mv = make_model_lineage("hostile", upstream=4)
    record("node.note", "node", mv.pk, after={"note": "reviewed"})  # so audit.json has an entry to mistype
    genuine = services.bundle_bytes(services.build_bundle(mv, users["auditor"], depth=5))
    return crafted_zips.corpus(genuine)


def test_the_verifier_refuses_each_with_its_reason(corpus):
    assert len(corpus) >= 18
    for name, (data, reason) in corpus.items():
        with pytest.raises(verify.Problem) as caught:
            verify.verify_bytes(data)
        assert reason in str(caught.value), (name, str(caught.value))


def test_the_upload_api_answers_4xx_json_with_the_reason(corpus, clients):
    for name, (data, reason) in corpus.items():
        response = clients["engineer"].post("/api/archive/bundles/verify-upload/",
                                            {"file": SimpleUploadedFile("b.zip", data)}, format="multipart")
        assert response.status_code == 422, (name, response.status_code, response.content[:300])
        body = response.json()
        assert body["ok"] is False and body["error"] == "bundle_invalid" and reason in body["problem"], (name, body)
        assert body["registered"] is False


def test_the_offline_command_prints_fail_and_exits_1(corpus, tmp_path):
    for name, (data, reason) in corpus.items():
        path = tmp_path / f"{name}.zip"
        path.write_bytes(data)
        out = subprocess.run([sys.executable, "-m", "governance.archive.verify", str(path)], cwd=REPO,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 1, (name, out.stdout, out.stderr)
        assert out.stdout.startswith("FAIL: ") and reason in out.stdout, (name, out.stdout)
        assert "Traceback" not in out.stderr and out.stderr == "", (name, out.stderr)


def test_restore_refuses_each_and_writes_only_its_refusal(corpus, tmp_path):
    nodes, edges, bundles = Node.objects.count(), Edge.objects.count(), EvidenceBundle.objects.count()
    for name, (data, reason) in corpus.items():
        path = tmp_path / f"{name}.zip"
        path.write_bytes(data)
        before = AuditEntry.objects.count()
        for untrusted in ([], ["--untrusted", "--reason", "hostile corpus"]):
            with pytest.raises(CommandError) as caught:
                call_command("restore_bundle", str(path), "--merge", *untrusted)
            assert "does not verify, nothing was restored" in str(caught.value) and reason in str(caught.value), name
        refusals = list(AuditEntry.objects.filter(seq__gt=before).values_list("action", flat=True))
        assert refusals == ["bundle.restore_refused"] * 2, name
    assert (Node.objects.count(), Edge.objects.count(), EvidenceBundle.objects.count()) == (nodes, edges, bundles)


def test_caps_come_from_settings(users, clients, settings):
    mv = make_model_lineage("capped", upstream=4)
    genuine = services.bundle_bytes(services.build_bundle(mv, users["auditor"], depth=5))
    settings.ARCHIVE_ZIP_MAX_ENTRIES = 3
    small = clients["engineer"].post("/api/archive/bundles/verify-upload/", {"file": SimpleUploadedFile("b.zip", genuine)},
                                     format="multipart")
    assert small.status_code == 422 and "more than the limit of 3" in small.json()["problem"]
    settings.ARCHIVE_ZIP_MAX_ENTRIES = 100_000
    settings.ARCHIVE_ZIP_MAX_TOTAL_BYTES = 1000
    total = clients["engineer"].post("/api/archive/bundles/verify-upload/", {"file": SimpleUploadedFile("b.zip", genuine)},
                                     format="multipart")
    assert total.status_code == 422 and "1000-byte limit in total" in total.json()["problem"]
    settings.ARCHIVE_ZIP_MAX_TOTAL_BYTES = 10**9
    settings.ARCHIVE_MAX_UPLOAD_BYTES = 1000
    big = clients["engineer"].post("/api/archive/bundles/verify-upload/", {"file": SimpleUploadedFile("b.zip", genuine)},
                                   format="multipart")
    assert big.status_code == 413 and big.json()["error"] == "upload_too_large"
    settings.ARCHIVE_MAX_UPLOAD_BYTES = 10**9
    ok = clients["engineer"].post("/api/archive/bundles/verify-upload/", {"file": SimpleUploadedFile("b.zip", genuine)},
                                  format="multipart")
    assert ok.status_code == 200 and ok.json()["ok"] and ok.json()["signature"] == "verified"
    assert ok.json()["checkpoint"]["seq"] >= 1
