"""Verify an audit-trail export (JSON Lines or CSV) with nothing but the Python standard library.

    python -m governance.audit.offline_verify EXPORT.jsonl [--hmac-key KEY] [--public-key HEX]
    python -m governance.audit.offline_verify EXPORT.csv --no-signatures

An auditor runs this away from the server, so it imports neither Django nor anything outside the standard
library (chain.py, verifier.py, csv_cells.py and ed25519.py, which it uses, are stdlib-only too). Checkpoint signatures
are checked with keys the auditor supplies: the HMAC secret (--hmac-key, or the AUDIT_HMAC_KEY environment
variable) or the trusted Ed25519 public key (--public-key). A key embedded in the export is only a hint
and is never trusted, since whoever edits the file could swap it.

Exit codes, one per thing the verifier can know:
  0  OK: every hash and link holds, and every checkpoint signature (or --no-signatures was asked for)
  1  BROKEN: the export was tampered with (or cut); the first broken link is printed
  2  the file cannot be read as an export
  3  NO KEY: no key was given (no --hmac-key, --public-key or AUDIT_HMAC_KEY), so the checkpoint signatures
     cannot be checked; the hashes and links were checked and hold. Not "tampered": run again with the key.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys

from governance.audit import chain, csv_cells
from governance.audit.verifier import ChainWalk, Result

_INT_COLUMNS = ("seq", "actor_id")
_JSON_COLUMNS = ("before", "after", "meta")


class BadExport(Exception):
    """The file is not an audit export this verifier understands."""


def _read_jsonl(handle):
    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise BadExport(f"line {number} is not JSON: {exc}") from None
        if not isinstance(record, dict) or "type" not in record:
            raise BadExport(f"line {number} has no record type")
        yield record


def _read_csv(handle):
    reader = csv.DictReader(handle)
    if reader.fieldnames is None or "record_type" not in reader.fieldnames:
        raise BadExport("the CSV has no record_type column")
    for number, row in enumerate(reader, 2):
        # Undo the export's formula neutralisation (csv_cells.py), so hashes are over the stored values.
        row = {k: csv_cells.restore(v) if isinstance(v, str) else v for k, v in row.items()}
        kind = row.pop("record_type")
        try:
            for column in _JSON_COLUMNS:
                if row.get(column):
                    row[column] = json.loads(row[column])
            for column in _INT_COLUMNS:
                row[column] = int(row[column]) if row.get(column) else None
        except ValueError as exc:
            raise BadExport(f"CSV line {number}: {exc}") from None
        if kind == "entry":
            row["client_ip"] = row.get("client_ip") or None
            yield {"type": "entry", **{k: row.get(k) for k in (*chain.HASHED_FIELDS, "prev_hash", "hash")}}
        elif kind == "checkpoint":
            yield {"type": "checkpoint", **{k: row.get(k) for k in ("seq", *chain.CHECKPOINT_SIGNED_FIELDS, "signature")}}
        elif kind in ("header", "end"):
            yield {"type": kind, **(row.get("meta") or {})}
        else:
            raise BadExport(f"CSV line {number}: unknown record type {kind!r}")


def read_records(path: str):
    with open(path, encoding="utf-8", newline="") as handle:
        first = handle.read(1)
        handle.seek(0)
        reader = _read_jsonl if first == "{" else _read_csv
        yield from reader(handle)


def verify_records(records, keys: dict, *, check_signatures: bool = True) -> Result:
    """Verify an export given as an iterable of records: header, checkpoints, entries, end.

    One pass, holding only the checkpoints: a file of millions of entries verifies in constant memory.
    """
    records = iter(records)
    header = next(records, None)
    if not header or header.get("type") != "header":
        raise BadExport("the export does not start with a header record")
    if header.get("format") != chain.EXPORT_FORMAT:
        raise BadExport(f"format {header.get('format')!r} is not {chain.EXPORT_FORMAT!r}")
    if tuple(header.get("hashed_fields") or ()) != chain.HASHED_FIELDS:
        raise BadExport("the export hashes different fields than this verifier knows")
    checkpoints, walk, end = [], None, None
    entries = broken = 0
    for record in records:
        kind = record.pop("type")
        if end is not None:
            raise BadExport(f"a {kind} record follows the end record")
        if kind == "checkpoint":
            if walk is not None:
                raise BadExport("a checkpoint record follows the entries (checkpoints come first)")
            checkpoints.append(record)
        elif kind == "entry":
            if walk is None:
                first = header.get("first_seq") or 1
                walk = ChainWalk(
                    checkpoints, keys, start_seq=first, start_hash=chain.GENESIS if first == 1 else None,
                    check_signatures=check_signatures,
                )
            entries += 1
            if not broken and not walk.feed(record):
                broken = True
        elif kind == "end":
            end = record
        else:
            raise BadExport(f"unknown record type {kind!r}")
    if walk is None:
        walk = ChainWalk(checkpoints, keys, start_seq=header.get("first_seq") or 1, check_signatures=check_signatures)
    result = walk.finish()
    if result.ok and end is None:
        result.ok = False
        result.first_break = _break(None, "the export has no end record: the file was cut short")
    elif result.ok and (end.get("entries") != entries or end.get("checkpoints") != len(checkpoints)):
        result.ok = False
        result.first_break = _break(None, "the end record's counts do not match the file: records were added or removed")
    elif result.ok and entries and header.get("last_seq") != result.verified_to:
        result.ok = False
        result.first_break = _break(result.verified_to, f"the header promises entries up to {header.get('last_seq')}")
    if not check_signatures:
        result.notes.append("checkpoint signatures were NOT checked (--no-signatures)")
    return result


def _break(seq, reason):
    from governance.audit.verifier import Break

    return Break(seq=seq, reason=reason)


def keys_from(hmac_keys: list[str], public_keys: list[str]) -> dict:
    keys = {}
    for key in hmac_keys:
        raw = key.encode("utf-8")
        keys[chain.hmac_key_id(raw)] = (chain.HMAC_SHA256, raw)
    for key in public_keys:
        try:
            raw = bytes.fromhex(key)
        except ValueError:
            raise BadExport(f"--public-key {key!r} is not hex") from None
        if len(raw) != 32:
            raise BadExport("an Ed25519 public key is 32 bytes (64 hex characters)")
        keys[chain.ed25519_key_id(raw)] = (chain.ED25519, raw)
    return keys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m governance.audit.offline_verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("export", help="an export made by manage.py export_audit or GET /api/audit/export/")
    parser.add_argument("--hmac-key", action="append", default=[], help="HMAC key the checkpoints were signed with")
    parser.add_argument("--public-key", action="append", default=[], help="trusted Ed25519 public key, hex")
    parser.add_argument("--no-signatures", action="store_true", help="check hashes and links only")
    args = parser.parse_args(argv)
    hmac_keys = args.hmac_key or ([os.environ["AUDIT_HMAC_KEY"]] if os.environ.get("AUDIT_HMAC_KEY") else [])
    # Without any key the signatures cannot be judged either way: the links are still checked, and an
    # intact chain is reported as such (exit 3), never as a broken one.
    no_key = not hmac_keys and not args.public_key and not args.no_signatures
    counted = {"checkpoints": 0}

    def counting(records):
        for record in records:
            if record.get("type") == "checkpoint":
                counted["checkpoints"] += 1
            yield record

    try:
        keys = keys_from(hmac_keys, args.public_key)
        result = verify_records(counting(read_records(args.export)), keys,
                                check_signatures=not args.no_signatures and not no_key)
    except (BadExport, OSError, UnicodeDecodeError, csv.Error) as exc:
        print(f"ERROR: cannot read {args.export} as an audit export: {exc}")
        return 2
    if no_key and result.ok and counted["checkpoints"]:
        span = f"seq {result.verified_from}..{result.verified_to}" if result.verified_to else "no entries"
        print(f"NO KEY: cannot check signatures: no key given (pass --hmac-key KEY, --public-key HEX or set "
              f"AUDIT_HMAC_KEY). The hash chain holds: verified {span} ({result.entries_checked} entries "
              f"checked); {counted['checkpoints']} signed checkpoints were not checked.")
        for note in result.notes:
            print(f"note: {note}")
        return NO_KEY
    print(result.summary())
    for note in result.notes:
        print(f"note: {note}")
    return 0 if result.ok else 1


NO_KEY = 3


if __name__ == "__main__":
    sys.exit(main())
