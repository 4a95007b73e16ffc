"""The offline verifier's memory stays bounded whatever the bundle: run as a subprocess under an address-
space limit far below what the bombs inflate to (512 MiB each, 120,000 entries, a 200 MiB file hashed),
it answers `FAIL: ...` with exit 1 rather than dying of MemoryError. The old verifier read every member
whole and the whole file into memory, which this limit does not allow."""
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from governance.archive import services
from devtools.archive_sample import make_model_lineage
from governance.audit.recorder import record
from tests.support import crafted_zips

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]
# Address space, not resident memory: Python's own mappings take part of it (about 30 MiB for this
# stdlib-only command), so what a bundle can cost is well under this.
LIMIT = 160 * 1024 * 1024


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


def _limited():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def _run(path, *args):
    return subprocess.run([sys.executable, "-S", "-m", "governance.archive.verify", str(path), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300, preexec_fn=_limited, env={})


@pytest.fixture
def genuine(users):
    mv = make_model_lineage("mem", upstream=4)
    record("node.note", "node", mv.pk, after={"note": "reviewed"})
    return services.bundle_bytes(services.build_bundle(mv, users["auditor"], depth=5))


def test_the_limit_is_real(genuine, tmp_path):
    """The same limit stops a process that does hold 200 MiB, so the passes below mean something."""
    out = subprocess.run([sys.executable, "-S", "-c", "b = bytearray(200 * 1024 * 1024)"], capture_output=True,
                         text=True, timeout=60, preexec_fn=_limited, env={})
    assert out.returncode != 0 and "MemoryError" in out.stderr
    path = tmp_path / "genuine.zip"
    path.write_bytes(genuine)
    ok = _run(path)
    assert ok.returncode == 3 and ok.stdout.startswith("UNVERIFIED: cannot check signatures: no key given"), ok.stdout + ok.stderr


@pytest.mark.parametrize("case", ["bomb_manifest_lies", "bomb_directory_lies", "many_entries"])
def test_bombs_are_refused_within_the_limit(genuine, tmp_path, case):
    data, reason = crafted_zips.corpus(genuine, only={case})[case]
    path = tmp_path / f"{case}.zip"
    path.write_bytes(data)
    out = _run(path)
    assert out.returncode == 1 and out.stdout.startswith("FAIL: ") and reason in out.stdout, out.stdout + out.stderr
    assert out.stderr == ""


def test_a_large_member_is_hashed_in_chunks(genuine, tmp_path):
    """A 200 MiB report.html the manifest and directory agree on, whose hash is wrong: the verifier must
    inflate and hash all of it to find out, and does so within the limit."""
    members = crafted_zips.members_of(genuine)
    members["report.html"] = b"x"
    crafted_zips.resign(members, sizes={"report.html": 200 * 1024 * 1024})
    data = crafted_zips.write_with_bomb(members, "report.html", size=200 * 1024 * 1024)
    path = tmp_path / "big.zip"
    path.write_bytes(data)
    out = _run(path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stdout.strip() == "FAIL: file report.html was changed: its SHA-256 does not match the manifest"
    assert out.stderr == ""
