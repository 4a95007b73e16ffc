"""Kubeflow's side of stitching (connectors/stitching.py): its model artefacts are originals.

Evidence, strongest first: a copy's content digest equals an artefact's `digest`; an artefact's URI
appears in the copy's texts; a KFP run id appears there (the run's model artefacts are the originals).
"""
from __future__ import annotations

from django.db.models import Q

from lineage import graph
from lineage.kinds import EdgeKind, NodeKind
from lineage.models import Node

SOURCE = "kubeflow"
ORIGINAL_KINDS = (NodeKind.MODEL_VERSION, NodeKind.ARTIFACT)


class KubeflowOriginals:
    """Kubeflow originals by digest and by URI, and run nodes by run id, read once per stitching pass."""

    source = SOURCE

    def __init__(self):
        self.by_digest: dict[str, set[int]] = {}
        self.by_uri: dict[str, set[int]] = {}
        self.runs: dict[str, int] = {}
        originals = Node.objects.filter(source=SOURCE, kind__in=ORIGINAL_KINDS).values_list("pk", "properties", "name")
        for pk, props, name in originals:
            props = props or {}
            if props.get("digest"):
                self.by_digest.setdefault(str(props["digest"]).lower(), set()).add(pk)
            for uri in {props.get("uri"), name if "://" in (name or "") else None} - {None, ""}:
                self.by_uri.setdefault(uri, set()).add(pk)
        for pk, source_id, props in Node.objects.filter(source=SOURCE, kind=NodeKind.RUN).values_list(
                "pk", "source_id", "properties"):
            run_id = (props or {}).get("run_id") or (source_id.rsplit("/run/", 1)[1] if "/run/" in source_id else None)
            if run_id and (props or {}).get("kfp_kind", "run") == "run":
                self.runs[str(run_id)] = pk

    def __bool__(self):
        return bool(self.by_digest or self.by_uri or self.runs)

    def matches(self, evidence) -> list[tuple[int, str, str]]:
        found: dict[int, tuple[str, str]] = {}
        for digest in evidence.digests:
            for pk in self.by_digest.get(digest, ()):
                found.setdefault(pk, ("digest", digest))
        for uri, pks in self.by_uri.items():
            if any(uri in t for t in evidence.texts):
                for pk in pks:
                    found.setdefault(pk, ("uri", uri))
        for token in evidence.tokens():
            run_pk = self.runs.get(token)
            if run_pk is None:
                continue
            for pk in models_of_run(run_pk):
                found.setdefault(pk, ("kfp_run_id", token))
        return [(pk, method, text) for pk, (method, text) in found.items()]


def models_of_run(run_pk: int) -> list[int]:
    """Model artifacts produced by a run or by any of its tasks."""
    near = graph.reachable([run_pk], direction="downstream", depth=6,
                           edge_kinds=[EdgeKind.PARENT_OF, EdgeKind.PRODUCED])
    # Only models: a run also produces datasets, metrics and executor logs, none of which the registered
    # model "is".
    is_model = Q(kind=NodeKind.MODEL_VERSION) | Q(kind=NodeKind.ARTIFACT, properties__mlmd_type="system.Model")
    return list(Node.objects.filter(is_model, pk__in=list(near), source=SOURCE).values_list("pk", flat=True))
