"""Small graphs written through lineage.store.apply (the only write path), shared by the graph, path and
API tests, so each builds the same drawings the same way."""
import datetime as dt

from lineage import store
from lineage.models import Edge, Node, NodeRevision

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def at(hours: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


hour = at


def key(name: str, kind: str = "dataset") -> store.NodeKey:
    return store.NodeKey("manual", kind, name)


def build(nodes: dict[str, str], edges: list[tuple], seen: dict[str, int] | None = None) -> dict[str, int]:
    """nodes: name -> kind; edges: (src, dst, kind[, valid_from_hours]). Returns name -> node id."""
    seen = seen or {}
    facts = [store.NodeFact(key=key(n, k), name=n, seen_at=at(seen.get(n, 0))) for n, k in nodes.items()]
    for src, dst, kind, *rest in edges:
        facts.append(store.EdgeFact(kind=kind, src=key(src, nodes[src]), dst=key(dst, nodes[dst]), source="manual",
                                    valid_from=at(rest[0] if rest else 1)))
    store.apply(facts, now=at(0))
    return {n.name: n.pk for n in Node.objects.filter(source="manual")}


# a(dataset) -consumed-> b(run) -produced-> c(dataset) -consumed-> d(run) -produced-> e(dataset)
# x(job) -instance_of-> d
CHAIN = {"a": "dataset", "b": "run", "c": "dataset", "d": "run", "e": "dataset", "x": "job"}
CHAIN_EDGES = [("a", "b", "consumed"), ("b", "c", "produced"), ("c", "d", "consumed"), ("d", "e", "produced"),
               ("x", "d", "instance_of")]


def load(nodes, edges) -> list[int]:
    """Replace the store with a random graph: nodes as (kind, first-seen hour), edges as
    (src, dst, kind, valid-from hour, closed hour or None). Returns the node ids in the given order."""
    Edge.objects.all().delete()
    NodeRevision.objects.all().delete()
    Node.objects.all().delete()

    def node_key(i):
        return store.NodeKey("manual", nodes[i][0], f"n{i}")

    facts = [store.NodeFact(key=node_key(i), name=f"n{i}", seen_at=hour(seen)) for i, (_kind, seen) in enumerate(nodes)]
    facts += [store.EdgeFact(kind=k, src=node_key(s), dst=node_key(d), source="manual", valid_from=hour(f))
              for s, d, k, f, _c in edges]
    store.apply(facts, now=T0)
    store.apply([store.EdgeClose(kind=k, src=node_key(s), dst=node_key(d), at=hour(c))
                 for s, d, k, _f, c in edges if c is not None])
    by_name = dict(Node.objects.values_list("name", "pk"))
    return [by_name[f"n{i}"] for i in range(len(nodes))]
