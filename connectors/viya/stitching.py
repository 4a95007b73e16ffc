"""Viya's side of stitching (connectors/stitching.py): its model versions are copies of models trained
elsewhere. Their evidence: content digests (computed on download, or named in their properties) and the
texts a data scientist fills in — user-defined properties, description, source URI, external URL."""
from __future__ import annotations

from connectors.stitching import Evidence, digests_in, texts
from lineage.kinds import NodeKind
from lineage.models import Node

SOURCE = "viya"


def evidence(node: Node) -> Evidence:
    props = node.properties or {}
    found = list(texts([props.get("user_properties") or {}, props.get("description") or "",
                        props.get("source_uri") or "", props.get("external_url") or ""]))
    digests = {c["digest"].lower() for c in props.get("contents") or [] if isinstance(c, dict) and c.get("digest")}
    return Evidence(digests=digests | digests_in(found), texts=found)


def copies(instance: str | None = None):
    nodes = Node.objects.filter(source=SOURCE, kind=NodeKind.MODEL_VERSION)
    if instance:
        nodes = nodes.filter(source_id__startswith=instance + "/")
    for node in nodes.iterator():
        yield node, evidence(node)
