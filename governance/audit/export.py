"""Exporting the audit trail as JSON Lines or CSV, with hashes and signed checkpoints.

An export is evidence handed to someone outside: it carries everything `offline_verify` needs (each entry's
hashed fields, prev_hash and hash, and the checkpoints with their signatures), a header naming the format,
and an end record with counts so a file cut short is noticed. Both writers are generators of text chunks,
so an export of millions of entries streams without being held in memory.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json

from governance.audit import chain, csv_cells, signing
from governance.audit.models import AuditCheckpoint, AuditEntry, iso
from governance.audit.verify import iter_entries

CSV_COLUMNS = (
    "record_type", *chain.HASHED_FIELDS, "prev_hash", "hash",
    "entry_hash", "created_at", "key_id", "algorithm", "signature", "meta",
)


def plan(seq_min: int | None = None, seq_max: int | None = None) -> dict:
    """The header of an export of entries seq_min..seq_max (default: the whole chain up to its tail now)."""
    # Checkpoints are noted before the tail is read, as in verify.py: one signed after this moment (say,
    # the periodic one the export's own audit entry may trigger) lies beyond the export and is left out,
    # while one that vouches for an entry past a tail that shrank is kept and flagged offline.
    newest_checkpoint = AuditCheckpoint.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    tail = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    first = max(1, seq_min or 1)
    last = min(tail, seq_max) if seq_max is not None else tail
    signer = signing.current_signer()
    return {
        "format": chain.EXPORT_FORMAT,
        "hashed_fields": list(chain.HASHED_FIELDS),
        "exported_at": iso(dt.datetime.now(dt.timezone.utc)),
        "first_seq": first,
        "last_seq": last,
        # True: the export runs to the chain's tail, so checkpoints beyond last_seq (a truncated chain) are
        # included and flagged. False: a slice; checkpoints after it are left out.
        "to_tail": seq_max is None or seq_max >= tail,
        "public_keys": {signer.key_id: signer.public_key} if signer.public_key else {},
        "checkpoints_through": newest_checkpoint,
    }


def _checkpoints(header: dict) -> list[dict]:
    qs = AuditCheckpoint.objects.filter(seq__gte=header["first_seq"], seq__lte=header["checkpoints_through"])
    if not header["to_tail"]:
        qs = qs.filter(seq__lt=header["last_seq"])
    return [cp.signed_fields() for cp in qs]


def _entries(header: dict):
    if header["last_seq"] < header["first_seq"]:
        return iter(())
    return iter_entries(seq_min=header["first_seq"], seq_max=header["last_seq"])


def jsonl(header: dict):
    """One JSON object per line: the header, the checkpoints, every entry, then an end record.

    Checkpoints come first so that a verifier can stream the entries past them in one pass, holding only
    the checkpoints in memory."""
    yield json.dumps({"type": "header", **header}, ensure_ascii=False) + "\n"
    checkpoints = _checkpoints(header)
    for cp in checkpoints:
        yield json.dumps({"type": "checkpoint", **cp}, ensure_ascii=False) + "\n"
    count = 0
    for entry in _entries(header):
        count += 1
        yield json.dumps({"type": "entry", **entry}, ensure_ascii=False) + "\n"
    yield json.dumps({"type": "end", "entries": count, "checkpoints": len(checkpoints)}) + "\n"


def _csv_line(values: dict) -> str:
    buffer = io.StringIO()
    # Every cell neutralised against spreadsheet formulas (csv_cells.py); offline_verify reverses it.
    # CRLF line ends (RFC 4180): the writer quotes a cell holding any line-terminator character, so a value
    # with a bare CR stays inside its cell (with "\n" alone as terminator, a CR was written unquoted).
    csv.writer(buffer, lineterminator="\r\n").writerow([csv_cells.neutralise(values.get(c, "")) for c in CSV_COLUMNS])
    return buffer.getvalue()


def csv_rows(header: dict):
    """CSV with a column per hashed field. JSON-valued cells (before, after, meta) hold canonical JSON;
    an empty actor_id or client_ip cell means null. A cell a spreadsheet would evaluate (`=`, `+`, `-`,
    `@`, tab, CR first) starts with an apostrophe, as does one that started with an apostrophe already."""
    yield _csv_line({c: c for c in CSV_COLUMNS})
    yield _csv_line({"record_type": "header", "meta": chain.canonical_json(header)})
    checkpoints = _checkpoints(header)
    for cp in checkpoints:
        yield _csv_line({**cp, "record_type": "checkpoint"})
    count = 0
    for entry in _entries(header):
        count += 1
        row = dict(entry, record_type="entry")
        row["before"] = chain.canonical_json(entry["before"])
        row["after"] = chain.canonical_json(entry["after"])
        row["actor_id"] = "" if entry["actor_id"] is None else entry["actor_id"]
        row["client_ip"] = entry["client_ip"] or ""
        yield _csv_line(row)
    yield _csv_line({"record_type": "end", "meta": chain.canonical_json({"entries": count, "checkpoints": len(checkpoints)})})


WRITERS = {"jsonl": jsonl, "csv": csv_rows}
CONTENT_TYPES = {"jsonl": "application/x-ndjson; charset=utf-8", "csv": "text/csv; charset=utf-8"}
