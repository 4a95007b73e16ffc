"""The bundle verifier distinguishes tampered (exit 1, FAIL), "cannot check signatures: no key given"
(exit 3, UNVERIFIED) and OK (exit 0), and names the checkpoint it found; the API says the same through
`signature` and `checkpoint`. verify-upload is rate-limited per user."""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.archive import services
from devtools.archive_sample import make_model_lineage
from governance.audit.recorder import record
from tests.support import crafted_zips

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def bundle(users):
    mv = make_model_lineage("says", upstream=4)
    record("node.note", "node", mv.pk, after={"note": "reviewed"})
    return services.build_bundle(mv, users["auditor"], depth=5)


def _run(path, *args):
    return subprocess.run([sys.executable, "-m", "governance.archive.verify", str(path), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})


def test_ok_unverified_and_tampered_have_their_own_exit_codes(bundle, tmp_path, settings):
    data = services.bundle_bytes(bundle)
    path = tmp_path / "b.zip"
    path.write_bytes(data)
    checkpoint = json.loads(crafted_zips.members_of(data)["audit.json"])["checkpoint"]
    ok = _run(path, "--hmac-key", settings.AUDIT_HMAC_KEY)
    assert ok.returncode == 0 and ok.stdout.startswith("OK: "), ok.stdout
    assert f"checkpoint at seq {checkpoint['seq']} (key {checkpoint['key_id']}" in ok.stdout
    unverified = _run(path)
    assert unverified.returncode == 3, unverified.stdout
    assert unverified.stdout.startswith("UNVERIFIED: cannot check signatures: no key given")
    assert f"checkpoint at seq {checkpoint['seq']}" in unverified.stdout and "FAIL" not in unverified.stdout
    wrong_key = _run(path, "--hmac-key", "not-the-key")
    assert wrong_key.returncode == 1 and "not among the keys" in wrong_key.stdout
    members = crafted_zips.members_of(data)
    changed = bytearray(members["governance.json"])
    changed[1] = ord("X") if changed[1] != ord("X") else ord("Y")  # same size, other content
    members["governance.json"] = bytes(changed)
    tampered = tmp_path / "t.zip"
    tampered.write_bytes(crafted_zips.write(members))
    for args in ((), ("--hmac-key", settings.AUDIT_HMAC_KEY)):
        out = _run(tampered, *args)
        assert out.returncode == 1 and out.stdout.startswith("FAIL: file governance.json was changed"), out.stdout
    bad_args = _run(path, "--public-key", "zz")
    assert bad_args.returncode == 2


def test_the_api_says_whether_the_signature_was_verified(bundle, clients, settings):
    data = services.bundle_bytes(bundle)
    here = clients["engineer"].post("/api/archive/bundles/verify-upload/", {"file": SimpleUploadedFile("b.zip", data)},
                                    format="multipart").json()
    assert here["ok"] and here["signature"] == "verified" and here["checkpoint"]["seq"] >= 1
    stored = clients["auditor"].get(f"/api/archive/bundles/{bundle.pk}/verify/").json()
    assert stored["ok"] and stored["signature"] == "verified" and stored["checkpoint"] == here["checkpoint"]
    # The same file checked by a deployment with another key: consistent, but not vouched for by its keys.
    settings.AUDIT_HMAC_KEY = "another-deployment-key-0123456789"
    other = clients["engineer"].post("/api/archive/bundles/verify-upload/", {"file": SimpleUploadedFile("b.zip", data)},
                                     format="multipart").json()
    assert other["ok"] and other["signature"] == "unknown_key"
    assert any("NOT checked" in n for n in other["notes"])
    assert hashlib.sha256(data).hexdigest() == other["sha256"]


def test_verify_upload_is_rate_limited_per_user(bundle, clients, settings):
    settings.ARCHIVE_VERIFY_RATE_LIMIT = "2/minute"
    data = services.bundle_bytes(bundle)

    def call(who):
        return clients[who].post("/api/archive/bundles/verify-upload/", {"file": SimpleUploadedFile("b.zip", data)},
                                 format="multipart")

    assert [call("engineer").status_code for _ in range(2)] == [200, 200]
    third = call("engineer")
    assert third.status_code == 429 and third.json()["error"] == "throttled" and int(third["Retry-After"]) >= 1
    assert call("approver").status_code == 200  # each user has their own budget


def test_a_signed_in_browser_upload_goes_through_the_same_bounded_handler(bundle, users, settings):
    """Session logins run Django's CSRF check, which reads the form (and so the upload) during
    authentication: the bounded handler must already be in place by then."""
    from django.middleware.csrf import _get_new_csrf_string
    from rest_framework.test import APIClient

    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(users["engineer"])
    token = _get_new_csrf_string()
    browser.cookies["csrftoken"] = token
    data = services.bundle_bytes(bundle)
    ok = browser.post("/api/archive/bundles/verify-upload/", {"file": SimpleUploadedFile("b.zip", data)},
                      format="multipart", HTTP_X_CSRFTOKEN=token)
    assert ok.status_code == 200 and ok.json()["ok"], ok.content
    settings.ARCHIVE_MAX_UPLOAD_BYTES = 1000
    big = browser.post("/api/archive/bundles/verify-upload/", {"file": SimpleUploadedFile("b.zip", data)},
                       format="multipart", HTTP_X_CSRFTOKEN=token)
    assert big.status_code == 413 and big.json()["error"] == "upload_too_large"
