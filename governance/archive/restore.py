"""Importing a bundle's lineage back into a store (an empty instance, or this one after pruning).

The bundle is verified first and refused if anything is wrong. Facts go in through lineage.store.apply,
the one write path, replayed in time order (each node's revisions, then its last state; each edge from
when it held to when it was last seen), so the restored graph has the same nodes, edges, properties,
payloads and validity times. Restored nodes are frozen (archived_at = the bundle's creation time) and the
bundle is registered here as restored, so `has_bundle` answers the same as on the instance that built it.

Not restored: governance records and audit entries. They belong to the original instance's own hash
chain and cannot be re-appended without breaking it; they stay readable in the bundle.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from dataclasses import dataclass

from django.db import transaction

from governance.archive import storage, verify
from governance.archive.models import BundleMember, EvidenceBundle
from governance.audit import context
from governance.audit.recorder import record
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


def _time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _facts(lineage: dict, raws: dict[str, dict]) -> list:
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
    for edge in lineage["edges"]:
        src, dst = by_ref[edge["src"]], by_ref[edge["dst"]]
        base = {"kind": edge["kind"], "src": src, "dst": dst, "source": edge["source"], "properties": edge["properties"],
                "raw": payload(edge["raw"])}
        facts.append(store.EdgeFact(valid_from=_time(edge["valid_from"]), **base))
        if edge["last_seen"] and edge["last_seen"] != edge["valid_from"]:
            facts.append(store.EdgeFact(valid_from=_time(edge["last_seen"]), **base))
        if edge.get("valid_to"):
            facts.append(store.EdgeClose(kind=edge["kind"], src=src, dst=dst, at=_time(edge["valid_to"])))
    return facts


def restore_bytes(data: bytes, user=None, *, merge: bool = False) -> RestoreResult:
    try:
        report = verify.verify_bytes(data)
    except verify.Problem as problem:
        raise RestoreError(f"the bundle does not verify, nothing was restored: {problem}") from None
    manifest = report.manifest
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        lineage = json.loads(zf.read("lineage.json"))
        raws = {name: json.loads(zf.read(name)) for name in manifest["files"] if name.startswith("raw/")}
    keys = [(n["source"], n["kind"], n["source_id"]) for n in lineage["nodes"]]
    if not merge:
        existing = _existing(keys)
        if existing:
            raise RestoreError(
                f"{len(existing)} of the bundle's {len(keys)} nodes already exist here (e.g. {existing[0]}); "
                "restore into an empty store, or pass merge to add only what is missing"
            )
    ctx = context.current()
    if user is not None and getattr(user, "pk", None) != ctx.user_id:
        ctx = context.for_user(user, request_id=ctx.request_id, client_ip=ctx.client_ip)
    created_at = _time(manifest["created_at"])
    sha256, key = storage.put(data)
    with context.acting_as(ctx), transaction.atomic():
        result = store.apply(_facts(lineage, raws))
        nodes = [result.nodes[store.NodeKey(*k)] for k in keys]
        Node.objects.filter(pk__in=[n.pk for n in nodes], archived_at__isnull=True).update(archived_at=created_at)
        subject = manifest["subject"]
        subject_node = result.nodes.get(store.NodeKey(subject["source"], subject["kind"], subject["source_id"]))
        bundle, created = EvidenceBundle.objects.get_or_create(
            sha256=sha256,
            defaults={
                "storage_key": key, "size": len(data), "format_version": manifest["format_version"], "node": subject_node,
                "subject_source": subject["source"], "subject_kind": subject["kind"],
                "subject_source_id": subject["source_id"], "subject_name": subject.get("name") or "",
                "depth": manifest["depth"], "node_count": report.nodes, "edge_count": report.edges,
                "raw_count": manifest["counts"]["raw_records"], "created_at": created_at,
                "created_by_username": manifest["created_by"].get("username") or "", "restored": True,
            },
        )
        if created:
            BundleMember.objects.bulk_create(
                [BundleMember(bundle=bundle, node=n, source=n.source, kind=n.kind, source_id=n.source_id) for n in nodes],
                batch_size=500,
            )
        else:
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
                   "bundle_created_at": manifest["created_at"], "bundle_created_by": manifest["created_by"]},
            ctx=ctx,
        )
    return RestoreResult(bundle=bundle, nodes=report.nodes, edges=report.edges, counts=result.as_counts())


def _existing(keys: list[tuple[str, str, str]]) -> list[str]:
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
                    found.append(f"{source}:{kind}:{sid}")
    return found


def restore_path(path: str, user=None, *, merge: bool = False) -> RestoreResult:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise RestoreError(f"cannot read {path}: {exc.strerror}") from None
    return restore_bytes(data, user, merge=merge)
