"""Importing a bundle's lineage back into a store (an empty instance, or this one after pruning).

A bundle is a file someone hands the operator, so nothing in it is believed on its own say-so:
- It is verified first (bounded: governance.archive.verify screens and inflates it in chunks under the
  ARCHIVE_ZIP_MAX_* caps) and refused if anything is wrong.
- It is trusted only when both hold: its audit checkpoint's signature verifies with this deployment's keys
  (or an Ed25519 public key the operator names), and its SHA-256 is vouched for: recorded by a
  `bundle.create` entry in this instance's audit trail, or given by the operator (`--sha256`, taken from
  the originating instance's trail). The signature alone is not enough: it covers the audit excerpt, not
  lineage.json, so a forger can pair a genuine audit.json with rewritten lineage and a re-digested manifest.
  A bundle that is not trusted is refused unless the operator says `untrusted` with a reason; that choice
  is audited, recorded on the bundle, and such a bundle never satisfies a gate, never counts for retention
  and is never reported as verified.
- `merge` adds only what is missing: nodes that already exist are neither changed nor frozen; differences
  are reported as conflicts. Edges that touch an existing node are added only from a verified bundle (they
  reconnect pruned lineage); from an untrusted one they are reported and skipped.
- The registered bundle names the operator who restored it and when; the manifest's `created_by` /
  `created_at` are kept apart as claims.

Facts go in through lineage.store.apply, the one write path, replayed in time order (each node's
revisions, then its last state; each edge from when it held to when it was last seen), so the restored
graph has the same nodes, edges, properties, payloads and validity times. Restored nodes are frozen
(archived_at = the bundle's creation time).

Not restored: governance records and audit entries. They belong to the original instance's own hash
chain and cannot be re-appended without breaking it; they stay readable in the bundle.
"""
from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from governance.archive import storage, verify
from governance.archive.models import TRUST_UNTRUSTED, TRUST_VERIFIED, BundleMember, EvidenceBundle
from common.audit import context, record
from lineage import store
from lineage.models import Node


class RestoreError(ValueError):
    pass


@dataclass
class RestoreResult:
    bundle: EvidenceBundle
    nodes: int
    edges: int
    counts: dict
    trust: str = TRUST_VERIFIED
    conflicts: list = field(default_factory=list)


def limits_from_settings() -> verify.Limits:
    return verify.Limits(
        max_entries=settings.ARCHIVE_ZIP_MAX_ENTRIES,
        max_member_bytes=settings.ARCHIVE_ZIP_MAX_MEMBER_BYTES,
        max_total_bytes=settings.ARCHIVE_ZIP_MAX_TOTAL_BYTES,
    )


def _time(value) -> dt.datetime | None:
    if not value:
        return None
    if not isinstance(value, str):
        raise RestoreError(f"a timestamp in the bundle is not a string: {str(value)[:50]!r}")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise RestoreError(f"a timestamp in the bundle is not ISO 8601: {value[:50]!r}") from None
    if parsed.tzinfo is None:
        raise RestoreError(f"a timestamp in the bundle has no time zone: {value[:50]!r}")
    return parsed


def _facts(lineage: dict, raws: dict[str, dict], skip_nodes: set, edge_allowed) -> tuple[list, int]:
    def payload(path):
        if path is None:
            return None
        doc = raws[path]
        return store.RawPayload(source=doc["source"], kind=doc["kind"], source_id=doc["source_id"], body=doc["body"])

    def key(doc):
        return store.NodeKey(doc["source"], doc["kind"], doc["source_id"])

    facts: list = []
    by_ref = {}
    for node in lineage["nodes"]:
        k = key(node)
        by_ref[node["ref"]] = k
        if (k.source, k.kind, k.source_id) in skip_nodes:
            continue  # merge: an existing node is never changed
        common = {"key": k, "name": node["name"], "namespace": node["namespace"], "display_name": node["display_name"],
                  "replace_properties": True}
        first_seen = _time(node["first_seen"])
        revisions = sorted(node.get("revisions", []), key=lambda r: r["valid_from"])
        first_props = revisions[0]["properties"] if revisions else node["properties"]
        first_raw = revisions[0]["raw"] if revisions else node["raw"]
        facts.append(store.NodeFact(properties=first_props, seen_at=first_seen, raw=payload(first_raw), **common))
        for rev in revisions[1:]:
            facts.append(store.NodeFact(properties=rev["properties"], seen_at=_time(rev["valid_from"]),
                                        raw=payload(rev["raw"]), **common))
        facts.append(store.NodeFact(properties=node["properties"], seen_at=_time(node["last_seen"]),
                                    raw=payload(node["raw"]), **common))
    skipped = 0
    for edge in lineage["edges"]:
        src, dst = by_ref[edge["src"]], by_ref[edge["dst"]]
        if not edge_allowed(src, dst):
            skipped += 1
            continue
        base = {"kind": edge["kind"], "src": src, "dst": dst, "source": edge["source"], "properties": edge["properties"],
                "raw": payload(edge["raw"])}
        facts.append(store.EdgeFact(valid_from=_time(edge["valid_from"]), **base))
        if edge["last_seen"] and edge["last_seen"] != edge["valid_from"]:
            facts.append(store.EdgeFact(valid_from=_time(edge["last_seen"]), **base))
        if edge.get("valid_to"):
            facts.append(store.EdgeClose(kind=edge["kind"], src=src, dst=dst, at=_time(edge["valid_to"])))
    return facts, skipped


def _keys(public_keys: list[str]) -> dict:
    from governance.audit.offline_verify import BadExport, keys_from
    from governance.audit.signing import verification_keys

    keys = dict(verification_keys())
    try:
        keys.update(keys_from([], public_keys))
    except BadExport as exc:
        raise RestoreError(str(exc)) from None
    return keys


def _refuse(reason: str, ctx, **details) -> RestoreError:
    record("bundle.restore_refused", "evidence_bundle", "", after=details or None, reason=reason[:1000], ctx=ctx)
    return RestoreError(reason)


def _vouched_here(sha256: str) -> bool:
    from governance.audit.models import AuditEntry

    return AuditEntry.objects.filter(action="bundle.create", after__sha256=sha256).exists()


def restore_file(handle, user=None, *, merge: bool = False, untrusted_reason: str | None = None,
                 public_keys: list[str] | None = None, expected_sha256: str | None = None) -> RestoreResult:
    ctx = context.current()
    if user is not None and getattr(user, "pk", None) != ctx.user_id:
        ctx = context.for_user(user, request_id=ctx.request_id, client_ip=ctx.client_ip)
    if untrusted_reason is not None and not untrusted_reason.strip():
        raise _refuse("an untrusted restore needs a reason", ctx)
    public_keys = list(public_keys or [])
    keys = _keys(public_keys)
    sha256 = verify.file_sha256(handle)
    try:
        report = verify.verify_file(handle, expected_sha256, keys=keys, limits=limits_from_settings(),
                                    unknown_key_ok=True, keep_for_restore=True)
    except verify.Problem as problem:
        raise _refuse(f"the bundle does not verify, nothing was restored: {problem}", ctx, sha256=sha256) from None
    signed = report.signature == verify.SIGNATURE_VERIFIED
    vouched = bool(expected_sha256) or _vouched_here(sha256)
    trusted = signed and vouched
    if not trusted and untrusted_reason is None:
        if not signed:
            why = {verify.SIGNATURE_UNKNOWN_KEY: "its audit checkpoint is signed with a key this instance does not "
                                                 f"hold ({str((report.checkpoint or {}).get('key_id'))[:80]})",
                   verify.SIGNATURE_NO_CHECKPOINT: "it holds no signed audit checkpoint"}.get(report.signature, "it is not signed")
            why = f"the bundle's signature cannot be verified: {why}"
        else:
            why = (f"nothing vouches for the bundle's SHA-256 {sha256}: this instance's audit trail never recorded "
                   "creating it (give the hash from the originating instance's trail with --sha256)")
        raise _refuse(
            f"{why}; nothing was restored. Give the signer's Ed25519 public key (--public-key) and the bundle's "
            "recorded hash (--sha256), or restore it as untrusted (--untrusted --reason ...)", ctx, sha256=sha256)
    manifest, lineage, raws = report.manifest, report.lineage, report.raws
    keys_of = [(n["source"], n["kind"], n["source_id"]) for n in lineage["nodes"]]
    existing = set(_existing(keys_of))
    if existing and not merge:
        raise _refuse(
            f"{len(existing)} of the bundle's {len(keys_of)} nodes already exist here (e.g. {':'.join(sorted(existing)[0])}); "
            "restore into an empty store, or pass merge to add only what is missing", ctx, sha256=sha256)

    def edge_allowed(src, dst) -> bool:
        touches = ((src.source, src.kind, src.source_id) in existing) + ((dst.source, dst.kind, dst.source_id) in existing)
        return touches == 0 or (trusted and touches < 2)

    try:
        facts, skipped_edges = _facts(lineage, raws, existing, edge_allowed)
        created_at = _time(manifest["created_at"])
    except (KeyError, TypeError, AttributeError, RestoreError) as exc:
        raise _refuse(f"the bundle's lineage lacks or mistypes a field restore needs ({str(exc)[:100]}); "
                      "nothing was restored", ctx, sha256=sha256) from None
    conflicts = _conflicts(lineage, existing)
    if skipped_edges:
        conflicts.append(f"{skipped_edges} edges touching existing nodes were not added "
                         + ("(both ends already exist here)" if trusted else "(untrusted bundle)"))
    handle.seek(0)
    key = storage.put_file(handle, sha256)
    now = timezone.now()
    trust = TRUST_VERIFIED if trusted else TRUST_UNTRUSTED
    try:
        with context.acting_as(ctx), transaction.atomic():
            result = store.apply(facts)
            new_keys = [k for k in keys_of if k not in existing]
            nodes = [result.nodes[store.NodeKey(*k)] for k in new_keys if store.NodeKey(*k) in result.nodes]
            Node.objects.filter(pk__in=[n.pk for n in nodes], archived_at__isnull=True).update(archived_at=created_at)
            subject = manifest["subject"]
            subject_key = (subject["source"], subject["kind"], subject["source_id"])
            subject_node = result.nodes.get(store.NodeKey(*subject_key))
            if subject_node is None and trusted:
                subject_node = Node.objects.filter(source=subject_key[0], kind=subject_key[1], source_id=subject_key[2]).first()
            bundle, created = EvidenceBundle.objects.get_or_create(
                sha256=sha256,
                defaults={
                    "storage_key": key, "size": report_size(handle), "format_version": manifest["format_version"],
                    "node": subject_node, "subject_source": subject["source"], "subject_kind": subject["kind"],
                    "subject_source_id": subject["source_id"], "subject_name": subject.get("name") or "",
                    "depth": manifest["depth"], "node_count": report.nodes, "edge_count": report.edges,
                    "raw_count": manifest["counts"].get("raw_records", 0), "created_at": now,
                    "created_by": user if getattr(user, "pk", None) else None, "created_by_username": ctx.username,
                    "restored": True, "trust": trust, "claimed_created_at": created_at,
                    "claimed_created_by": str(manifest["created_by"].get("username") or "")[:150],
                    "untrusted_reason": "" if trusted else untrusted_reason.strip(),
                    "trusted_public_key": public_keys[0] if trusted and public_keys else "",
                },
            )
            if created:
                members = nodes
                if trusted:
                    # Existing nodes are part of a verified bundle's closure (e.g. the live subject after pruning).
                    members = nodes + list(_nodes_for(existing))
                BundleMember.objects.bulk_create(
                    [BundleMember(bundle=bundle, node=n, source=n.source, kind=n.kind, source_id=n.source_id) for n in members],
                    batch_size=500,
                )
            elif bundle.trust != TRUST_UNTRUSTED:
                # Restoring into the instance that built it, after retention pruned part of the closure: re-link.
                if bundle.node_id is None and subject_node is not None:
                    bundle.node = subject_node
                    bundle.save(update_fields=["node"])
                by_key = {(n.source, n.kind, n.source_id): n for n in nodes}
                relinked = []
                for member in BundleMember.objects.filter(bundle=bundle, node__isnull=True):
                    found = by_key.get((member.source, member.kind, member.source_id))
                    if found is not None:
                        member.node = found
                        relinked.append(member)
                BundleMember.objects.bulk_update(relinked, ["node"], batch_size=500)
            record(
                "bundle.restore", "evidence_bundle", bundle.pk,
                after={"sha256": sha256, "subject": subject, "merge": merge, "counts": result.as_counts(),
                       "trust": trust, "signature": report.signature, "checkpoint": report.checkpoint,
                       "sha256_vouched_by": ("operator" if expected_sha256 else "audit trail") if vouched else None,
                       "untrusted_reason": None if trusted else untrusted_reason.strip(),
                       "existing_nodes_left_alone": len(existing), "conflicts": conflicts[:50],
                       "claimed_created_at": manifest["created_at"], "claimed_created_by": manifest["created_by"]},
                ctx=ctx,
            )
    except RestoreError:
        raise
    except (DatabaseError, TypeError, ValueError, KeyError) as exc:
        # Rolled back: a value the database will not take (e.g. a NUL character, an over-long id).
        raise _refuse(f"the bundle's lineage cannot be stored here ({type(exc).__name__}: {str(exc)[:200]}); "
                      "nothing was restored", ctx, sha256=sha256) from None
    return RestoreResult(bundle=bundle, nodes=report.nodes, edges=report.edges, counts=result.as_counts(),
                         trust=trust, conflicts=conflicts)


def report_size(handle) -> int:
    handle.seek(0, 2)
    return handle.tell()


def _nodes_for(keys: set):
    by_kind: dict[tuple[str, str], list[str]] = {}
    for source, kind, source_id in keys:
        by_kind.setdefault((source, kind), []).append(source_id)
    for (source, kind), ids in by_kind.items():
        for start in range(0, len(ids), 500):
            yield from Node.objects.filter(source=source, kind=kind, source_id__in=ids[start:start + 500])


def _conflicts(lineage: dict, existing: set) -> list[str]:
    """Existing nodes whose stored properties differ from the bundle's: reported, never overwritten."""
    if not existing:
        return []
    stored = {(n.source, n.kind, n.source_id): n for n in _nodes_for(existing)}
    out = []
    for node in lineage["nodes"]:
        here = stored.get((node["source"], node["kind"], node["source_id"]))
        if here is not None and (here.properties != node.get("properties") or here.name != node.get("name")):
            out.append(f"{node['ref'][:200]}: exists here with other properties; left as it is")
    return out


def _existing(keys: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    found = []
    wanted = set(keys)
    by_kind: dict[tuple[str, str], list[str]] = {}
    for source, kind, source_id in keys:
        by_kind.setdefault((source, kind), []).append(source_id)
    for (source, kind), ids in by_kind.items():
        for start in range(0, len(ids), 500):
            for sid in Node.objects.filter(source=source, kind=kind, source_id__in=ids[start:start + 500]).values_list(
                "source_id", flat=True
            ):
                if (source, kind, sid) in wanted:
                    found.append((source, kind, sid))
    return found


def restore_bytes(data: bytes, user=None, **options) -> RestoreResult:
    with tempfile.TemporaryFile() as handle:
        handle.write(data)
        return restore_file(handle, user, **options)


def restore_path(path: str, user=None, **options) -> RestoreResult:
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise RestoreError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        return restore_file(handle, user, **options)

