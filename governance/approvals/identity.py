"""What a request remembers about the model version: its fingerprint and who the source says authored it.

The fingerprint is what makes a stale decision detectable. It changes when the source reports new
properties for the model version (a new NodeRevision, which the store also appends for frozen nodes) or
renames it; a harvest that merely sees it again (`last_seen`) leaves it unchanged.
"""
from __future__ import annotations

from lineage.kinds import EdgeKind
from lineage.models import Edge, Node, NodeRevision
from lineage.store import canonical_digest

# Property names under which sources name a model's author (Viya: createdBy, modeler; MLflow-like: owner).
AUTHOR_KEYS = ("author", "authors", "createdBy", "created_by", "creator", "modeler", "owner", "modelOwner")


def fingerprint_detail(node: Node) -> dict:
    latest = NodeRevision.objects.filter(node=node).order_by("-valid_from", "-pk").values_list("pk", flat=True).first()
    return {
        "node": node.pk,
        "name": node.name,
        "display_name": node.display_name,
        "properties_sha256": canonical_digest(node.properties or {}),
        "latest_revision": latest,
    }


def fingerprint(node: Node) -> tuple[str, dict]:
    detail = fingerprint_detail(node)
    return canonical_digest(detail), detail


def _names(value) -> list[str]:
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, (list, tuple)):
        return [n for v in value for n in _names(v)]
    if isinstance(value, dict):
        return [n for k in ("username", "name", "email", "id") for n in _names(value.get(k))]
    return []


def authors(node: Node) -> list[str]:
    """Lower-cased author names from the model version and the model it versions (Viya puts `modeler` on
    the model)."""
    holders = [node.properties or {}]
    model_ids = Edge.objects.filter(kind=EdgeKind.VERSION_OF, src=node, valid_to__isnull=True).values_list("dst_id", flat=True)
    holders += [m.properties or {} for m in Node.objects.filter(pk__in=list(model_ids))]
    found: list[str] = []
    for props in holders:
        for key in AUTHOR_KEYS:
            for name in _names(props.get(key)):
                if name.lower() not in found:
                    found.append(name.lower())
    return found


def identities(user) -> set[str]:
    """The names a source could use for this user: username and e-mail (and its local part)."""
    names = {user.username.lower()}
    email = (getattr(user, "email", "") or "").strip().lower()
    if email:
        names |= {email, email.split("@", 1)[0]}
    return names


def is_author(user, author_names) -> bool:
    return bool(identities(user) & set(author_names or []))
