"""MLflow's side of stitching (connectors/stitching.py).

As copies: a registered version is often a model trained elsewhere — its source/artifact URI may be a
Kubeflow artefact's, its tags (or its run's, e.g. a `kfp_run_id`) may carry a digest or a KFP run id.
As originals: a Viya model imported from MLflow names the version (`models:/name/version`), its files'
location, its run id, or carries the same content digest.
"""
from __future__ import annotations

import re

from connectors.stitching import Evidence, digests_in, texts
from lineage.kinds import NodeKind
from lineage.models import Node

SOURCE = "mlflow"
DIGEST_TAGS = ("digest", "sha256", "model_digest", "content_digest")


def _tag_digests(tags: dict) -> set[str]:
    found = digests_in(texts(tags))
    for name in DIGEST_TAGS:
        value = str((tags or {}).get(name) or "").strip().lower()
        if re.fullmatch(r"[0-9a-f]{64}", value):
            found.add(f"sha256:{value}")
    return found


def _uris(props: dict) -> set[str]:
    out = {props.get("artifact_uri") or ""}
    source = props.get("source_uri") or ""
    if not source.startswith("models:/m-"):
        out.add(source)
    if props.get("model_name") and props.get("version_name"):
        out.add(f"models:/{props['model_name']}/{props['version_name']}")
    return {u for u in out if len(u) > 8}


def _run_tags(nodes) -> dict[str, dict]:
    run_ids = {(n.properties or {}).get("run_id") for n in nodes} - {None, ""}
    out = {}
    for props in Node.objects.filter(source=SOURCE, kind=NodeKind.RUN, properties__run_id__in=list(run_ids)).values_list(
            "properties", flat=True):
        out[props.get("run_id")] = props.get("tags") or {}
    return out


def copies(instance: str | None = None):
    nodes = Node.objects.filter(source=SOURCE, kind=NodeKind.MODEL_VERSION)
    if instance:
        nodes = nodes.filter(source_id__startswith=instance + "/")
    nodes = list(nodes)
    if not nodes:
        return
    run_tags = _run_tags(nodes)
    for node in nodes:
        props = node.properties or {}
        if props.get("deleted"):
            continue
        tags = props.get("tags") or {}
        found = [*(_uris(props)), props.get("description") or "", *texts(tags),
                 *texts(run_tags.get(props.get("run_id"), {}))]
        digests = _tag_digests(tags) | _tag_digests(run_tags.get(props.get("run_id"), {}))
        yield node, Evidence(digests=digests, texts=[t for t in found if t])


def _mentions(text: str, value: str) -> bool:
    return re.search(re.escape(value) + r"(?![0-9A-Za-z])", text) is not None


class MlflowOriginals:
    """MLflow versions by digest, by URI (and `models:/name/version`) and by run id."""

    source = SOURCE

    def __init__(self):
        self.by_digest: dict[str, set[int]] = {}
        self.by_uri: dict[str, set[int]] = {}
        self.by_run: dict[str, set[int]] = {}
        for pk, props in Node.objects.filter(source=SOURCE, kind=NodeKind.MODEL_VERSION).values_list("pk", "properties"):
            props = props or {}
            if props.get("deleted"):
                continue
            for digest in _tag_digests(props.get("tags") or {}):
                self.by_digest.setdefault(digest, set()).add(pk)
            for uri in _uris(props):
                self.by_uri.setdefault(uri, set()).add(pk)
            if props.get("run_id"):
                self.by_run.setdefault(props["run_id"], set()).add(pk)

    def __bool__(self):
        return bool(self.by_digest or self.by_uri or self.by_run)

    def matches(self, evidence: Evidence) -> list[tuple[int, str, str]]:
        found: dict[int, tuple[str, str]] = {}
        for digest in evidence.digests:
            for pk in self.by_digest.get(digest, ()):
                found.setdefault(pk, ("digest", digest))
        for uri, pks in self.by_uri.items():
            if any(_mentions(t, uri) for t in evidence.texts):
                for pk in pks:
                    found.setdefault(pk, ("uri", uri))
        for token in evidence.tokens():
            for pk in self.by_run.get(token, ()):
                found.setdefault(pk, ("mlflow_run_id", token))
        return [(pk, method, text) for pk, (method, text) in found.items()]
