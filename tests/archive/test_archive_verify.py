"""The offline verifier catches every kind of tampering and names the first problem; stdlib only."""
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from governance.archive import services, verify
from devtools.archive_sample import make_model_lineage
from governance.audit import chain
from governance.audit.recorder import record

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


@pytest.fixture
def bundle_file(users, tmp_path):
    mv = make_model_lineage("v", upstream=20)
    record("node.note", "node", mv.pk, after={"note": "reviewed"})  # an audit entry about the subject
    bundle = services.build_bundle(mv, users["auditor"], depth=20)
    path = tmp_path / "bundle.zip"
    path.write_bytes(services.bundle_bytes(bundle))
    return path


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _write(path, members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    return path


def _resign(members):
    """Recompute the manifest's file hashes and digest, as a careful forger would."""
    manifest = json.loads(members["manifest.json"])
    manifest["files"] = {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
                         for n, d in members.items() if n != "manifest.json"}
    manifest["manifest_sha256"] = verify.manifest_digest(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    return members


def _problem(path):
    with pytest.raises(verify.Problem) as caught:
        verify.verify_path(str(path))
    return str(caught.value)


def test_a_fresh_bundle_verifies(bundle_file):
    report = verify.verify_path(str(bundle_file))
    assert report.nodes > 10 and report.edges > 10 and report.audit_entries >= 1
    assert report.sha256 == hashlib.sha256(bundle_file.read_bytes()).hexdigest()


def test_changed_byte_in_a_file_is_named(bundle_file, tmp_path):
    members = _members(bundle_file)
    data = bytearray(members["lineage.json"])
    data[len(data) // 2] ^= 0x01
    members["lineage.json"] = bytes(data)
    assert _problem(_write(tmp_path / "x.zip", members)) == "file lineage.json was changed: its SHA-256 does not match the manifest"


def test_changed_byte_in_the_zip_itself_fails(bundle_file, tmp_path):
    raw = bytearray(bundle_file.read_bytes())
    raw[len(raw) // 3] ^= 0xFF
    broken = tmp_path / "flipped.zip"
    broken.write_bytes(bytes(raw))
    assert _problem(broken)


def test_removed_file_is_named(bundle_file, tmp_path):
    members = _members(bundle_file)
    raw_name = sorted(n for n in members if n.startswith("raw/"))[0]
    del members[raw_name]
    assert _problem(_write(tmp_path / "x.zip", members)) == f"missing file {raw_name}: the manifest lists it but the ZIP lacks it"


def test_added_file_is_named(bundle_file, tmp_path):
    members = _members(bundle_file)
    members["raw/999999.json"] = b"{}"
    assert _problem(_write(tmp_path / "x.zip", members)) == "unexpected file raw/999999.json: it is in the ZIP but not in the manifest"
    del members["raw/999999.json"]
    members["raw/extra.json"] = b"{}"
    assert _problem(_write(tmp_path / "y.zip", members)) == "unexpected file raw/extra.json: the bundle format does not allow it"


def test_edited_manifest_is_caught(bundle_file, tmp_path):
    members = _members(bundle_file)
    manifest = json.loads(members["manifest.json"])
    manifest["created_by"]["username"] = "someone-else"
    members["manifest.json"] = json.dumps(manifest).encode()
    assert "manifest.json was edited" in _problem(_write(tmp_path / "x.zip", members))


def test_edited_manifest_hash_is_caught(bundle_file, tmp_path):
    members = _members(bundle_file)
    manifest = json.loads(members["manifest.json"])
    manifest["files"]["report.html"]["sha256"] = "0" * 64
    members["manifest.json"] = json.dumps(manifest).encode()
    assert "manifest.json was edited" in _problem(_write(tmp_path / "x.zip", members))


def test_rehashed_forgery_of_an_audit_entry_is_caught_by_the_chain(bundle_file, tmp_path):
    members = _members(bundle_file)
    audit = json.loads(members["audit.json"])
    audit["entries"][0]["actor_username"] = "mallory"
    members["audit.json"] = json.dumps(audit).encode()
    problem = _problem(_write(tmp_path / "x.zip", _resign(members)))
    assert problem.startswith(f"audit entry seq {audit['entries'][0]['seq']}: content does not match its hash (a field was changed)")


def test_rehashed_forgery_of_a_raw_payload_is_caught_by_its_digest(bundle_file, tmp_path):
    members = _members(bundle_file)
    name = sorted(n for n in members if n.startswith("raw/"))[0]
    doc = json.loads(members[name])
    doc["body"]["forged"] = True
    members[name] = json.dumps(doc).encode()
    assert _problem(_write(tmp_path / "x.zip", _resign(members))).startswith(f"{name}: the payload's digest is")


def test_rehashed_dangling_edge_is_caught(bundle_file, tmp_path):
    members = _members(bundle_file)
    lineage = json.loads(members["lineage.json"])
    lineage["nodes"] = [n for n in lineage["nodes"] if n["kind"] != "job"]
    manifest = json.loads(members["manifest.json"])
    manifest["counts"]["nodes"] = len(lineage["nodes"])
    members["manifest.json"] = json.dumps(manifest).encode()
    members["lineage.json"] = json.dumps(lineage).encode()
    assert "leaves the bundle" in _problem(_write(tmp_path / "x.zip", _resign(members)))


def test_not_a_zip_and_wrong_expected_hash(bundle_file, tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    assert _problem(junk).startswith("not a readable ZIP file")
    with pytest.raises(verify.Problem, match="expected"):
        verify.verify_path(str(bundle_file), expected_sha256="ab" * 32)


def _run(*args):
    # -I: isolated mode, so the script cannot lean on the environment; cwd for the module path only.
    return subprocess.run([sys.executable, "-m", "governance.archive.verify", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_command_line_exit_codes_and_messages(bundle_file, tmp_path, settings):
    good = _run(bundle_file, "--sha256", hashlib.sha256(bundle_file.read_bytes()).hexdigest(), "--hmac-key", settings.AUDIT_HMAC_KEY)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.startswith("OK: ") and hashlib.sha256(bundle_file.read_bytes()).hexdigest() in good.stdout
    members = _members(bundle_file)
    members["raw/extra.json"] = b"{}"
    bad = _run(_write(tmp_path / "added.zip", members))
    assert bad.returncode == 1
    assert bad.stdout.strip() == "FAIL: unexpected file raw/extra.json: the bundle format does not allow it"
    missing = _run(tmp_path / "nope.zip")
    assert missing.returncode == 1 and missing.stdout.startswith("FAIL: cannot read")


def test_verifier_runs_with_the_standard_library_only(bundle_file, settings):
    # -S: no site-packages (so no Django), env -i: no PYTHONPATH; the module path comes from the cwd only.
    out = subprocess.run(["/usr/bin/env", "-i", sys.executable, "-S", "-m", "governance.archive.verify", str(bundle_file),
                          "--hmac-key", settings.AUDIT_HMAC_KEY], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "signature verified" in out.stdout


def test_checkpoint_signature_is_checked_when_a_key_is_given(bundle_file, tmp_path, settings):
    from governance.audit.offline_verify import keys_from

    good = keys_from([settings.AUDIT_HMAC_KEY], [])
    report = verify.verify_path(str(bundle_file), keys=good)
    assert any("signature verified" in n for n in report.notes)
    unchecked = verify.verify_path(str(bundle_file))
    assert any("NOT checked" in n for n in unchecked.notes)
    with pytest.raises(verify.Problem, match="not among the keys"):
        verify.verify_path(str(bundle_file), keys=keys_from(["some-other-key"], []))
    members = _members(bundle_file)
    audit = json.loads(members["audit.json"])
    audit["checkpoint"]["entry_hash"] = "f" * 64
    members["audit.json"] = json.dumps(audit).encode()
    forged = _write(tmp_path / "forged.zip", _resign(members))
    with pytest.raises(verify.Problem, match="checkpoint"):
        verify.verify_path(str(forged), keys=good)
    with pytest.raises(verify.Problem, match="disagrees|checkpoint"):
        verify.verify_path(str(forged))


def test_bundle_audit_excerpt_is_bound_to_a_signed_checkpoint(bundle_file):
    with zipfile.ZipFile(bundle_file) as zf:
        audit = json.loads(zf.read("audit.json"))
    assert audit["checkpoint"] and audit["bound_to_checkpoint"]
    seqs = [e["seq"] for e in audit["entries"]]
    assert seqs == list(range(audit["of_interest"][0], audit["checkpoint"]["seq"] + 1))
    assert any(e["action"] == "node.note" for e in audit["entries"])


def test_verifier_hashing_is_the_audit_chain_s():
    assert verify.HASHED_FIELDS == chain.HASHED_FIELDS and verify.GENESIS == chain.GENESIS
