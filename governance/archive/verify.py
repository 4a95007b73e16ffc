"""Offline verifier for evidence bundles. Standard library only, on purpose.

An auditor must be able to check a bundle years from now on a machine with nothing but Python, so this
module imports neither Django nor the project (the audit-chain hashing rule is repeated here, and a test
keeps it identical to governance/audit/chain.py). Usage:

    python -m governance.archive.verify BUNDLE.zip [--sha256 HEX]

It checks the ZIP, the manifest's own digest, that the files are exactly the manifest's files, every
file's SHA-256 and size, that the lineage graph is closed (edges and raw references point inside the
bundle), every raw payload's digest, and the audit-chain excerpt; it stops at and names the first
problem and exits 1, or prints OK and the bundle's SHA-256 (compare it with the audit trail) and exits 0.
See governance/archive/FORMAT.md.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
import zlib
from dataclasses import dataclass, field

FORMAT = "lineage-ledger/evidence-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
REQUIRED_FILES = ("lineage.json", "audit.json", "governance.json", "report.html")
MANIFEST_KEYS = (
    "format", "format_version", "created_at", "created_by", "service", "subject", "depth", "as_of",
    "counts", "files", "manifest_sha256",
)

# Same as governance/audit/chain.py (tests/test_archive_verify.py keeps the two in step).
GENESIS = "0" * 64
HASHED_FIELDS = (
    "seq", "at", "actor_id", "actor_username", "action", "object_type", "object_id", "before", "after",
    "request_id", "client_ip", "reason",
)


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, fields: dict) -> str:
    body = canonical_json({name: fields.get(name) for name in HASHED_FIELDS})
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


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


def _check_audit(audit) -> int:
    if not isinstance(audit, dict) or not isinstance(audit.get("entries"), list):
        raise Problem("audit.json must hold an 'entries' list")
    if tuple(audit.get("hashed_fields", ())) != HASHED_FIELDS:
        raise Problem("audit.json names different hashed fields than this verifier knows")
    by_seq = {}
    previous = None
    for entry in audit["entries"]:
        seq = entry.get("seq")
        if previous is not None and (not isinstance(seq, int) or seq <= previous):
            raise Problem(f"audit.json entries are not in increasing seq order at seq {seq}")
        expected = entry_hash(entry.get("prev_hash", ""), entry)
        if expected != entry.get("hash"):
            raise Problem(f"audit entry seq {seq}: hash does not match its content (expected {expected})")
        if seq == 1 and entry.get("prev_hash") != GENESIS:
            raise Problem("audit entry seq 1 does not start from the genesis hash")
        if previous is not None and seq == previous + 1 and entry["prev_hash"] != by_seq[previous]["hash"]:
            raise Problem(f"audit entry seq {seq} does not link to entry {previous}")
        by_seq[seq] = entry
        previous = seq
    checkpoint = audit.get("checkpoint")
    if checkpoint:
        seq, digest = checkpoint.get("seq"), checkpoint.get("hash")
        if seq in by_seq and by_seq[seq]["hash"] != digest:
            raise Problem(f"audit checkpoint at seq {seq} disagrees with the excerpt's entry {seq}")
        nxt = by_seq.get(seq + 1) if isinstance(seq, int) else None
        if nxt is not None and nxt["prev_hash"] != digest:
            raise Problem(f"audit entry seq {seq + 1} does not link to the checkpoint at seq {seq}")
    return len(audit["entries"])


def verify_zip(zf: zipfile.ZipFile, sha256: str, expected_sha256: str | None = None) -> Report:
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
    audit_entries = _check_audit(_json(zf, "audit.json", contents))
    return Report(sha256=sha256, files=len(files), nodes=nodes, edges=edges, audit_entries=audit_entries, manifest=manifest)


def verify_bytes(data: bytes, expected_sha256: str | None = None) -> Report:
    import io

    sha256 = hashlib.sha256(data).hexdigest()
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise Problem(f"not a readable ZIP file: {exc}") from None
    with zf:
        return verify_zip(zf, sha256, expected_sha256)


def verify_path(path: str, expected_sha256: str | None = None) -> Report:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise Problem(f"cannot read {path}: {exc.strerror}") from None
    return verify_bytes(data, expected_sha256)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m governance.archive.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", help="path to the evidence bundle ZIP")
    parser.add_argument("--sha256", help="the bundle SHA-256 recorded in the audit trail, to compare against")
    args = parser.parse_args(argv)
    try:
        report = verify_path(args.bundle, args.sha256)
    except Problem as problem:
        print(f"FAIL: {problem}")
        return 1
    subject = report.manifest["subject"]
    print(
        f"OK: {report.files} files, {report.nodes} nodes, {report.edges} edges, {report.audit_entries} audit entries; "
        f"subject {subject.get('kind')} {subject.get('name') or subject.get('source_id')}; "
        f"created {report.manifest['created_at']} by {report.manifest['created_by'].get('username')}"
    )
    print(f"sha256 {report.sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
