"""Building evidence bundles, and the question other apps ask: does this node have one?

A bundle is built from one consistent read of the store, written to the content-addressed store, and
then, in one transaction, registered, its nodes frozen (`Node.archived_at`) and its SHA-256 recorded in
the audit trail. A failure after the file is written leaves an unreferenced file, never a row without
its file.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from importlib import metadata

from django.db import transaction
from django.utils import timezone

from governance.archive import export, report, storage, verify
from governance.archive.closure import bundle_closure
from governance.archive.models import BUNDLE_SUBJECT_KINDS, TRUST_UNTRUSTED, BundleMember, EvidenceBundle
from common.audit import context, record
from lineage import graph
from lineage.models import Node

DEFAULT_DEPTH = 10


class BundleError(ValueError):
    """Bad request for a bundle (wrong kind of node, depth out of range)."""


def service_version() -> str:
    try:
        return metadata.version("lineage-ledger")
    except metadata.PackageNotFoundError:
        return "unknown"


def _audit_ctx(user) -> context.AuditContext:
    ctx = context.current()
    if user is not None and getattr(user, "pk", None) != ctx.user_id:
        ctx = context.for_user(user, request_id=ctx.request_id, client_ip=ctx.client_ip)
    return ctx


def _zip(files: dict[str, bytes], when: dt.datetime) -> bytes:
    buffer = io.BytesIO()
    stamp = when.astimezone(dt.timezone.utc).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buffer.getvalue()


def render_bundle(node: Node, user, depth: int, now: dt.datetime) -> tuple[bytes, dict, list[Node]]:
    """The ZIP bytes, its manifest, and the nodes it froze."""
    placed = bundle_closure(node.pk, depth)
    lineage_doc, nodes, raw_ids = export.lineage_document(placed, now)
    raw_docs = export.raw_documents(raw_ids)
    governance_doc, governance_objects = export.governance_document(node)
    audit_doc = export.audit_document(node, [n.pk for n in nodes], governance_objects, [])
    subject = {
        "ref": export.node_ref(node.source, node.kind, node.source_id),
        "id": node.pk,
        "source": node.source,
        "kind": node.kind,
        "source_id": node.source_id,
        "name": node.display_name or node.name,
    }
    files: dict[str, bytes] = {
        "lineage.json": export.dumps(lineage_doc),
        "governance.json": export.dumps(governance_doc),
        "audit.json": export.dumps(audit_doc),
    }
    for path, doc in raw_docs.items():
        files[path] = export.dumps(doc)
    counts = {
        "nodes": len(lineage_doc["nodes"]),
        "edges": len(lineage_doc["edges"]),
        "raw_records": len(raw_docs),
        "governance_records": len(governance_doc["records"]),
        "audit_entries": len(audit_doc["entries"]),
    }
    manifest = {
        "format": verify.FORMAT,
        "format_version": verify.FORMAT_VERSION,
        "created_at": export.iso(now),
        "created_by": {"id": getattr(user, "pk", None), "username": getattr(user, "username", None) or context.current().username},
        "service": {"name": "lineage-ledger", "version": service_version()},
        "subject": subject,
        "depth": depth,
        "as_of": export.iso(now),
        "counts": counts,
    }
    files["report.html"] = report.render(manifest, lineage_doc, governance_doc, audit_doc)
    manifest["files"] = {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for name, data in sorted(files.items())
    }
    manifest["manifest_sha256"] = verify.manifest_digest(manifest)
    ordered = {verify.MANIFEST: export.dumps(manifest), **dict(sorted(files.items()))}
    return _zip(ordered, now), manifest, nodes


def build_bundle(node: Node, user, depth: int = DEFAULT_DEPTH, *, on_registered=None) -> EvidenceBundle:
    """Archive `node` (a model version or a run) and its lineage closure; return the registered bundle.

    `on_registered(bundle, ctx)` runs inside the registering transaction, after the bundle's audit entry: a
    build job (governance.archive.builds) closes itself there, so "bundle registered" and "job done" land
    together or not at all."""
    if node.kind not in BUNDLE_SUBJECT_KINDS:
        raise BundleError(f"bundles are built for {', '.join(BUNDLE_SUBJECT_KINDS)} nodes, not {node.kind}")
    try:
        depth = int(depth)
    except (TypeError, ValueError):
        raise BundleError("depth must be an integer") from None
    if not 1 <= depth <= graph.MAX_DEPTH:
        raise BundleError(f"depth must be between 1 and {graph.MAX_DEPTH}")
    ctx = _audit_ctx(user)
    with context.acting_as(ctx):
        now = timezone.now()
        data, manifest, nodes = render_bundle(node, user, depth, now)
        sha256, key = storage.put(data)
        with transaction.atomic():
            bundle = EvidenceBundle.objects.create(
                sha256=sha256,
                storage_key=key,
                size=len(data),
                format_version=verify.FORMAT_VERSION,
                node=node,
                subject_source=node.source,
                subject_kind=node.kind,
                subject_source_id=node.source_id,
                subject_name=manifest["subject"]["name"],
                depth=depth,
                node_count=manifest["counts"]["nodes"],
                edge_count=manifest["counts"]["edges"],
                raw_count=manifest["counts"]["raw_records"],
                created_at=now,
                created_by=user if getattr(user, "pk", None) else None,
                created_by_username=manifest["created_by"]["username"] or "",
            )
            BundleMember.objects.bulk_create(
                [BundleMember(bundle=bundle, node=n, source=n.source, kind=n.kind, source_id=n.source_id) for n in nodes],
                batch_size=500,
            )
            newly = sorted(n.pk for n in nodes if n.archived_at is None)
            Node.objects.filter(pk__in=newly, archived_at__isnull=True).update(archived_at=now)
            record(
                "bundle.create",
                "evidence_bundle",
                bundle.pk,
                after={
                    "sha256": sha256,
                    "manifest_sha256": manifest["manifest_sha256"],
                    "size": len(data),
                    "storage_key": key,
                    "subject": manifest["subject"],
                    "depth": depth,
                    "counts": manifest["counts"],
                    "archived_node_ids": newly,
                },
                ctx=ctx,
            )
            if on_registered is not None:
                on_registered(bundle, ctx)
    return bundle


def has_bundle(node) -> bool:
    """True when an evidence bundle exists with this node (a Node or its id) as its subject."""
    if not isinstance(node, Node):
        node = Node.objects.filter(pk=node).only("source", "kind", "source_id").first()
        if node is None:
            return False
    # A bundle restored --untrusted is kept for reading but is no evidence: anyone can forge one.
    return EvidenceBundle.objects.filter(
        subject_source=node.source, subject_kind=node.kind, subject_source_id=node.source_id
    ).exclude(trust=TRUST_UNTRUSTED).exists()


def bundle_bytes(bundle: EvidenceBundle) -> bytes:
    return storage.read(bundle.storage_key)


def verify_bundle(bundle: EvidenceBundle) -> dict:
    """Verify the stored file against its recorded SHA-256 with the same code the offline script runs."""
    try:
        data = bundle_bytes(bundle)
    except (FileNotFoundError, OSError) as exc:
        return {"ok": False, "problem": f"the stored file is missing: {exc}", "sha256": None}
    from governance.archive.restore import limits_from_settings
    from governance.audit.offline_verify import keys_from
    from governance.audit.signing import verification_keys

    # Built here: signed with one of this deployment's keys. Restored: this deployment's keys or the Ed25519
    # public key the operator trusted at restore; a bundle restored --untrusted is never reported verified.
    keys = dict(verification_keys())
    if bundle.trusted_public_key:
        keys.update(keys_from([], [bundle.trusted_public_key]))
    try:
        checked = verify.verify_bytes(data, expected_sha256=bundle.sha256, keys=keys, limits=limits_from_settings(),
                                      unknown_key_ok=bundle.restored)
    except verify.Problem as problem:
        return {"ok": False, "problem": str(problem), "sha256": hashlib.sha256(data).hexdigest()}
    body = {"ok": True, "problem": None, "sha256": checked.sha256, "files": checked.files, "nodes": checked.nodes,
            "edges": checked.edges, "audit_entries": checked.audit_entries, "notes": checked.notes,
            "signature": checked.signature, "checkpoint": checked.checkpoint, "trust": bundle.trust}
    if bundle.trust == TRUST_UNTRUSTED or checked.signature != verify.SIGNATURE_VERIFIED:
        body["ok"] = False
        body["problem"] = ("restored without a verified signature (--untrusted: "
                           f"{bundle.untrusted_reason or 'no reason'}); its contents are self-consistent but "
                           "nothing vouches for them") if bundle.trust == TRUST_UNTRUSTED else (
                           f"the audit checkpoint's signature could not be verified here ({checked.signature})")
    return body
