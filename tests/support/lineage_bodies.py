"""Random lineage graphs with awkward contents (any text, microsecond edge cases, JSON properties and raw
bodies, closed edges) for the tests that compare lineage response bodies built different ways."""
import datetime as dt

from hypothesis import strategies as st

from lineage import store
from lineage.models import Edge, Node, NodeRevision

T0 = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
NODE_KINDS = ["dataset", "run", "job"]
EDGE_KINDS = ["consumed", "produced", "parent_of", "instance_of"]
# Whole seconds, the smallest and largest fractions, and fractions with trailing zeros (".500000", not ".5").
MICROS = st.sampled_from([0, 0, 1, 10, 500_000, 123_456, 999_999])
# Any text PostgreSQL can hold (no NUL, no lone surrogates): quotes, backslashes, control characters,
# line/paragraph separators, astral-plane characters.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | TEXT,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                           max_leaves=8)
OFFSETS = [dt.timezone.utc, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-8))]


def at(hours: int, micros: int = 0) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours, microseconds=micros)


@st.composite
def graphs(draw):
    n = draw(st.integers(2, 9))
    nodes = [{"kind": draw(st.sampled_from(NODE_KINDS)), "seen": at(draw(st.integers(0, 3)), draw(MICROS)),
              "name": draw(TEXT), "namespace": draw(TEXT), "display_name": draw(TEXT),
              "properties": draw(st.dictionaries(TEXT, JSON_VALUES, max_size=3)),
              "raw": draw(st.one_of(st.none(), JSON_VALUES))} for _ in range(n)]
    triples = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.sampled_from(EDGE_KINDS)),
                            max_size=18, unique=True))
    edges = []
    for src, dst, kind in triples:
        start = draw(st.integers(0, 5))
        closed = draw(st.one_of(st.none(), st.integers(start + 1, 8)))
        edges.append({"src": src, "dst": dst, "kind": kind, "from": at(start, draw(MICROS)),
                      "to": None if closed is None else at(closed, draw(MICROS)),
                      "properties": draw(st.dictionaries(TEXT, JSON_VALUES, max_size=2)),
                      "raw": draw(st.one_of(st.none(), JSON_VALUES))})
    return nodes, edges


def load(nodes, edges) -> list[int]:
    Edge.objects.all().delete()
    NodeRevision.objects.all().delete()
    Node.objects.all().delete()
    key = lambda i: store.NodeKey("manual", nodes[i]["kind"], f"n{i}")

    def raw(kind, i, body):
        return None if body is None else store.RawPayload("manual", kind, f"{kind}-{i}", {"body": body})

    facts = [store.NodeFact(key=key(i), name=node["name"], namespace=node["namespace"],
                            display_name=node["display_name"], properties=node["properties"], seen_at=node["seen"],
                            raw=raw("manual.node", i, node["raw"])) for i, node in enumerate(nodes)]
    facts += [store.EdgeFact(kind=e["kind"], src=key(e["src"]), dst=key(e["dst"]), source="manual",
                             valid_from=e["from"], properties=e["properties"], raw=raw("manual.edge", i, e["raw"]))
              for i, e in enumerate(edges)]
    store.apply(facts, now=T0)
    store.apply([store.EdgeClose(kind=e["kind"], src=key(e["src"]), dst=key(e["dst"]), at=e["to"])
                 for e in edges if e["to"] is not None])
    by_source_id = dict(Node.objects.values_list("source_id", "pk"))
    return [by_source_id[f"n{i}"] for i in range(len(nodes))]


def previous_lineage(start_ids, *, direction, depth, as_of, node_kinds, edge_kinds, max_nodes):
    """lineage.graph.lineage() as it was before the one-statement answer (issue 18): the walk with the node
    rows, then a second statement for the edges by `src = ANY(kept) AND dst = ANY(kept)`, model instances.
    Rebuilt from the pieces lineage.graph still has, as the reference the new answer must equal."""
    from lineage import graph

    directions = ("upstream", "downstream") if direction == "both" else (direction,)
    depth = max(0, min(int(depth), graph.MAX_DEPTH))
    max_nodes = max(1, min(int(max_nodes), graph.MAX_NODES))
    rows = graph._walk(sorted(set(start_ids)), directions, depth, as_of, edge_kinds, node_kinds,
                       enough=max_nodes + 1, node_rows=True)
    truncated = len(rows) > max_nodes
    rows = rows[:max_nodes]
    build = graph._loader(Node)
    depth_of = {row[0]: row[-1] for row in rows}
    return graph.GraphResult(nodes=[build(row[:-1]) for row in rows],
                             edges=graph.edges_between(list(depth_of), as_of=as_of, edge_kinds=edge_kinds),
                             depth_of=depth_of, truncated=truncated)
