"""The one write path into the lineage store. Knows nothing of Kubeflow, Viya or OpenLineage.

Mappers turn source records into `NodeFact` / `EdgeFact` values and hand them to `apply`. The store
dedupes raw payloads, creates nodes or refreshes them (appending a revision when properties change),
opens edges or refreshes open ones, and closes edges that stopped holding. Applying the same facts twice
changes nothing but `last_seen`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from lineage.models import Edge, Node, NodeRevision, RawRecord


@dataclass(frozen=True)
class NodeKey:
    source: str
    kind: str
    source_id: str


@dataclass
class RawPayload:
    source: str
    kind: str
    source_id: str
    body: object


@dataclass
class NodeFact:
    key: NodeKey
    name: str
    namespace: str = ""
    display_name: str = ""
    properties: dict = field(default_factory=dict)
    seen_at: dt.datetime | None = None
    raw: RawPayload | None = None
    # When False, an existing node's properties are merged with these rather than replaced.
    replace_properties: bool = False


@dataclass
class EdgeFact:
    kind: str
    src: NodeKey
    dst: NodeKey
    source: str
    valid_from: dt.datetime | None = None
    properties: dict = field(default_factory=dict)
    raw: RawPayload | None = None


@dataclass
class EdgeClose:
    kind: str
    src: NodeKey
    dst: NodeKey
    at: dt.datetime | None = None


@dataclass
class ApplyResult:
    raw_created: int = 0
    nodes_created: int = 0
    nodes_updated: int = 0
    edges_created: int = 0
    edges_closed: int = 0
    nodes: dict = field(default_factory=dict)  # NodeKey -> Node

    def as_counts(self) -> dict:
        return {
            "raw_created": self.raw_created,
            "nodes_created": self.nodes_created,
            "nodes_updated": self.nodes_updated,
            "edges_created": self.edges_created,
            "edges_closed": self.edges_closed,
        }

    def add(self, other: "ApplyResult") -> None:
        for name in ("raw_created", "nodes_created", "nodes_updated", "edges_created", "edges_closed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def canonical_digest(body) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _aware(value: dt.datetime | None, default: dt.datetime) -> dt.datetime:
    if value is None:
        return default
    if timezone.is_naive(value):
        return value.replace(tzinfo=dt.timezone.utc)
    return value


class _Session:
    """Caches within one `apply` call so a batch touching the same node many times queries it once."""

    def __init__(self, now: dt.datetime):
        self.now = now
        self.raw: dict[tuple, RawRecord] = {}
        self.nodes: dict[NodeKey, Node] = {}
        self.result = ApplyResult()

    def raw_record(self, payload: RawPayload | None) -> RawRecord | None:
        if payload is None:
            return None
        digest = canonical_digest(payload.body)
        cache_key = (payload.source, payload.kind, payload.source_id, digest)
        if cache_key in self.raw:
            return self.raw[cache_key]
        record, created = RawRecord.objects.get_or_create(
            source=payload.source,
            kind=payload.kind,
            source_id=payload.source_id,
            digest=digest,
            defaults={"body": payload.body, "received_at": self.now},
        )
        self.result.raw_created += int(created)
        self.raw[cache_key] = record
        return record

    def node(self, key: NodeKey) -> Node:
        if key in self.nodes:
            return self.nodes[key]
        node = Node.objects.filter(source=key.source, kind=key.kind, source_id=key.source_id).first()
        if node is None:
            # An edge may name a node before any fact describes it (e.g. an input dataset): create a
            # placeholder named after its id; a later NodeFact fills it in.
            node = Node.objects.create(
                source=key.source,
                kind=key.kind,
                source_id=key.source_id,
                name=key.source_id,
                first_seen=self.now,
                last_seen=self.now,
            )
            self.result.nodes_created += 1
        self.nodes[key] = node
        return node

    def put_node(self, fact: NodeFact) -> Node:
        seen = _aware(fact.seen_at, self.now)
        raw = self.raw_record(fact.raw)
        node = self.nodes.get(fact.key) or Node.objects.filter(
            source=fact.key.source, kind=fact.key.kind, source_id=fact.key.source_id
        ).first()
        if node is None:
            node = Node.objects.create(
                source=fact.key.source,
                kind=fact.key.kind,
                source_id=fact.key.source_id,
                namespace=fact.namespace,
                name=fact.name,
                display_name=fact.display_name,
                properties=fact.properties,
                first_seen=seen,
                last_seen=seen,
                raw=raw,
            )
            NodeRevision.objects.create(node=node, valid_from=seen, properties=fact.properties, raw=raw)
            self.result.nodes_created += 1
        else:
            if node.archived_at is not None:
                # Frozen by an evidence bundle: record what the source says now as a revision only.
                new_props = fact.properties if fact.replace_properties else {**node.properties, **fact.properties}
                if new_props != node.properties:
                    NodeRevision.objects.create(node=node, valid_from=seen, properties=new_props, raw=raw)
                self.nodes[fact.key] = node
                return node
            new_props = fact.properties if fact.replace_properties else {**node.properties, **fact.properties}
            changed = {}
            if new_props != node.properties:
                changed["properties"] = new_props
                NodeRevision.objects.create(node=node, valid_from=max(seen, node.first_seen), properties=new_props, raw=raw)
            for attr in ("name", "namespace", "display_name"):
                value = getattr(fact, attr)
                if value and value != getattr(node, attr):
                    changed[attr] = value
            if raw is not None and raw.pk != node.raw_id:
                changed["raw"] = raw
            if seen < node.first_seen:
                changed["first_seen"] = seen
            if seen > node.last_seen:
                changed["last_seen"] = seen
            if changed:
                for attr, value in changed.items():
                    setattr(node, attr, value)
                node.save(update_fields=list(changed))
                if set(changed) - {"last_seen", "first_seen"}:
                    self.result.nodes_updated += 1
        self.nodes[fact.key] = node
        return node

    def put_edge(self, fact: EdgeFact) -> Edge:
        src = self.node(fact.src)
        dst = self.node(fact.dst)
        valid_from = _aware(fact.valid_from, self.now)
        raw = self.raw_record(fact.raw)
        edge = Edge.objects.filter(src=src, dst=dst, kind=fact.kind, valid_to__isnull=True).first()
        if edge is None:
            edge = Edge.objects.create(
                kind=fact.kind,
                src=src,
                dst=dst,
                source=fact.source,
                valid_from=valid_from,
                last_seen=valid_from,
                properties=fact.properties,
                raw=raw,
            )
            self.result.edges_created += 1
        else:
            updates = {}
            if valid_from < edge.valid_from:
                # Out-of-order arrival (COMPLETE before START): the edge held from the earlier time.
                updates["valid_from"] = valid_from
            if valid_from > edge.last_seen:
                updates["last_seen"] = valid_from
            merged = {**edge.properties, **fact.properties}
            if merged != edge.properties:
                updates["properties"] = merged
            if updates:
                Edge.objects.filter(pk=edge.pk).update(**updates)
                for attr, value in updates.items():
                    setattr(edge, attr, value)
        return edge

    def close_edge(self, close: EdgeClose) -> int:
        src = Node.objects.filter(source=close.src.source, kind=close.src.kind, source_id=close.src.source_id).first()
        dst = Node.objects.filter(source=close.dst.source, kind=close.dst.kind, source_id=close.dst.source_id).first()
        if src is None or dst is None:
            return 0
        closed = Edge.objects.filter(src=src, dst=dst, kind=close.kind, valid_to__isnull=True).update(
            valid_to=_aware(close.at, self.now)
        )
        self.result.edges_closed += closed
        return closed


def apply(facts, *, now: dt.datetime | None = None) -> ApplyResult:
    """Apply NodeFact / EdgeFact / EdgeClose values in order, in one transaction."""
    session = _Session(now or timezone.now())
    with transaction.atomic():
        for fact in facts:
            if isinstance(fact, NodeFact):
                session.put_node(fact)
            elif isinstance(fact, EdgeFact):
                session.put_edge(fact)
            elif isinstance(fact, EdgeClose):
                session.close_edge(fact)
            elif isinstance(fact, RawPayload):
                session.raw_record(fact)
            else:
                raise TypeError(f"not a lineage fact: {fact!r}")
    session.result.nodes = session.nodes
    return session.result
