"""The JSON documents inside a bundle (lineage.json, raw/*.json, governance.json, audit.json).

Their shapes are the contract documented in FORMAT.md and read back by verify.py and restore.py; change
them only together with FORMAT_VERSION.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import defaultdict

from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import ForeignKey, Q

from governance.archive import verify
from governance.archive.closure import Placement
from governance.audit.models import AuditEntry
from lineage.models import Edge, Node, NodeRevision, RawRecord


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def dumps(value) -> bytes:
    # No indent: the C encoder is several times faster, and any JSON viewer pretty-prints.
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True).encode("utf-8")


def node_ref(source: str, kind: str, source_id: str) -> str:
    return f"{source}:{kind}:{source_id}"


def raw_path(raw_id: int | None) -> str | None:
    return None if raw_id is None else f"raw/{raw_id}.json"


def lineage_document(placed: dict[int, Placement], as_of: dt.datetime) -> tuple[dict, list[Node], set[int]]:
    """lineage.json, the Node rows, and the ids of every raw record it cites."""
    nodes = list(Node.objects.filter(pk__in=list(placed)).order_by("pk"))
    ids = [n.pk for n in nodes]
    revisions = defaultdict(list)
    for rev in NodeRevision.objects.filter(node_id__in=ids).order_by("node_id", "valid_from", "pk"):
        revisions[rev.node_id].append(rev)
    edges = list(Edge.objects.filter(src_id__in=ids, dst_id__in=ids, valid_to__isnull=True).order_by("pk"))
    refs = {n.pk: node_ref(n.source, n.kind, n.source_id) for n in nodes}
    raw_ids: set[int] = set()
    node_docs = []
    for n in nodes:
        revs = revisions.get(n.pk, [])
        raw_ids.update(r for r in [n.raw_id, *(rev.raw_id for rev in revs)] if r is not None)
        node_docs.append({
            "ref": refs[n.pk],
            "id": n.pk,
            "source": n.source,
            "kind": n.kind,
            "source_id": n.source_id,
            "namespace": n.namespace,
            "name": n.name,
            "display_name": n.display_name,
            "properties": n.properties,
            "first_seen": iso(n.first_seen),
            "last_seen": iso(n.last_seen),
            "raw": raw_path(n.raw_id),
            "direction": placed[n.pk].direction,
            "distance": placed[n.pk].depth,
            "revisions": [
                {"valid_from": iso(r.valid_from), "properties": r.properties, "raw": raw_path(r.raw_id)} for r in revs
            ],
        })
    edge_docs = []
    for e in edges:
        if e.raw_id is not None:
            raw_ids.add(e.raw_id)
        edge_docs.append({
            "id": e.pk,
            "kind": e.kind,
            "src": refs[e.src_id],
            "dst": refs[e.dst_id],
            "source": e.source,
            "valid_from": iso(e.valid_from),
            "valid_to": iso(e.valid_to),
            "last_seen": iso(e.last_seen),
            "properties": e.properties,
            "raw": raw_path(e.raw_id),
        })
    return {"as_of": iso(as_of), "nodes": node_docs, "edges": edge_docs}, nodes, raw_ids


def raw_documents(raw_ids: set[int]) -> dict[str, dict]:
    docs = {}
    for rec in RawRecord.objects.filter(pk__in=list(raw_ids)).order_by("pk"):
        docs[raw_path(rec.pk)] = {
            "source": rec.source,
            "kind": rec.kind,
            "source_id": rec.source_id,
            # Recomputed from the body as exported, so the offline check is about these very bytes.
            "digest": hashlib.sha256(verify.canonical_json(rec.body).encode("utf-8")).hexdigest(),
            "store_digest": rec.digest,
            "received_at": iso(rec.received_at),
            "body": rec.body,
        }
    return docs


def _node_fks(model) -> list[str]:
    return [f.name for f in model._meta.get_fields() if isinstance(f, ForeignKey) and f.related_model is Node]


def governance_document(subject: Node) -> tuple[dict, list]:
    """Promotion requests, decisions and gate results of the subject, whatever the approvals app calls them.

    The approvals app is built independently, so its models are discovered rather than imported: rows
    that point at the subject node, then rows that point at those rows, until nothing new turns up.
    """
    try:
        config = apps.get_app_config("approvals")
    except LookupError:
        return {"available": False, "records": []}, []
    tables = set(connection.introspection.table_names())
    # Only models whose tables exist: the approvals app may be mid-migration on a development instance.
    models = [m for m in config.get_models() if m._meta.db_table in tables]
    included: dict = {}
    for model in models:
        fks = _node_fks(model)
        if fks:
            query = Q()
            for name in fks:
                query |= Q(**{f"{name}_id": subject.pk})
            pks = set(model.objects.filter(query).values_list("pk", flat=True))
            if pks:
                included[model] = pks
    changed = True
    while changed:
        changed = False
        for model in models:
            for f in model._meta.get_fields():
                if isinstance(f, ForeignKey) and f.related_model in included:
                    pks = set(model.objects.filter(**{f"{f.name}_id__in": list(included[f.related_model])})
                              .values_list("pk", flat=True))
                    if pks - included.get(model, set()):
                        included[model] = included.get(model, set()) | pks
                        changed = True
    records = []
    objects = []
    for model in sorted(included, key=lambda m: m._meta.label_lower):
        rows = list(model.objects.filter(pk__in=list(included[model])).order_by("pk"))
        objects.extend(rows)
        records.extend(serializers.serialize("python", rows))
    return {"available": bool(models), "records": json.loads(json.dumps(records, cls=DjangoJSONEncoder))}, objects


def _type_names(model) -> set[str]:
    meta = model._meta
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", model.__name__).lower()
    return {meta.label_lower, meta.model_name, snake, f"{meta.app_label}.{snake}"}


def audit_entry_doc(entry: AuditEntry) -> dict:
    if hasattr(entry, "as_export"):
        return entry.as_export()
    return {
        "seq": entry.seq, "at": iso(entry.at), "actor_id": entry.actor_id, "actor_username": entry.actor_username,
        "action": entry.action, "object_type": entry.object_type, "object_id": entry.object_id,
        "before": entry.before, "after": entry.after, "request_id": entry.request_id, "client_ip": entry.client_ip,
        "reason": entry.reason, "prev_hash": entry.prev_hash, "hash": entry.hash,
    }


def _signed_checkpoint(last_seq: int) -> dict | None:
    """A signed checkpoint at or after `last_seq`, signing the tail on demand when none exists yet."""
    try:
        from governance.audit import excerpt
    except ImportError:  # an audit app without checkpoints
        return None
    return excerpt.nearest_checkpoint(last_seq, create=True)


def audit_document(subject: Node, node_ids: list[int], governance_objects: list, extra: list[tuple[str, str]]) -> dict:
    """Audit entries about the subject, its governance records, holds on its closure and earlier bundles,
    plus a signed checkpoint and, when not too long, the unbroken run of entries that binds them to it."""
    from governance.archive.models import EvidenceBundle, LegalHold

    wanted: dict[frozenset, set[str]] = defaultdict(set)
    wanted[frozenset({"node", "lineage.node", subject.kind})].add(str(subject.pk))
    for obj in governance_objects:
        wanted[frozenset(_type_names(type(obj)))].add(str(obj.pk))
    holds = LegalHold.objects.filter(node_id__in=node_ids).values_list("pk", flat=True)
    wanted[frozenset({"legal_hold"})].update(str(pk) for pk in holds)
    earlier = EvidenceBundle.objects.filter(
        subject_source=subject.source, subject_kind=subject.kind, subject_source_id=subject.source_id
    ).values_list("pk", flat=True)
    wanted[frozenset({"evidence_bundle"})].update(str(pk) for pk in earlier)
    for object_type, object_id in extra:
        wanted[frozenset({object_type})].add(str(object_id))
    query = Q()
    for types, ids in wanted.items():
        if ids:
            query |= Q(object_type__in=list(types), object_id__in=list(ids))
    entries = list(AuditEntry.objects.filter(query).order_by("seq")) if query else []
    of_interest = [e.seq for e in entries]
    head = AuditEntry.objects.order_by("-seq").only("seq", "hash").first()
    # With nothing of interest, still sign the chain head: the bundle then proves what the trail was then.
    checkpoint = _signed_checkpoint(of_interest[-1] if of_interest else head.seq) if head else None
    by_seq = {e.seq: audit_entry_doc(e) for e in entries}
    bound = False
    if checkpoint is not None and of_interest:
        limit = settings.ARCHIVE_AUDIT_SEGMENT_MAX
        first, last = of_interest[0], checkpoint["seq"]
        if last - first + 1 <= limit:
            for entry in AuditEntry.objects.filter(seq__gte=first, seq__lte=last).order_by("seq"):
                by_seq.setdefault(entry.seq, audit_entry_doc(entry))
            bound = True
        else:
            # Too long to carry: bind at least the newest entry of interest to the checkpoint.
            for entry in AuditEntry.objects.filter(seq__gte=max(of_interest[-1], last - limit + 1), seq__lte=last):
                by_seq.setdefault(entry.seq, audit_entry_doc(entry))
    head = AuditEntry.objects.order_by("-seq").only("seq", "hash").first()  # after any on-demand checkpoint
    return {
        "hashed_fields": list(verify.HASHED_FIELDS),
        "genesis": verify.GENESIS,
        "of_interest": of_interest,
        "entries": [by_seq[seq] for seq in sorted(by_seq)],
        "checkpoint": checkpoint,
        "bound_to_checkpoint": bound,
        "chain_head": {"seq": head.seq, "hash": head.hash} if head else None,
    }
