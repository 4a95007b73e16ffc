"""Exports (JSON Lines and CSV) carry hashes and checkpoints and verify offline with the stdlib-only script;
any edit to an export file is caught."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from governance.audit import recorder
from governance.audit.models import AuditCheckpoint, AuditEntry

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def trail(settings):
    settings.AUDIT_CHECKPOINT_EVERY = 4
    for n in range(10):
        recorder.record("thing.update", "thing", n, before={"n": n, "ü": "ß"}, after={"n": [n, None, 1.5]}, reason=f"r{n},\"q\"\n2")
    return settings


def offline(path, *args):
    """Run the offline verifier the way an auditor would: without site-packages (-S) and away from the repo."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-S", "-m", "governance.audit.offline_verify", str(path), *args],
        capture_output=True, text=True, cwd=path.parent, env=env, timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def export_via_api(client, fmt, tmp_path, query=""):
    response = client.get(f"/api/audit/export/?format={fmt}{query}")
    assert response.status_code == 200
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(b"".join(response.streaming_content))
    return response, path


def test_api_jsonl_export_verifies_offline(trail, clients, tmp_path):
    response, path = export_via_api(clients["auditor"], "jsonl", tmp_path)
    assert response["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["type"] == "header" and lines[-1]["type"] == "end"
    entries = [line for line in lines if line["type"] == "entry"]
    checkpoints = [line for line in lines if line["type"] == "checkpoint"]
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert all(e["hash"] and e["prev_hash"] for e in entries)
    # Only checkpoints within the exported range: the export's own audit entry (seq n+1) may have triggered
    # a periodic checkpoint after the range was fixed, and that one belongs to a later export.
    assert len(checkpoints) == AuditCheckpoint.objects.filter(seq__lte=len(entries)).count() >= 3
    code, out = offline(path, "--hmac-key", trail.AUDIT_HMAC_KEY)
    assert code == 0, out
    assert f"OK: verified seq 1..{len(entries)}" in out and f"{len(checkpoints)} signed checkpoints verified" in out
    # The export itself is in the trail, after the exported range, with who asked for it.
    exported = AuditEntry.objects.get(action="audit.export")
    assert exported.seq == len(entries) + 1 and exported.actor_username == "auditor"
    assert exported.after["last_seq"] == len(entries)


def test_command_csv_export_verifies_offline(trail, tmp_path):
    path = tmp_path / "trail.csv"
    call_command("export_audit", "--format", "csv", "--output", str(path))
    code, out = offline(path, "--hmac-key", trail.AUDIT_HMAC_KEY)
    assert code == 0, out
    assert "OK: verified seq 1..13" in out and "3 signed checkpoints verified" in out
    # And the JSON Lines export to standard output.
    jsonl = tmp_path / "trail.jsonl"
    call_command("export_audit", "--format", "jsonl", stdout=jsonl.open("w"))
    assert offline(jsonl, "--hmac-key", trail.AUDIT_HMAC_KEY)[0] == 0


def test_a_slice_verifies_from_its_first_entry(trail, clients, tmp_path):
    _, path = export_via_api(clients["admin"], "jsonl", tmp_path, "&seq_min=3&seq_max=9")
    code, out = offline(path, "--hmac-key", trail.AUDIT_HMAC_KEY)
    assert code == 0, out
    assert "verified seq 3..9" in out and "taken on trust" in out


def _edit_jsonl(path, seq, **changes):
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        record = json.loads(line)
        if record.get("type") == "entry" and record["seq"] == seq:
            record.update(changes)
            lines[i] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "tamper, expected",
    [
        (lambda p: _edit_jsonl(p, 3, reason="edited"), "first broken link at seq 3: content does not match"),
        (lambda p: _edit_jsonl(p, 7, after={"n": 0}), "first broken link at seq 7: content does not match"),
        (lambda p: p.write_text("".join(line for line in p.read_text().splitlines(True) if '"seq": 6,' not in line or '"entry"' not in line)),
         "first broken link at seq 6: entries 6 are missing"),
        (lambda p: p.write_text("".join(p.read_text().splitlines(True)[:-1])), "cut short"),
        (lambda p: p.write_text(p.read_text().replace('"type": "checkpoint", "seq": 4, ', '"type": "checkpoint", "seq": 3, ')),
         "checkpoint at seq 3: signature does not match"),
        (lambda p: p.write_text("".join(line for line in p.read_text().splitlines(True) if '"type": "checkpoint"' not in line)),
         "announces a checkpoint at seq 4 that is missing"),
    ],
    ids=["changed-field", "changed-json", "deleted-entry", "truncated-file", "moved-checkpoint", "dropped-checkpoints"],
)
def test_offline_verifier_catches_tampering_in_an_export(trail, tmp_path, tamper, expected):
    path = tmp_path / "trail.jsonl"
    call_command("export_audit", "--output", str(path))
    assert offline(path, "--hmac-key", trail.AUDIT_HMAC_KEY)[0] == 0
    tamper(path)
    code, out = offline(path, "--hmac-key", trail.AUDIT_HMAC_KEY)
    assert code == 1, out
    assert expected in out


def test_rehashed_export_is_caught_by_the_checkpoint_signature(trail, tmp_path):
    """Edit entry 2 and recompute every later hash in the file: links check out, the signature does not."""
    from governance.audit import chain

    path = tmp_path / "trail.jsonl"
    call_command("export_audit", "--output", str(path))
    records = [json.loads(line) for line in path.read_text().splitlines()]
    prev = None
    for record in records:
        if record["type"] != "entry":
            continue
        if record["seq"] == 2:
            record["reason"] = "rewritten"
        if record["seq"] >= 2:
            record["prev_hash"] = prev
            record["hash"] = chain.entry_hash(prev, record)
        prev = record["hash"]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    code, out = offline(path, "--hmac-key", trail.AUDIT_HMAC_KEY)
    assert code == 1 and "first broken link at seq 4" in out and "vouches for" in out, out


def test_csv_tampering_is_caught(trail, tmp_path):
    path = tmp_path / "trail.csv"
    call_command("export_audit", "--format", "csv", "--output", str(path))
    path.write_text(path.read_text().replace("thing.update", "thing.delete", 1))
    code, out = offline(path, "--hmac-key", trail.AUDIT_HMAC_KEY)
    assert code == 1 and "first broken link at seq 1" in out, out


def test_keys_are_required_unless_signatures_are_skipped_explicitly(trail, tmp_path):
    path = tmp_path / "trail.jsonl"
    call_command("export_audit", "--output", str(path))
    code, out = offline(path, "--hmac-key", "not-the-key")
    assert code == 1 and "not among the keys given" in out
    code, out = offline(path, "--no-signatures")
    assert code == 0 and "signatures were NOT checked" in out


def test_unreadable_files_exit_2(tmp_path):
    path = tmp_path / "junk.jsonl"
    path.write_text('{"type": "header", "format": "something-else"}\n')
    assert offline(path)[0] == 2
    path.write_text("not,an,export\n1,2,3\n")
    assert offline(path)[0] == 2


def test_the_offline_script_imports_only_the_standard_library():
    code = (
        "import sys; import governance.audit.offline_verify; "
        "bad = sorted({n.split('.')[0] for n in sys.modules} - set(sys.stdlib_module_names) - {'governance', '__main__'}); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=REPO,
                          env={"PYTHONPATH": str(REPO)}, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_checkpoints_must_precede_entries(trail, tmp_path):
    """The verifier streams entries past checkpoints it already holds; a checkpoint slipped in later is refused."""
    path = tmp_path / "trail.jsonl"
    call_command("export_audit", "--output", str(path))
    lines = path.read_text().splitlines(True)
    checkpoint = next(line for line in lines if '"type": "checkpoint"' in line)
    lines.remove(checkpoint)
    lines.insert(-1, checkpoint)
    path.write_text("".join(lines))
    code, out = offline(path, "--hmac-key", trail.AUDIT_HMAC_KEY)
    assert code == 2 and "checkpoints come first" in out


def test_ed25519_export_verifies_offline_with_the_public_key_alone(trail, tmp_path):
    secret = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"  # RFC 8032 test 1
    public = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    trail.AUDIT_ED25519_PRIVATE_KEY = secret
    for n in range(5):
        recorder.record("thing.update", "thing", f"ed-{n}")
    recorder.checkpoint()
    path = tmp_path / "trail.jsonl"
    call_command("export_audit", "--output", str(path))
    header = json.loads(path.read_text().splitlines()[0])
    assert public in header["public_keys"].values()  # a hint only; the verifier never trusts it
    # HMAC checkpoints from before the switch need the HMAC key; the Ed25519 ones only the public key.
    code, out = offline(path, "--hmac-key", trail.AUDIT_HMAC_KEY, "--public-key", public)
    assert code == 0, out
    code, out = offline(path, "--hmac-key", trail.AUDIT_HMAC_KEY)
    assert code == 1 and "not among the keys given" in out
    code, out = offline(path, "--hmac-key", trail.AUDIT_HMAC_KEY, "--public-key", "11" * 32)
    assert code == 1
