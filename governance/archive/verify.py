"""Offline verifier for evidence bundles. Standard library only, on purpose.

An auditor must be able to check a bundle years from now on a machine with nothing but Python, so this
module imports no third-party package: only the standard library and the audit app's stdlib-only chain
walker (governance/audit/chain.py, verifier.py, offline_verify.py, ed25519.py). Usage:

    python -m governance.archive.verify BUNDLE.zip [--sha256 HEX] [--hmac-key KEY | --public-key HEX]

It checks the ZIP, the manifest's own digest, that the files are exactly the manifest's files, every
file's SHA-256 and size, that the lineage graph is closed (edges and raw references point inside the
bundle), every raw payload's digest, and the audit-chain excerpt (each entry's hash, the links between
consecutive entries, and, given a key, the checkpoint's signature); it stops at and names the first
problem and exits 1, or prints OK and the bundle's SHA-256 (compare it with the audit trail) and exits 0.
See governance/archive/FORMAT.md.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
import os
import zlib
from dataclasses import dataclass, field

# Standard-library-only modules of the audit app (governance/audit/__init__.py imports nothing).
from governance.audit import chain as audit_chain
from governance.audit import verifier as audit_verifier
from governance.audit.offline_verify import BadExport, keys_from

FORMAT = "lineage-ledger/evidence-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
REQUIRED_FILES = ("lineage.json", "audit.json", "governance.json", "report.html")
MANIFEST_KEYS = (
    "format", "format_version", "created_at", "created_by", "service", "subject", "depth", "as_of",
    "counts", "files", "manifest_sha256",
)

# The audit chain's own stdlib-only modules, so bundle and trail verification can never disagree.
GENESIS = audit_chain.GENESIS
HASHED_FIELDS = audit_chain.HASHED_FIELDS
canonical_json = audit_chain.canonical_json


def manifest_digest(manifest: dict) -> str:
    """The manifest's digest over every key but its own, so an edited manifest shows."""
    rest = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(canonical_json(rest).encode("utf-8")).hexdigest()


class Problem(Exception):
    """The first thing wrong with a bundle, in words an auditor can act on."""


@dataclass
class Report:
    sha256: str
    files: int
    nodes: int
    edges: int
    audit_entries: int
    manifest: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def _json(zf: zipfile.ZipFile, name: str, contents: dict[str, bytes]):
    try:
        return json.loads(contents[name].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Problem(f"{name} is not valid JSON: {exc}") from None


def _read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise Problem(f"file {name} is corrupt in the ZIP: {exc}") from None


def _check_manifest(manifest) -> None:
    if not isinstance(manifest, dict):
        raise Problem("manifest.json is not a JSON object")
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        raise Problem(f"manifest.json lacks {', '.join(missing)}")
    if manifest["format"] != FORMAT:
        raise Problem(f"manifest.json names format {manifest['format']!r}, expected {FORMAT!r}")
    if manifest["format_version"] != FORMAT_VERSION:
        raise Problem(f"manifest.json has format_version {manifest['format_version']!r}; this verifier reads {FORMAT_VERSION}")
    if manifest_digest(manifest) != manifest["manifest_sha256"]:
        raise Problem("manifest.json was edited: its manifest_sha256 does not match its content")
    files = manifest["files"]
    if not isinstance(files, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("sha256"), str) and isinstance(v.get("size"), int) for v in files.values()
    ):
        raise Problem("manifest.json 'files' must map each path to {sha256, size}")
    for name in REQUIRED_FILES:
        if name not in files:
            raise Problem(f"manifest.json does not list the required file {name}")


def _check_lineage(lineage, manifest: dict, files: dict) -> tuple[int, int]:
    if not isinstance(lineage, dict) or not isinstance(lineage.get("nodes"), list) or not isinstance(lineage.get("edges"), list):
        raise Problem("lineage.json must hold 'nodes' and 'edges' lists")
    keys = set()
    for node in lineage["nodes"]:
        key = node.get("ref")
        if key in keys:
            raise Problem(f"lineage.json lists node {key} twice")
        keys.add(key)
        for raw in [node.get("raw")] + [rev.get("raw") for rev in node.get("revisions", [])]:
            if raw is not None and raw not in files:
                raise Problem(f"lineage.json node {key} cites raw payload {raw}, which is not in the bundle")
    subject = manifest["subject"].get("ref")
    if subject not in keys:
        raise Problem(f"the subject {subject} is not among lineage.json's nodes")
    for edge in lineage["edges"]:
        for end in ("src", "dst"):
            if edge.get(end) not in keys:
                raise Problem(f"lineage.json edge {edge.get('src')} -{edge.get('kind')}-> {edge.get('dst')} leaves the bundle")
        if edge.get("raw") is not None and edge["raw"] not in files:
            raise Problem(f"lineage.json edge {edge.get('src')} -> {edge.get('dst')} cites {edge['raw']}, not in the bundle")
    counts = manifest["counts"]
    if counts.get("nodes") != len(lineage["nodes"]) or counts.get("edges") != len(lineage["edges"]):
        raise Problem("manifest counts of nodes/edges do not match lineage.json")
    return len(lineage["nodes"]), len(lineage["edges"])


def _check_raw(name: str, record) -> None:
    if not isinstance(record, dict) or "body" not in record or "digest" not in record:
        raise Problem(f"{name} must hold 'digest' and 'body'")
    actual = hashlib.sha256(canonical_json(record["body"]).encode("utf-8")).hexdigest()
    if actual != record["digest"]:
        raise Problem(f"{name}: the payload's digest is {actual}, the record says {record['digest']}")


def _check_audit(audit, keys: dict | None, notes: list) -> int:
    if not isinstance(audit, dict) or not isinstance(audit.get("entries"), list):
        raise Problem("audit.json must hold an 'entries' list")
    if tuple(audit.get("hashed_fields", ())) != tuple(HASHED_FIELDS):
        raise Problem("audit.json names different hashed fields than this verifier knows")
    entries = audit["entries"]
    if not all(isinstance(e, dict) for e in entries):
        raise Problem("audit.json entries must be objects")
    checkpoint = audit.get("checkpoint")
    result = audit_verifier.verify_excerpt(entries, checkpoint if keys else None, keys or {})
    if not result.ok:
        brk = result.first_break
        raise Problem(f"audit entry seq {brk.seq}: {brk.reason}")
    by_seq = {e["seq"]: e for e in entries}
    missing = [s for s in audit.get("of_interest", []) if s not in by_seq]
    if missing:
        raise Problem(f"audit entries {missing} are named as of interest but are not in the excerpt")
    if checkpoint:
        seq = checkpoint.get("seq")
        if seq in by_seq and by_seq[seq].get("hash") != checkpoint.get("entry_hash"):
            raise Problem(f"audit checkpoint at seq {seq} disagrees with the excerpt's entry {seq}")
        if audit.get("bound_to_checkpoint") and audit.get("of_interest"):
            gaps = [s for s in range(audit["of_interest"][0], seq + 1) if s not in by_seq]
            if gaps:
                raise Problem(f"audit excerpt claims to reach its checkpoint unbroken but lacks entry {gaps[0]}")
        if keys:
            notes.append(f"audit checkpoint at seq {seq} signature verified")
        else:
            notes.append("audit checkpoint signature NOT checked: pass --hmac-key or --public-key (or set AUDIT_HMAC_KEY)")
    else:
        notes.append("no audit checkpoint in the bundle: entries are self-consistent but not bound to a signature")
    notes.extend(result.notes)
    return len(entries)


def verify_zip(zf: zipfile.ZipFile, sha256: str, expected_sha256: str | None = None, keys: dict | None = None) -> Report:
    if expected_sha256 and expected_sha256.lower() != sha256:
        raise Problem(f"bundle SHA-256 is {sha256}, expected {expected_sha256.lower()}")
    names = zf.namelist()
    seen = set()
    for name in names:
        if name in seen:
            raise Problem(f"the ZIP holds {name} twice")
        seen.add(name)
        if name.startswith("/") or ".." in name.split("/") or "\\" in name:
            raise Problem(f"unsafe path in the ZIP: {name}")
    if MANIFEST not in seen:
        raise Problem("manifest.json is missing")
    contents = {MANIFEST: _read_member(zf, MANIFEST)}
    manifest = _json(zf, MANIFEST, contents)
    _check_manifest(manifest)
    files = manifest["files"]
    for name in names:
        if name != MANIFEST and name not in files:
            raise Problem(f"unexpected file {name}: it is in the ZIP but not in the manifest")
    for name in sorted(files):
        if name not in seen:
            raise Problem(f"missing file {name}: the manifest lists it but the ZIP lacks it")
    for name in sorted(files):
        data = _read_member(zf, name)
        want = files[name]
        if len(data) != want["size"]:
            raise Problem(f"file {name} is {len(data)} bytes, the manifest says {want['size']}")
        if hashlib.sha256(data).hexdigest() != want["sha256"]:
            raise Problem(f"file {name} was changed: its SHA-256 does not match the manifest")
        contents[name] = data
    nodes, edges = _check_lineage(_json(zf, "lineage.json", contents), manifest, files)
    raw_names = [n for n in sorted(files) if n.startswith("raw/")]
    if manifest["counts"].get("raw_records") != len(raw_names):
        raise Problem("manifest count of raw records does not match the raw/ files")
    for name in raw_names:
        _check_raw(name, _json(zf, name, contents))
    notes: list = []
    audit_entries = _check_audit(_json(zf, "audit.json", contents), keys, notes)
    return Report(sha256=sha256, files=len(files), nodes=nodes, edges=edges, audit_entries=audit_entries,
                  manifest=manifest, notes=notes)


def verify_bytes(data: bytes, expected_sha256: str | None = None, keys: dict | None = None) -> Report:
    import io

    sha256 = hashlib.sha256(data).hexdigest()
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise Problem(f"not a readable ZIP file: {exc}") from None
    with zf:
        return verify_zip(zf, sha256, expected_sha256, keys)


def verify_path(path: str, expected_sha256: str | None = None, keys: dict | None = None) -> Report:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise Problem(f"cannot read {path}: {exc.strerror}") from None
    return verify_bytes(data, expected_sha256, keys)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m governance.archive.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", help="path to the evidence bundle ZIP")
    parser.add_argument("--sha256", help="the bundle SHA-256 recorded in the audit trail, to compare against")
    parser.add_argument("--hmac-key", action="append", default=[], help="audit HMAC secret to check the checkpoint")
    parser.add_argument("--public-key", action="append", default=[], help="trusted Ed25519 public key (hex)")
    args = parser.parse_args(argv)
    hmac_keys = args.hmac_key or ([os.environ["AUDIT_HMAC_KEY"]] if os.environ.get("AUDIT_HMAC_KEY") else [])
    try:
        keys = keys_from(hmac_keys, args.public_key)
    except BadExport as exc:
        print(f"FAIL: {exc}")
        return 2
    try:
        report = verify_path(args.bundle, args.sha256, keys)
    except Problem as problem:
        print(f"FAIL: {problem}")
        return 1
    subject = report.manifest["subject"]
    print(
        f"OK: {report.files} files, {report.nodes} nodes, {report.edges} edges, {report.audit_entries} audit entries; "
        f"subject {subject.get('kind')} {subject.get('name') or subject.get('source_id')}; "
        f"created {report.manifest['created_at']} by {report.manifest['created_by'].get('username')}"
    )
    for note in report.notes:
        print(f"note: {note}")
    print(f"sha256 {report.sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
