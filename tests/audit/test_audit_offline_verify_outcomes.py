"""The offline verifier says what it knows: an untouched export without a key is "cannot check signatures:
no key given" (exit 3), not tampering; with the key it is OK (0); an edited export is BROKEN (1) with or
without a key, since the links are checked either way."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from governance.audit import recorder

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


def _offline(path, *args):
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO)}  # no AUDIT_HMAC_KEY
    done = subprocess.run([sys.executable, "-S", "-m", "governance.audit.offline_verify", str(path), *args],
                          capture_output=True, text=True, cwd=path.parent, env=env, timeout=120)
    return done.returncode, done.stdout + done.stderr


def test_three_distinct_outcomes(settings, clients, tmp_path):
    settings.AUDIT_CHECKPOINT_EVERY = 3
    for n in range(8):
        recorder.record("thing.update", "thing", n, after={"n": n})
    response = clients["auditor"].get("/api/audit/export/?format=jsonl")
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"".join(response.streaming_content))
    assert '"type": "checkpoint"' in path.read_text() or '"type":"checkpoint"' in path.read_text()

    code, out = _offline(path)
    assert code == 3, out
    assert "cannot check signatures: no key given" in out and "BROKEN" not in out and "hash chain holds" in out

    code, out = _offline(path, "--hmac-key", settings.AUDIT_HMAC_KEY)
    assert code == 0 and out.startswith("OK"), out

    lines = path.read_text().splitlines()
    entry_at = next(i for i, line in enumerate(lines) if json.loads(line)["type"] == "entry")
    edited = json.loads(lines[entry_at])
    edited["after"] = {"n": 999}
    lines[entry_at] = json.dumps(edited)
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join(lines) + "\n")
    for args in ((), ("--hmac-key", settings.AUDIT_HMAC_KEY)):
        code, out = _offline(tampered, *args)
        assert code == 1 and "BROKEN" in out and "no key given" not in out, (args, out)
