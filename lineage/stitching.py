"""Cross-platform stitching: one lineage for a model trained in Kubeflow and registered in Viya.

A `same_as` edge runs from the original (the Kubeflow model artifact / model version) to its copy (the
Viya model version), so walking upstream from a Viya champion passes into the Kubeflow run and its
training data. Evidence, strongest first:

1. digest  — a content digest on the Viya version (computed on download, or named in its properties)
             equals the Kubeflow artifact's `digest`;
2. uri     — the Kubeflow artifact's URI appears in the Viya model's properties or description;
3. run id  — a KFP run id appears there: the run's model artifacts are the originals;
4. explicit — a person links two nodes through the API (`link_same_as`, audited).

Automatic links are harvest facts (the harvest is audited as a whole); an explicit link is audited itself,
and who made it is kept (lineage.models.ManualLink). An approver or admin other than its maker may confirm it
(`confirm_same_as`, audited): gates do not rely on a manual link made by the promotion's own requester, or
after the request was submitted, until it is confirmed (governance/approvals/gates.py).
"""
from __future__ import annotations

import re
from typing import Iterable

from django.db import transaction
from django.utils import timezone
from django.db.models import Q

from governance.audit import context
from governance.audit.recorder import record
from lineage import graph, store
from lineage.kinds import EdgeKind, NodeKind, Source
from lineage.models import Edge, ManualLink, Node

ORIGINAL_KINDS = (NodeKind.MODEL_VERSION, NodeKind.ARTIFACT)
_DIGEST = re.compile(r"\b(sha256|sha1|md5):([0-9a-fA-F]{32,64})\b")
_UUIDISH = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[A-Za-z0-9][A-Za-z0-9._-]{5,}")


class StitchError(ValueError):
    """Two nodes that cannot be the same thing (unknown, identical, wrong kinds)."""


def key_of(node: Node) -> store.NodeKey:
    return store.NodeKey(node.source, node.kind, node.source_id)


def _texts(value) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _texts(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _texts(v)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def _evidence_texts(node: Node) -> list[str]:
    props = node.properties or {}
    return list(_texts([props.get("user_properties") or {}, props.get("description") or "",
                        props.get("source_uri") or "", props.get("external_url") or ""]))


def _digests(node: Node) -> set[str]:
    props = node.properties or {}
    found = {c["digest"].lower() for c in props.get("contents") or [] if isinstance(c, dict) and c.get("digest")}
    for text in _evidence_texts(node):
        found |= {f"{a.lower()}:{b.lower()}" for a, b in _DIGEST.findall(text)}
    return found


class _KubeflowIndex:
    """Kubeflow originals by digest and by URI, and run nodes by run id, read once per stitching pass."""

    def __init__(self):
        self.by_digest: dict[str, set[int]] = {}
        self.by_uri: dict[str, set[int]] = {}
        self.runs: dict[str, int] = {}
        originals = Node.objects.filter(source=Source.KUBEFLOW, kind__in=ORIGINAL_KINDS).values_list("pk", "properties", "name")
        for pk, props, name in originals:
            props = props or {}
            if props.get("digest"):
                self.by_digest.setdefault(str(props["digest"]).lower(), set()).add(pk)
            for uri in {props.get("uri"), name if "://" in (name or "") else None} - {None, ""}:
                self.by_uri.setdefault(uri, set()).add(pk)
        for pk, source_id, props in Node.objects.filter(source=Source.KUBEFLOW, kind=NodeKind.RUN).values_list(
                "pk", "source_id", "properties"):
            run_id = (props or {}).get("run_id") or (source_id.rsplit("/run/", 1)[1] if "/run/" in source_id else None)
            if run_id and (props or {}).get("kfp_kind", "run") == "run":
                self.runs[str(run_id)] = pk

    def __bool__(self):
        return bool(self.by_digest or self.by_uri or self.runs)

    def matches(self, node: Node) -> list[tuple[int, str, str]]:
        """(original node id, method, evidence) for a Viya model version."""
        found: dict[int, tuple[str, str]] = {}
        for digest in _digests(node):
            for pk in self.by_digest.get(digest, ()):
                found.setdefault(pk, ("digest", digest))
        texts = _evidence_texts(node)
        for uri, pks in self.by_uri.items():
            if any(uri in t for t in texts):
                for pk in pks:
                    found.setdefault(pk, ("uri", uri))
        for text in texts:
            for token in set(_UUIDISH.findall(text)):
                run_pk = self.runs.get(token)
                if run_pk is None:
                    continue
                for pk in _models_of_run(run_pk):
                    found.setdefault(pk, ("kfp_run_id", token))
        return [(pk, method, evidence) for pk, (method, evidence) in found.items()]


def _models_of_run(run_pk: int) -> list[int]:
    """Model artifacts produced by a run or by any of its tasks."""
    near = graph.reachable([run_pk], direction="downstream", depth=6,
                           edge_kinds=[EdgeKind.PARENT_OF, EdgeKind.PRODUCED])
    # Only models: a run also produces datasets, metrics and executor logs, none of which the registered
    # model "is".
    is_model = Q(kind=NodeKind.MODEL_VERSION) | Q(kind=NodeKind.ARTIFACT, properties__mlmd_type="system.Model")
    return list(Node.objects.filter(is_model, pk__in=list(near), source=Source.KUBEFLOW).values_list("pk", flat=True))


def same_as_facts(copies: Iterable[Node] | None = None) -> list:
    """EdgeFacts linking Viya model versions to their Kubeflow originals (all Viya versions when None)."""
    index = _KubeflowIndex()
    if not index:
        return []
    if copies is None:
        copies = Node.objects.filter(source=Source.VIYA, kind=NodeKind.MODEL_VERSION)
    facts = []
    originals: dict[int, Node] = {}
    for copy in copies:
        for pk, method, evidence in index.matches(copy):
            original = originals.get(pk) or Node.objects.get(pk=pk)
            originals[pk] = original
            facts.append(store.EdgeFact(EdgeKind.SAME_AS, key_of(original), key_of(copy), Source.VIYA,
                                        valid_from=max(copy.first_seen, original.first_seen),
                                        properties={"method": method, "evidence": evidence}))
    return facts


def stitch(copies: Iterable[Node] | None = None) -> store.ApplyResult:
    return store.apply(same_as_facts(copies))


def link_same_as(src: Node, dst: Node, *, reason: str, user=None) -> tuple[Edge, bool]:
    """An explicit, audited same-as link from `src` (original) to `dst` (copy). Returns (edge, created)."""
    reason = (reason or "").strip()
    if not reason:
        raise StitchError("a reason is required for a same-as link")
    if src.pk == dst.pk:
        raise StitchError("a node cannot be the same as itself")
    for node in (src, dst):
        if node.kind not in ORIGINAL_KINDS:
            raise StitchError(f"node {node.pk} is a {node.kind}; same-as links join model versions or artifacts")
    if src.source == dst.source:
        raise StitchError("same-as links join nodes of two platforms; both nodes come from " + src.source)
    with transaction.atomic():
        existing = Edge.objects.filter(src=src, dst=dst, kind=EdgeKind.SAME_AS, valid_to__isnull=True).first()
        if existing is not None:
            return existing, False
        result = store.apply([store.EdgeFact(EdgeKind.SAME_AS, key_of(src), key_of(dst), Source.MANUAL,
                                             properties={"method": "explicit", "reason": reason})])
        edge = Edge.objects.get(src=src, dst=dst, kind=EdgeKind.SAME_AS, valid_to__isnull=True)
        ctx = context.current()
        ManualLink.objects.update_or_create(edge=edge, defaults={
            "created_by_id": getattr(user, "pk", None) or ctx.user_id,
            "created_by_username": getattr(user, "username", None) or ctx.username, "reason": reason,
            "created_at": edge.recorded_at})
        record("lineage.link.same_as", "lineage.edge", edge.pk, after={
            "src": src.pk, "src_key": src.source_id, "dst": dst.pk, "dst_key": dst.source_id,
            "valid_from": edge.valid_from.isoformat(), "edges_created": result.edges_created}, reason=reason)
    return edge, True


def confirm_same_as(edge: Edge, user, *, reason: str) -> ManualLink:
    """An approver's or admin's confirmation that a manual same_as link is right, so gates may rely on it.

    The maker of a link cannot confirm it (that would be their own evidence again). Role checks are the
    caller's (the API's permission); refusals here are audited by the caller too."""
    reason = (reason or "").strip()
    if not reason:
        raise StitchError("a reason is required to confirm a same-as link")
    if edge.kind != EdgeKind.SAME_AS or edge.source != Source.MANUAL:
        raise StitchError(f"edge {edge.pk} is not a manual same-as link; only those need confirming")
    if edge.valid_to is not None:
        raise StitchError(f"edge {edge.pk} no longer holds")
    with transaction.atomic():
        link = ManualLink.objects.select_for_update().filter(edge=edge).first()
        if link is None:
            link = ManualLink.objects.create(edge=edge, created_at=edge.recorded_at)
        if link.created_by_id is not None and link.created_by_id == user.pk:
            raise StitchError("the person who made a link cannot confirm it")
        if link.confirmed_at is not None:
            raise LinkAlreadyConfirmed(f"edge {edge.pk} was already confirmed by {link.confirmed_by_username}")
        link.confirmed_by, link.confirmed_by_username = user, user.username
        link.confirmed_at, link.confirm_reason = timezone.now(), reason
        link.save(update_fields=["confirmed_by", "confirmed_by_username", "confirmed_at", "confirm_reason"])
        record("lineage.link.same_as.confirm", "lineage.edge", edge.pk, after={
            "src": edge.src_id, "dst": edge.dst_id, "created_by": link.created_by_username,
            "confirmed_by": user.username}, reason=reason)
    return link


class LinkAlreadyConfirmed(StitchError):
    pass
