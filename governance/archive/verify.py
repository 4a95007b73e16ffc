"""Offline verifier for evidence bundles. Standard library only, on purpose.

An auditor must be able to check a bundle years from now on a machine with nothing but Python, so this
module imports no third-party package: only the standard library and the audit app's stdlib-only chain
walker (governance/audit/chain.py, verifier.py, offline_verify.py, csv_cells.py, ed25519.py). Usage:

    python -m governance.archive.verify BUNDLE.zip [--sha256 HEX] [--hmac-key KEY | --public-key HEX]

It checks the ZIP, the manifest's own digest, that the files are exactly the manifest's files, every
file's SHA-256 and size, that the lineage graph is closed (edges and raw references point inside the
bundle), every raw payload's digest, and the audit-chain excerpt (each entry's hash, the links between
consecutive entries, and, given a key, the checkpoint's signature). Exit codes: 1 and `FAIL: <the first
problem>` when anything is wrong (tampered or malformed); 3 and `UNVERIFIED: cannot check signatures: ...`
when the contents are self-consistent but no key was given (or the bundle holds no checkpoint), so a missing
key never reads as tampering nor as success; 0 and `OK: ...` (naming the checkpoint) when the checkpoint's
signature was verified too; 2 for bad arguments. The bundle's SHA-256 is printed either way (compare it
with the audit trail).

Hostile input is expected (uploads reach the same code): the file is hashed and inflated in chunks, the
ZIP directory is screened (entry count, names the format allows, stored/deflate only, no encryption,
declared sizes under the caps) before anything is inflated, and inflating stops as soon as a file passes
the size its manifest gives it or the caps (`Limits`), whatever the directory declared.
See governance/archive/FORMAT.md.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import zipfile
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

# Only these names may be in a bundle (FORMAT.md, "Files"); raw payloads are numbered.
_ALLOWED = re.compile(r"(manifest\.json|lineage\.json|audit\.json|governance\.json|report\.html|raw/[0-9]{1,19}\.json)")
CHUNK = 64 * 1024
# A bundle's directory entry is 46 bytes plus a short name; 512 leaves room for extra fields.
MAX_DIRECTORY_BYTES_PER_ENTRY = 512

# What the verifier reports about the audit checkpoint's signature.
SIGNATURE_VERIFIED = "verified"
SIGNATURE_NOT_CHECKED = "not_checked"        # no key given
SIGNATURE_UNKNOWN_KEY = "unknown_key"        # keys given, but not the one that signed (server view of an upload)
SIGNATURE_NO_CHECKPOINT = "no_checkpoint"

# Exit codes of `python -m governance.archive.verify`.
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_UNVERIFIED = 0, 1, 2, 3


def allowed_name(name) -> bool:
    return isinstance(name, str) and _ALLOWED.fullmatch(name) is not None


@dataclass(frozen=True)
class Limits:
    """Caps on what a bundle may make the verifier inflate, checked from the ZIP directory and again while
    inflating (a directory can lie). The server reads them from settings (ARCHIVE_ZIP_MAX_*), the
    command line from the same environment variables or flags. Defaults fit the largest bundle the
    service builds (ARCHIVE_MAX_BUNDLE_NODES nodes with their payloads) with room to spare."""

    max_entries: int = 100_000
    max_member_bytes: int = 256 * 1024 * 1024
    max_total_bytes: int = 1024 * 1024 * 1024

    @classmethod
    def from_env(cls, environ=None) -> "Limits":
        environ = os.environ if environ is None else environ
        values = {}
        for attr, var in (("max_entries", "ARCHIVE_ZIP_MAX_ENTRIES"), ("max_member_bytes", "ARCHIVE_ZIP_MAX_MEMBER_BYTES"),
                          ("max_total_bytes", "ARCHIVE_ZIP_MAX_TOTAL_BYTES")):
            if environ.get(var):
                values[attr] = int(environ[var])
        return cls(**values)


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
    signature: str = SIGNATURE_NOT_CHECKED
    checkpoint: dict | None = None
    lineage: dict | None = field(default=None, repr=False)   # kept only for restore
    raws: dict | None = field(default=None, repr=False)


def _json(name: str, data: bytes):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Problem(f"{name} is not valid JSON: {str(exc)[:200]}") from None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_manifest(manifest) -> None:
    """Every field the verifier or restore reads is checked for its type here, so a manifest of the wrong
    shape is a named failure rather than an exception further on."""
    if not isinstance(manifest, dict):
        raise Problem("manifest.json is not a JSON object")
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        raise Problem(f"manifest.json lacks {', '.join(missing)}")
    if manifest["format"] != FORMAT:
        raise Problem(f"manifest.json names format {str(manifest['format'])[:100]!r}, expected {FORMAT!r}")
    if manifest["format_version"] != FORMAT_VERSION or not _is_int(manifest["format_version"]):
        raise Problem(f"manifest.json has format_version {str(manifest['format_version'])[:20]!r}; this verifier reads {FORMAT_VERSION}")
    if not isinstance(manifest["manifest_sha256"], str) or manifest_digest(manifest) != manifest["manifest_sha256"]:
        raise Problem("manifest.json was edited: its manifest_sha256 does not match its content")
    subject = manifest["subject"]
    if not isinstance(subject, dict) or not all(isinstance(subject.get(k), str) for k in ("ref", "source", "kind", "source_id")):
        raise Problem("manifest.json 'subject' must be an object with string ref, source, kind and source_id")
    if subject.get("name") is not None and not isinstance(subject["name"], str):
        raise Problem("manifest.json 'subject.name' must be a string")
    counts = manifest["counts"]
    if not isinstance(counts, dict) or not all(_is_int(v) for v in counts.values()):
        raise Problem("manifest.json 'counts' must be an object of integers")
    if not isinstance(manifest["created_by"], dict):
        raise Problem("manifest.json 'created_by' must be an object")
    for key in ("created_at", "as_of"):
        if not isinstance(manifest[key], str):
            raise Problem(f"manifest.json '{key}' must be a timestamp string")
    if not _is_int(manifest["depth"]):
        raise Problem("manifest.json 'depth' must be an integer")
    files = manifest["files"]
    if not isinstance(files, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("sha256"), str) and _is_int(v.get("size")) and v["size"] >= 0
        for v in files.values()
    ):
        raise Problem("manifest.json 'files' must map each path to {sha256, size}")
    for name in files:
        if name == MANIFEST or not allowed_name(name):
            raise Problem(f"manifest.json lists {str(name)[:200]!r}, which the bundle format does not allow")
    for name in REQUIRED_FILES:
        if name not in files:
            raise Problem(f"manifest.json does not list the required file {name}")


def _optional_str(value) -> bool:
    return value is None or isinstance(value, str)


def _check_lineage(lineage, manifest: dict, files: dict) -> tuple[int, int]:
    if not isinstance(lineage, dict) or not isinstance(lineage.get("nodes"), list) or not isinstance(lineage.get("edges"), list):
        raise Problem("lineage.json must hold 'nodes' and 'edges' lists")
    keys = set()
    for node in lineage["nodes"]:
        if not isinstance(node, dict):
            raise Problem("lineage.json nodes must be objects")
        key = node.get("ref")
        if not isinstance(key, str) or not all(isinstance(node.get(k), str) for k in ("source", "kind", "source_id")):
            raise Problem("lineage.json nodes must have string ref, source, kind and source_id")
        if key in keys:
            raise Problem(f"lineage.json lists node {key[:200]} twice")
        keys.add(key)
        revisions = node.get("revisions", [])
        if not isinstance(revisions, list) or not all(isinstance(r, dict) for r in revisions):
            raise Problem(f"lineage.json node {key[:200]}: 'revisions' must be a list of objects")
        for raw in [node.get("raw")] + [rev.get("raw") for rev in revisions]:
            if not _optional_str(raw):
                raise Problem(f"lineage.json node {key[:200]}: 'raw' must be a path or null")
            if raw is not None and (raw not in files or not raw.startswith("raw/")):
                raise Problem(f"lineage.json node {key[:200]} cites raw payload {raw[:200]}, which is not in the bundle")
    subject = manifest["subject"].get("ref")
    if subject not in keys:
        raise Problem(f"the subject {subject[:200]} is not among lineage.json's nodes")
    for edge in lineage["edges"]:
        if not isinstance(edge, dict):
            raise Problem("lineage.json edges must be objects")
        for end in ("src", "dst"):
            if not isinstance(edge.get(end), str) or edge.get(end) not in keys:
                raise Problem(f"lineage.json edge {str(edge.get('src'))[:200]} -{str(edge.get('kind'))[:50]}-> "
                              f"{str(edge.get('dst'))[:200]} leaves the bundle")
        raw = edge.get("raw")
        if not _optional_str(raw) or (raw is not None and (raw not in files or not raw.startswith("raw/"))):
            raise Problem(f"lineage.json edge {edge['src'][:200]} -> {edge['dst'][:200]} cites {str(raw)[:200]}, not in the bundle")
    counts = manifest["counts"]
    if counts.get("nodes") != len(lineage["nodes"]) or counts.get("edges") != len(lineage["edges"]):
        raise Problem("manifest counts of nodes/edges do not match lineage.json")
    return len(lineage["nodes"]), len(lineage["edges"])


def _check_raw(name: str, record) -> None:
    if not isinstance(record, dict) or "body" not in record or not isinstance(record.get("digest"), str):
        raise Problem(f"{name} must hold 'digest' and 'body'")
    try:
        actual = hashlib.sha256(canonical_json(record["body"]).encode("utf-8")).hexdigest()
    except (TypeError, ValueError, UnicodeEncodeError, RecursionError) as exc:
        raise Problem(f"{name}: the payload cannot be put in canonical form: {str(exc)[:200]}") from None
    if actual != record["digest"]:
        raise Problem(f"{name}: the payload's digest is {actual}, the record says {record['digest'][:100]}")


def _checkpoint_summary(checkpoint) -> dict | None:
    if not isinstance(checkpoint, dict):
        return None
    return {k: checkpoint.get(k) for k in ("seq", "entry_hash", "created_at", "key_id", "algorithm")}


def _check_audit(audit, keys: dict | None, notes: list, *, unknown_key_ok: bool = False) -> tuple[int, str, dict | None]:
    """Returns (entries, signature state, checkpoint). The state is SIGNATURE_VERIFIED only when a key was
    given and the checkpoint's signature is good; `unknown_key_ok` (the server's view of an uploaded file)
    reports a checkpoint signed with a key it does not hold as unchecked rather than as a failure."""
    if not isinstance(audit, dict) or not isinstance(audit.get("entries"), list):
        raise Problem("audit.json must hold an 'entries' list")
    if tuple(audit.get("hashed_fields", ())) != tuple(HASHED_FIELDS):
        raise Problem("audit.json names different hashed fields than this verifier knows")
    entries = audit["entries"]
    if not all(isinstance(e, dict) and _is_int(e.get("seq")) for e in entries):
        raise Problem("audit.json entries must be objects with an integer seq")
    checkpoint = audit.get("checkpoint")
    if checkpoint is not None and not (isinstance(checkpoint, dict) and _is_int(checkpoint.get("seq"))):
        raise Problem("audit.json 'checkpoint' must be an object with an integer seq, or null")
    of_interest = audit.get("of_interest", [])
    if not isinstance(of_interest, list) or not all(_is_int(s) for s in of_interest):
        raise Problem("audit.json 'of_interest' must be a list of integers")
    use_keys = keys
    if keys and checkpoint and unknown_key_ok and checkpoint.get("key_id") not in keys:
        use_keys = None
    try:
        result = audit_verifier.verify_excerpt(entries, checkpoint if use_keys else None, use_keys or {})
    except (TypeError, ValueError, AttributeError, UnicodeEncodeError, RecursionError) as exc:
        raise Problem(f"audit.json entries have fields of the wrong type: {str(exc)[:200]}") from None
    if not result.ok:
        brk = result.first_break
        raise Problem(f"audit entry seq {brk.seq}: {brk.reason}")
    by_seq = {e["seq"]: e for e in entries}
    missing = [s for s in of_interest if s not in by_seq]
    if missing:
        raise Problem(f"audit entries {missing[:20]} are named as of interest but are not in the excerpt")
    state = SIGNATURE_NO_CHECKPOINT
    if checkpoint:
        seq = checkpoint.get("seq")
        if seq in by_seq and by_seq[seq].get("hash") != checkpoint.get("entry_hash"):
            raise Problem(f"audit checkpoint at seq {seq} disagrees with the excerpt's entry {seq}")
        if audit.get("bound_to_checkpoint") and of_interest:
            if seq - of_interest[0] > len(entries):
                raise Problem(f"audit excerpt claims to reach its checkpoint unbroken but lacks entries before {seq}")
            gaps = [s for s in range(of_interest[0], seq + 1) if s not in by_seq]
            if gaps:
                raise Problem(f"audit excerpt claims to reach its checkpoint unbroken but lacks entry {gaps[0]}")
        if use_keys:
            state = SIGNATURE_VERIFIED
            notes.append(f"audit checkpoint at seq {seq} signature verified")
        elif keys:
            state = SIGNATURE_UNKNOWN_KEY
            notes.append(f"audit checkpoint at seq {seq} is signed with key {str(checkpoint.get('key_id'))[:80]!r}, "
                         "which this verifier does not hold: signature NOT checked")
        else:
            state = SIGNATURE_NOT_CHECKED
            notes.append("audit checkpoint signature NOT checked: pass --hmac-key or --public-key (or set AUDIT_HMAC_KEY)")
    else:
        notes.append("no audit checkpoint in the bundle: entries are self-consistent but not bound to a signature")
    # verify_excerpt's own "no checkpoint given" is about the call, not the bundle: said above in its terms.
    notes.extend(n for n in result.notes if not n.startswith("no checkpoint given"))
    return len(entries), state, _checkpoint_summary(checkpoint)


class _Reader:
    """Reads members of an already-screened ZIP in chunks, never past the manifest's size or the caps."""

    def __init__(self, zf: zipfile.ZipFile, infos: dict, limits: Limits):
        self.zf, self.infos, self.limits, self.total = zf, infos, limits, 0

    def read(self, name: str, want_size: int | None, want_sha256: str | None, keep: bool) -> bytes | None:
        info = self.infos[name]
        limit = self.limits.max_member_bytes if want_size is None else min(want_size, self.limits.max_member_bytes)
        digest = hashlib.sha256()
        kept = bytearray() if keep else None
        size = 0
        try:
            with self.zf.open(info) as handle:
                while True:
                    chunk = handle.read(CHUNK)
                    if not chunk:
                        break
                    size += len(chunk)
                    self.total += len(chunk)
                    if size > limit:
                        if want_size is not None and size > want_size:
                            raise Problem(f"file {name} inflates past the {want_size} bytes the manifest gives it")
                        raise Problem(f"file {name} inflates past the {self.limits.max_member_bytes}-byte limit per file")
                    if self.total > self.limits.max_total_bytes:
                        raise Problem(f"the bundle inflates past the {self.limits.max_total_bytes}-byte limit in total")
                    digest.update(chunk)
                    if kept is not None:
                        kept += chunk
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError) as exc:
            raise Problem(f"file {name} is corrupt in the ZIP: {str(exc)[:200]}") from None
        if want_size is not None and size != want_size:
            raise Problem(f"file {name} is {size} bytes, the manifest says {want_size}")
        if want_sha256 is not None and digest.hexdigest() != want_sha256:
            raise Problem(f"file {name} was changed: its SHA-256 does not match the manifest")
        return bytes(kept) if kept is not None else None


def _screen(zf: zipfile.ZipFile, limits: Limits) -> dict:
    """Checks the ZIP directory before any member is inflated: names, methods, flags and declared sizes."""
    infos = {}
    declared = 0
    for info in zf.infolist():
        name = info.filename
        if name in infos:
            raise Problem(f"the ZIP holds {name[:200]} twice")
        if name.startswith("/") or ".." in name.split("/") or "\\" in name:
            raise Problem(f"unsafe path in the ZIP: {name[:200]}")
        if not allowed_name(name):
            raise Problem(f"unexpected file {name[:200]}: the bundle format does not allow it")
        if info.flag_bits & 0x1:
            raise Problem(f"file {name} is encrypted; bundles are never encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise Problem(f"file {name} uses compression method {info.compress_type}; bundles use stored or deflate only")
        if info.file_size > limits.max_member_bytes:
            raise Problem(f"file {name} declares {info.file_size} bytes, more than the {limits.max_member_bytes}-byte limit per file")
        declared += info.file_size
        if declared > limits.max_total_bytes:
            raise Problem(f"the ZIP declares more than the {limits.max_total_bytes}-byte limit in total")
        infos[name] = info
    return infos


def verify_zip(zf: zipfile.ZipFile, sha256: str, expected_sha256: str | None = None, keys: dict | None = None,
               limits: Limits | None = None, *, unknown_key_ok: bool = False, keep_for_restore: bool = False) -> Report:
    """The checks in order; any content shape the explicit checks did not foresee (a lone surrogate in a
    string, a value of an odd type deep in a record) is still a named failure, never an exception."""
    try:
        return _verify_zip(zf, sha256, expected_sha256, keys, limits, unknown_key_ok=unknown_key_ok,
                           keep_for_restore=keep_for_restore)
    except Problem:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, UnicodeError, RecursionError) as exc:
        raise Problem(f"the bundle's content is malformed ({type(exc).__name__}: {str(exc)[:200]})") from None


def _verify_zip(zf, sha256, expected_sha256, keys, limits, *, unknown_key_ok, keep_for_restore) -> Report:
    limits = limits or Limits()
    if expected_sha256 and expected_sha256.lower() != sha256:
        raise Problem(f"bundle SHA-256 is {sha256}, expected {expected_sha256.lower()}")
    infos = _screen(zf, limits)
    if MANIFEST not in infos:
        raise Problem("manifest.json is missing")
    reader = _Reader(zf, infos, limits)
    manifest = _json(MANIFEST, reader.read(MANIFEST, None, None, keep=True))
    _check_manifest(manifest)
    files = manifest["files"]
    for name in infos:
        if name != MANIFEST and name not in files:
            raise Problem(f"unexpected file {name}: it is in the ZIP but not in the manifest")
    for name in sorted(files):
        if name not in infos:
            raise Problem(f"missing file {name}: the manifest lists it but the ZIP lacks it")
        if infos[name].file_size != files[name]["size"]:
            raise Problem(f"file {name} is {infos[name].file_size} bytes in the ZIP directory, the manifest says {files[name]['size']}")
    raw_names = [n for n in sorted(files) if n.startswith("raw/")]
    if manifest["counts"].get("raw_records") != len(raw_names):
        raise Problem("manifest count of raw records does not match the raw/ files")
    # JSON documents are parsed one at a time and dropped; the others are only hashed.
    for name in ("governance.json", "report.html"):
        reader.read(name, files[name]["size"], files[name]["sha256"], keep=False)
    raws = {} if keep_for_restore else None
    for name in raw_names:
        record = _json(name, reader.read(name, files[name]["size"], files[name]["sha256"], keep=True))
        _check_raw(name, record)
        if raws is not None:
            raws[name] = record
    lineage = _json("lineage.json", reader.read("lineage.json", files["lineage.json"]["size"], files["lineage.json"]["sha256"], keep=True))
    nodes, edges = _check_lineage(lineage, manifest, files)
    notes: list = []
    audit = _json("audit.json", reader.read("audit.json", files["audit.json"]["size"], files["audit.json"]["sha256"], keep=True))
    audit_entries, signature, checkpoint = _check_audit(audit, keys, notes, unknown_key_ok=unknown_key_ok)
    report = Report(sha256=sha256, files=len(files), nodes=nodes, edges=edges, audit_entries=audit_entries,
                    manifest=manifest, notes=notes, signature=signature, checkpoint=checkpoint)
    if keep_for_restore:
        report.lineage, report.raws = lineage, raws
    return report


def _zip_directory_problem(handle, limits: Limits) -> str | None:
    """Reads the end-of-central-directory record (zipfile's own reader, so both agree on which record
    counts) and refuses before zipfile builds an object per entry: entry count and directory size."""
    try:
        end = zipfile._EndRecData(handle)
    except OSError as exc:
        return f"not a readable ZIP file: {exc}"
    if not end:
        return "not a readable ZIP file: File is not a zip file"
    entries, directory_size = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
    if entries > limits.max_entries:
        return f"the ZIP holds {entries} entries, more than the limit of {limits.max_entries}"
    if directory_size > limits.max_entries * MAX_DIRECTORY_BYTES_PER_ENTRY:
        return f"the ZIP's directory is {directory_size} bytes, too large for {limits.max_entries} entries"
    return None


def file_sha256(handle) -> str:
    digest = hashlib.sha256()
    handle.seek(0)
    for chunk in iter(lambda: handle.read(CHUNK), b""):
        digest.update(chunk)
    handle.seek(0)
    return digest.hexdigest()


def verify_file(handle, expected_sha256: str | None = None, keys: dict | None = None, limits: Limits | None = None,
                **options) -> Report:
    """Verify a seekable binary file object (an upload's temporary file, an open bundle) without reading it
    whole: the bundle hash is taken in chunks and members are inflated in chunks under `limits`."""
    limits = limits or Limits()
    sha256 = file_sha256(handle)
    problem = _zip_directory_problem(handle, limits)
    if problem:
        raise Problem(problem)
    handle.seek(0)
    try:
        zf = zipfile.ZipFile(handle)
    except UnicodeDecodeError:
        raise Problem("a file name in the ZIP is marked UTF-8 but is not valid UTF-8") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise Problem(f"not a readable ZIP file: {str(exc)[:200]}") from None
    with zf:
        return verify_zip(zf, sha256, expected_sha256, keys, limits, **options)


def verify_bytes(data: bytes, expected_sha256: str | None = None, keys: dict | None = None, limits: Limits | None = None,
                 **options) -> Report:
    import io

    return verify_file(io.BytesIO(data), expected_sha256, keys, limits, **options)


def verify_path(path: str, expected_sha256: str | None = None, keys: dict | None = None, limits: Limits | None = None,
                **options) -> Report:
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise Problem(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        return verify_file(handle, expected_sha256, keys, limits, **options)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m governance.archive.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", help="path to the evidence bundle ZIP")
    parser.add_argument("--sha256", help="the bundle SHA-256 recorded in the audit trail, to compare against")
    parser.add_argument("--hmac-key", action="append", default=[], help="audit HMAC secret to check the checkpoint")
    parser.add_argument("--public-key", action="append", default=[], help="trusted Ed25519 public key (hex)")
    parser.add_argument("--max-entries", type=int, help="most ZIP entries accepted (env ARCHIVE_ZIP_MAX_ENTRIES)")
    parser.add_argument("--max-member-bytes", type=int, help="largest inflated file (env ARCHIVE_ZIP_MAX_MEMBER_BYTES)")
    parser.add_argument("--max-total-bytes", type=int, help="largest inflated total (env ARCHIVE_ZIP_MAX_TOTAL_BYTES)")
    args = parser.parse_args(argv)
    hmac_keys = args.hmac_key or ([os.environ["AUDIT_HMAC_KEY"]] if os.environ.get("AUDIT_HMAC_KEY") else [])
    try:
        keys = keys_from(hmac_keys, args.public_key)
        limits = Limits.from_env()
    except (BadExport, ValueError) as exc:
        print(f"FAIL: {exc}")
        return EXIT_USAGE
    overrides = {k: getattr(args, k) for k in ("max_entries", "max_member_bytes", "max_total_bytes") if getattr(args, k)}
    if overrides:
        limits = Limits(**{**limits.__dict__, **overrides})
    try:
        report = verify_path(args.bundle, args.sha256, keys, limits)
    except Problem as problem:
        print(f"FAIL: {problem}")
        return EXIT_FAIL
    subject = report.manifest["subject"]
    checkpoint = report.checkpoint
    where = (f"checkpoint at seq {checkpoint['seq']} (key {checkpoint.get('key_id')}, {checkpoint.get('algorithm')}, "
             f"signed {checkpoint.get('created_at')})") if checkpoint else "no checkpoint"
    summary = (
        f"{report.files} files, {report.nodes} nodes, {report.edges} edges, {report.audit_entries} audit entries; "
        f"subject {subject.get('kind')} {subject.get('name') or subject.get('source_id')}; "
        f"created {report.manifest['created_at']} by {report.manifest['created_by'].get('username')}; {where}"
    )
    if report.signature == SIGNATURE_VERIFIED:
        print(f"OK: {summary}")
        code = EXIT_OK
    elif report.signature == SIGNATURE_NO_CHECKPOINT:
        print("UNVERIFIED: cannot check signatures: the bundle holds no audit checkpoint; "
              f"its contents are self-consistent: {summary}")
        code = EXIT_UNVERIFIED
    else:
        print("UNVERIFIED: cannot check signatures: no key given (--hmac-key, --public-key or AUDIT_HMAC_KEY); "
              f"its contents are self-consistent: {summary}")
        code = EXIT_UNVERIFIED
    for note in report.notes:
        print(f"note: {note}")
    print(f"sha256 {report.sha256}")
    return code


if __name__ == "__main__":
    sys.exit(main())
