"""Hostile evidence bundles, made from a real one, for the verifier, the upload API and restore.

Each maker takes the members of a genuine bundle and returns ZIP bytes that are wrong in one way an
attacker would try: bombs (with the manifest, or the ZIP directory too, lying about sizes), many entries,
names that are not UTF-8, compression methods and flags zipfile cannot honour, manifests with fields of
the wrong type (re-digested so that only the type is wrong), files the format does not allow. Byte-level
edits patch the local header and the central directory alike, as a forger would.
"""
from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile

from governance.archive import verify

BOMB_BYTES = 512 * 1024 * 1024


def members_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write(members: dict, method=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def resign(members: dict, sizes: dict | None = None, manifest_edit=None) -> dict:
    """Recompute the manifest's file list and digest, as a careful forger would; `sizes` overrides sizes."""
    manifest = json.loads(members["manifest.json"])
    manifest["files"] = {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
                         for n, d in members.items() if n != "manifest.json" and isinstance(d, bytes)}
    for name, size in (sizes or {}).items():
        manifest["files"][name]["size"] = size
    if manifest_edit is not None:
        manifest_edit(manifest)
    manifest["manifest_sha256"] = verify.manifest_digest(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    return members


def patch_entry(data: bytes, name: bytes, *, flag_or: int = 0, method: int | None = None,
                size: int | None = None, new_name: bytes | None = None) -> bytes:
    """Edit one entry's fields in its local header and its central-directory record."""
    out = bytearray(data)
    local = out.find(b"PK\x03\x04")
    while local >= 0:
        name_len = struct.unpack_from("<H", out, local + 26)[0]
        if bytes(out[local + 30:local + 30 + name_len]) == name:
            _patch(out, local, flag_at=6, method_at=8, size_at=22, name_at=30, flag_or=flag_or, method=method,
                   size=size, new_name=new_name)
        local = out.find(b"PK\x03\x04", local + 4)
    central = out.find(b"PK\x01\x02")
    while central >= 0:
        name_len = struct.unpack_from("<H", out, central + 28)[0]
        if bytes(out[central + 46:central + 46 + name_len]) == name:
            _patch(out, central, flag_at=8, method_at=10, size_at=24, name_at=46, flag_or=flag_or, method=method,
                   size=size, new_name=new_name)
        central = out.find(b"PK\x01\x02", central + 4)
    return bytes(out)


def _patch(out, at, *, flag_at, method_at, size_at, name_at, flag_or, method, size, new_name):
    if flag_or:
        flags = struct.unpack_from("<H", out, at + flag_at)[0]
        struct.pack_into("<H", out, at + flag_at, flags | flag_or)
    if method is not None:
        struct.pack_into("<H", out, at + method_at, method)
    if size is not None:
        struct.pack_into("<I", out, at + size_at, size)
    if new_name is not None:
        out[at + name_at:at + name_at + len(new_name)] = new_name


def write_with_bomb(members: dict, bomb_name: str, size: int = BOMB_BYTES) -> bytes:
    """`members` with `bomb_name` as `size` bytes of zeros, deflated as it is written (never held whole)."""
    buffer = io.BytesIO()
    zeros = b"\0" * (1 << 20)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            if name == bomb_name:
                info = zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_DEFLATED
                with zf.open(info, "w") as handle:
                    for _ in range(size // len(zeros)):
                        handle.write(zeros)
            else:
                zf.writestr(name, data)
    return buffer.getvalue()


def corpus(genuine: bytes, only: set[str] | None = None) -> dict[str, tuple[bytes, str]]:
    """name -> (zip bytes, a fragment of the reason the verifier must give); `only` builds just those
    (the bombs and the many-entries ZIP take seconds of CPU each)."""
    base = members_of(genuine)
    cases: dict[str, tuple[bytes, str]] = {}

    def want(*names):
        return only is None or any(n in only for n in names)

    def m():
        return dict(base)

    # A deflated 512 MiB member (about 0.5 MB in the ZIP) the manifest says is 10 bytes.
    if want("bomb_manifest_lies", "bomb_directory_lies"):
        bomb = m()
        bomb["report.html"] = b"0123456789"
        bomb = write_with_bomb(resign(bomb), "report.html")
        cases["bomb_manifest_lies"] = (bomb, "report.html")
        # ...and the ZIP directory says 10 bytes as well: only counting while inflating can catch it.
        cases["bomb_directory_lies"] = (patch_entry(bomb, b"report.html", size=10), "report.html")
    # Many entries: refused from the end-of-directory record before zipfile lists them.
    if want("many_entries"):
        many = m()
        for i in range(120_000):
            many[f"raw/{10_000_000 + i}.json"] = b""
        cases["many_entries"] = (write(many, zipfile.ZIP_STORED), "entries")
        del many
    # A name flagged UTF-8 that is not.
    odd = m()
    odd["raw/77.json"] = b"{}"
    raw = write(resign(odd))
    cases["bad_utf8_name"] = (patch_entry(raw, b"raw/77.json", flag_or=0x800, new_name=b"raw/\xff\xfe.json"), "UTF-8")
    # Compression method 93 (zstd) and the encryption flag on a genuine member.
    cases["method_93"] = (patch_entry(write(m()), b"governance.json", method=93), "compression method 93")
    cases["encrypted"] = (patch_entry(write(m()), b"governance.json", flag_or=0x1), "encrypted")
    # Manifests whose fields have the wrong types, each with a valid manifest_sha256.
    for label, edit, reason in (
        ("subject_is_string", lambda man: man.__setitem__("subject", "kubeflow:model_version:x"), "subject"),
        ("counts_is_list", lambda man: man.__setitem__("counts", [1, 2]), "counts"),
        ("created_by_is_int", lambda man: man.__setitem__("created_by", 7), "created_by"),
        ("files_entry_size_string", lambda man: man["files"]["lineage.json"].__setitem__("size", "12"), "files"),
        ("manifest_sha_is_int", None, "manifest_sha256"),
    ):
        members = resign(m(), manifest_edit=edit)
        if edit is None:
            manifest = json.loads(members["manifest.json"])
            manifest["manifest_sha256"] = 12345
            members["manifest.json"] = json.dumps(manifest).encode()
        cases[label] = (write(members), reason)
    # A lone surrogate (valid JSON, not encodable): the manifest's digest cannot even be computed.
    members = m()
    manifest = json.loads(members["manifest.json"])
    manifest["subject"]["name"] = "surr\ud800x"
    members["manifest.json"] = json.dumps(manifest).encode()
    cases["lone_surrogate"] = (write(members), "malformed (UnicodeEncodeError")
    # A lineage node that is an int; an audit entry whose seq is a string; a raw payload nested too deep.
    members = m()
    lineage = json.loads(members["lineage.json"])
    lineage["nodes"].append(7)
    members["lineage.json"] = json.dumps(lineage).encode()
    cases["node_is_int"] = (write(resign(members)), "nodes must be objects")
    members = m()
    audit = json.loads(members["audit.json"])
    audit["entries"][0]["seq"] = "1"
    members["audit.json"] = json.dumps(audit).encode()
    cases["audit_seq_string"] = (write(resign(members)), "integer seq")
    members = m()
    raw_name = sorted(n for n in members if n.startswith("raw/"))[0]
    members[raw_name] = b'{"digest": "x", "body": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    cases["raw_nested_too_deep"] = (write(resign(members)), raw_name)
    # Files the format does not allow, listed in the manifest too; a path out of the bundle.
    members = m()
    members["notes.txt"] = b"hello"
    cases["extra_file_listed"] = (write(resign(members)), "notes.txt")
    members = m()
    members["../evil.json"] = b"{}"
    cases["path_traversal"] = (write(resign(members)), "unsafe path")
    # The manifest gives a size the directory contradicts (no bomb: just a lie).
    cases["manifest_size_lies"] = (write(resign(m(), sizes={"lineage.json": 3})), "the manifest says 3")
    # Not a ZIP; a ZIP cut short.
    cases["not_a_zip"] = (b"PK\x03\x04 this is not a zip", "not a readable ZIP")
    cases["truncated"] = (genuine[: len(genuine) // 2], "not a readable ZIP")
    return {name: case for name, case in cases.items() if only is None or name in only}
