"""Cross-platform stitching: `same_as` edges from an original on one platform to its copy on another.

The shared part knows no platform. Each connector plugin may offer
    stitching_index()            its originals, indexed: an object with `source`, bool() and
                                 `matches(evidence) -> [(original node id, method, evidence text)]`
    stitching_copies(instance)   its nodes that may be copies, each with the Evidence they carry
and every copy is matched against the other platforms' indexes (never its own). Today Kubeflow artefacts
and runs are originals of MLflow and Viya model versions, and MLflow versions are originals of Viya ones;
the rules that say so live in connectors/<kind>/stitching.py.

Automatic links are harvest facts (the harvest is audited as a whole), applied after every harvest by the
harvest service (connectors/service.py), since one platform's new data can link another's old versions.
The explicit, audited link a person makes stays in lineage/stitching.py.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from connectors import registry
from lineage import store
from lineage.kinds import EdgeKind
from lineage.models import Node
from lineage.stitching import key_of

DIGEST = re.compile(r"\b(sha256|sha1|md5):([0-9a-fA-F]{32,64})\b")
TOKEN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[A-Za-z0-9][A-Za-z0-9._-]{5,}")


@dataclass
class Evidence:
    """What a possible copy says about where it came from: content digests ("sha256:…", lower case) and
    free texts (descriptions, properties, source URIs, tags) that may name an original's URI or run id."""
    digests: set = field(default_factory=set)
    texts: list = field(default_factory=list)

    def tokens(self) -> set[str]:
        return {token for text in self.texts for token in TOKEN.findall(text)}


def texts(value) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from texts(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from texts(v)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def digests_in(values: Iterable[str]) -> set[str]:
    return {f"{a.lower()}:{b.lower()}" for text in values for a, b in DIGEST.findall(text)}


def _plugins_with(name: str):
    for kind in sorted(registry.PLUGINS):
        try:
            module = registry.plugin(kind)
        except ImportError:
            continue
        hook = getattr(module, name, None)
        if hook is not None:
            yield kind, hook


def same_as_facts(kinds: Iterable[str] | None = None, instance: str | None = None) -> list:
    """EdgeFacts linking the copies of `kinds` (every plugin's when None) to their originals."""
    wanted = set(kinds) if kinds is not None else None
    copies = [(kind, hook) for kind, hook in _plugins_with("stitching_copies") if wanted is None or kind in wanted]
    if not copies:
        return []
    indexes = None
    facts = []
    originals: dict[int, Node] = {}
    for kind, hook in copies:
        for copy, evidence in hook(instance):
            if indexes is None:  # built only when there is a copy to match
                indexes = [index for _, make in _plugins_with("stitching_index") if (index := make())]
            for index in indexes:
                if index.source == copy.source:
                    continue
                for pk, method, text in index.matches(evidence):
                    original = originals.get(pk) or Node.objects.get(pk=pk)
                    originals[pk] = original
                    facts.append(store.EdgeFact(EdgeKind.SAME_AS, key_of(original), key_of(copy), copy.source,
                                                valid_from=max(copy.first_seen, original.first_seen),
                                                properties={"method": method, "evidence": text}))
    return facts


def stitch(kinds: Iterable[str] | None = None, instance: str | None = None) -> store.ApplyResult:
    return store.apply(same_as_facts(kinds, instance))
