"""A digest of the lineage store by natural keys, to compare two harvests' results."""
import hashlib
import json

from django.db.models import Count

from lineage.models import Edge, Node, NodeRevision, RawRecord


def store_digest() -> dict:
    """Counts and a SHA-256 of the store by natural keys (ids, recording times and `last_seen` left out:
    they are clocks, not content); per-node revision counts included."""
    def ser(value):
        return json.dumps(value, sort_keys=True, default=str)

    nodes = sorted((n.source, n.kind, n.source_id, n.namespace, n.name, n.display_name, ser(n.properties),
                    n.first_seen.isoformat()) for n in Node.objects.all())
    edges = sorted((e.kind, e.src.source, e.src.kind, e.src.source_id, e.dst.source, e.dst.kind, e.dst.source_id,
                    e.source, e.valid_from.isoformat(), e.valid_to.isoformat() if e.valid_to else "",
                    ser(e.properties)) for e in Edge.objects.select_related("src", "dst"))
    revisions = sorted((r["node__source"], r["node__kind"], r["node__source_id"], r["n"]) for r in
                       NodeRevision.objects.values("node__source", "node__kind", "node__source_id")
                       .annotate(n=Count("id")))
    raw = sorted(RawRecord.objects.values_list("source", "kind", "source_id", "digest"))
    parts = {"nodes": nodes, "edges": edges, "revisions": revisions, "raw": raw}
    counts = {name: len(rows) for name, rows in parts.items()}
    return {"counts": counts, "sha256": hashlib.sha256(repr(parts).encode()).hexdigest()}
