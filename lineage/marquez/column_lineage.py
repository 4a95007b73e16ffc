"""Marquez's `GET /api/v1/column-lineage`: a graph of dataset fields built from the OpenLineage
`columnLineage` facets the store keeps on dataset nodes (merged per facet, latest event wins; as of a time,
the dataset's revision then).

A facet on dataset D says, per output field f of D, which input fields (namespace, name, field) it was
derived from: edges input -> D.f. Walking upstream reads the facets of the datasets reached, level by
level (one indexed lookup of those datasets per level). Downstream (`withDownstream=true`) needs the
facets that *name* a field, which no index holds; the lineage graph says where they can be: datasets
written by the jobs whose latest run read D. So a downstream level is one job/dataset step
(lineage.marquez.graph.Dataflow) and a read of those datasets' facets.

`depth` counts field hops, as Marquez does; depth and node count are bounded like the other graph reads.
"""
from __future__ import annotations

from lineage.graph import MAX_NODES
from lineage.kinds import NodeKind
from lineage.marquez import shapes
from lineage.marquez.graph import MAX_DEPTH, Dataflow, props_at, resolve
from lineage.marquez.queries import ol
from lineage.models import Node

FieldKey = tuple[str, str, str]  # (namespace, dataset name, field)


def field_node_id(key: FieldKey) -> str:
    return f"datasetField:{key[0]}:{key[1]}:{key[2]}"


def parse(node_id: str, as_of=None) -> tuple[str, Node, str | None]:
    """('dataset' | 'datasetField' | 'job', node, field or None). Raises ValueError / LookupError."""
    if not isinstance(node_id, str) or ":" not in node_id:
        raise ValueError("nodeId must look like dataset:NS:NAME, datasetField:NS:NAME:FIELD or job:NS:NAME")
    if "#" in node_id:
        raise ValueError("nodeId with a #version is not supported here; ask for the graph as it stood with as_of")
    prefix, rest = node_id.split(":", 1)
    if prefix == "job":
        return prefix, resolve(NodeKind.JOB.value, _checked(rest), as_of), None
    if prefix == "dataset":
        return prefix, resolve(NodeKind.DATASET.value, _checked(rest), as_of), None
    if prefix == "datasetField":
        # The dataset part may hold colons (namespaces do); the field rarely does: try the last colon first.
        positions = [i for i, ch in enumerate(rest) if ch == ":"]
        for i in reversed(positions):
            field, ds_rest = rest[i + 1:], rest[:i]
            if not field or ":" not in ds_rest:
                continue
            try:
                return prefix, resolve(NodeKind.DATASET.value, ds_rest, as_of), field
            except LookupError:
                continue
        raise LookupError(f"no dataset field {rest!r} in the lineage store")
    raise ValueError(f"nodeId type must be dataset, datasetField or job, not {prefix!r}")


def _checked(rest: str) -> str:
    namespace, sep, name = rest.rpartition(":")
    if not sep or not namespace or not name:
        raise ValueError(f"nodeId {rest!r} must name both a namespace and a name")
    return rest


def _lineage_fields(props: dict) -> dict:
    fields = shapes.facet(props, "columnLineage").get("fields")
    return fields if isinstance(fields, dict) else {}


def _inputs(entry) -> list[dict]:
    items = entry.get("inputFields") if isinstance(entry, dict) else None
    return [i for i in items or [] if isinstance(i, dict) and all(isinstance(i.get(k), str) and i.get(k)
                                                                  for k in ("namespace", "name", "field"))]


class _Datasets:
    """Dataset nodes and their (as-of) properties by (namespace, name), loaded a level at a time."""

    def __init__(self, as_of):
        self.as_of = as_of
        self.nodes: dict[tuple[str, str], Node | None] = {}
        self.props: dict[tuple[str, str], dict] = {}

    def load(self, pairs) -> None:
        wanted = sorted({p for p in pairs if p not in self.nodes})
        for start in range(0, len(wanted), 2000):
            chunk = wanted[start:start + 2000]
            found = {(n.namespace, n.name): n for n in
                     ol(NodeKind.DATASET.value, self.as_of).filter(source_id__in=[f"{a}:{b}" for a, b in chunk])}
            props = props_at(found.values(), self.as_of)
            for pair in chunk:
                node = found.get(pair)
                self.nodes[pair] = node
                self.props[pair] = props[node.pk] if node is not None else {}

    def add(self, node: Node) -> None:
        pair = (node.namespace, node.name)
        if pair not in self.nodes:
            self.nodes[pair] = node
            self.props[pair] = props_at([node], self.as_of)[node.pk]

    def fields(self, pair) -> list[str]:
        props = self.props.get(pair, {})
        names = [f["name"] for f in shapes.fields_of(props)]
        return names + sorted(set(_lineage_fields(props)) - set(names))

    def field_type(self, key: FieldKey) -> str | None:
        for f in shapes.fields_of(self.props.get(key[:2], {})):
            if f["name"] == key[2]:
                return f["type"]
        return None


def column_lineage(node_id: str, depth: int = 20, with_downstream: bool = False, *, as_of=None,
                   max_nodes: int = MAX_NODES) -> dict:
    if not 0 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be between 0 and {MAX_DEPTH}")
    kind, node, field = parse(node_id, as_of)
    data = _Datasets(as_of)
    flow = Dataflow(as_of)  # a job's datasets are its latest run's; each job's runs ranked once
    if kind == "job":
        outs = sorted({d for _j, d, role in flow.job_io([node.pk]) if role == "out"})
        starts_ds = list(Node.objects.filter(pk__in=outs))
    else:
        starts_ds = [node]
    for ds in starts_ds:
        data.add(ds)
    if field is not None:
        start_fields = [(node.namespace, node.name, field)]
    else:
        start_fields = [(d.namespace, d.name, f) for d in starts_ds for f in data.fields((d.namespace, d.name))]

    level_of: dict[FieldKey, int] = {key: 0 for key in start_fields}
    edges: dict[tuple[FieldKey, FieldKey], dict] = {}
    truncated = False

    def reach(key: FieldKey, level: int) -> bool:
        nonlocal truncated
        if key in level_of:
            return True
        if len(level_of) >= max_nodes:
            truncated = True
            return False
        level_of[key] = level
        return True

    # Upstream: a field's inputs come from its own dataset's facet.
    frontier = list(start_fields)
    for level in range(1, depth + 1):
        if not frontier:
            break
        data.load({k[:2] for k in frontier})
        nxt = []
        for key in frontier:
            entry = _lineage_fields(data.props.get(key[:2], {})).get(key[2])
            for item in _inputs(entry):
                src = (item["namespace"], item["name"], item["field"])
                new = src not in level_of
                if reach(src, level):
                    edges[(src, key)] = item
                    if new:
                        nxt.append(src)
        frontier = nxt
    # The fields reached last still need their dataset's data (types) and facet (their own inputFields).
    data.load({k[:2] for k in level_of})

    if with_downstream:
        frontier_ds = {k[:2] for k in start_fields}
        wanted = set(start_fields)
        for level in range(1, depth + 1):
            if not wanted:
                break
            ids = [data.nodes[p].pk for p in frontier_ds if data.nodes.get(p) is not None]
            readers = {j for j, _d, role in flow.dataset_io(ids) if role == "in"}
            written = {d for _j, d, role in flow.job_io(readers) if role == "out"}
            written_nodes = list(Node.objects.filter(pk__in=written).only("id", "namespace", "name"))
            data.load({(n.namespace, n.name) for n in written_nodes})
            nxt: set[FieldKey] = set()
            for n in written_nodes:
                pair = (n.namespace, n.name)
                for out_field, entry in _lineage_fields(data.props.get(pair, {})).items():
                    for item in _inputs(entry):
                        src = (item["namespace"], item["name"], item["field"])
                        if src in wanted:
                            dst = (pair[0], pair[1], out_field)
                            new = dst not in level_of
                            if reach(dst, level):
                                edges[(src, dst)] = item
                                if new:
                                    nxt.add(dst)
            wanted = nxt
            frontier_ds = {k[:2] for k in nxt}

    return {"graph": _graph(level_of, edges, data), **({"truncated": True} if truncated else {})}


def _graph(level_of: dict, edges: dict, data: _Datasets) -> list[dict]:
    ins: dict[FieldKey, list] = {k: [] for k in level_of}
    outs: dict[FieldKey, list] = {k: [] for k in level_of}
    for src, dst in edges:
        ins[dst].append(src)
        outs[src].append(dst)
    graph = []
    for key in sorted(level_of):
        entry = _lineage_fields(data.props.get(key[:2], {})).get(key[2])
        entry = entry if isinstance(entry, dict) else {}
        input_fields = []
        for item in _inputs(entry):
            transformations = item.get("transformations")
            first = transformations[0] if isinstance(transformations, list) and transformations and \
                isinstance(transformations[0], dict) else {}
            input_fields.append(shapes.compact({
                "namespace": item["namespace"], "dataset": item["name"], "field": item["field"],
                "transformationDescription": first.get("description") or entry.get("transformationDescription"),
                "transformationType": first.get("type") or entry.get("transformationType"),
                "transformations": transformations if isinstance(transformations, list) else None,
            }))
        node_id = field_node_id(key)
        graph.append({
            "id": node_id,
            "type": "DATASET_FIELD",
            "data": shapes.compact({
                "type": "DATASET_FIELD",
                "namespace": key[0],
                "dataset": key[1],
                "field": key[2],
                "fieldType": data.field_type(key),
                "transformationDescription": entry.get("transformationDescription"),
                "transformationType": entry.get("transformationType"),
                "inputFields": input_fields,
            }),
            "inEdges": [{"origin": field_node_id(s), "destination": node_id} for s in sorted(ins[key])],
            "outEdges": [{"origin": node_id, "destination": field_node_id(d)} for d in sorted(outs[key])],
        })
    return graph
