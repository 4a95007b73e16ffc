"""Reading lineage for the explorer: search, the subgraph around a node, expansion, paths and the
details of one node. The traversal itself is lineage.graph's; this module only shapes its answers
for drawing and checks the explorer's inputs (a bad input is reported, never guessed at)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from dashboard import graph_fold, graph_style, urlpaths
from lineage import graph
from lineage.kinds import EdgeKind, NodeKind
from lineage.models import Edge, Node

DEFAULT_DEPTH = 3
DEFAULT_MAX_NODES = 300
MAX_DRAWN_NODES = 2000
SEARCH_LIMIT = 25
RAW_DISPLAY_LIMIT = 60_000
LINK_KEYS = ("url", "source_url", "ui_url", "web_url", "link", "href", "uri")


class BadInput(ValueError):
    """An explorer control holds a value we cannot use; the message says which and why."""


def parse_as_of(text: str | None) -> dt.datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        # A bare date means "as of the end of that day" (checked first: Python's fromisoformat, which
        # parse_datetime uses, reads a bare date as its midnight).
        day = parse_date(text) if len(text) == 10 else None
        value = dt.datetime.combine(day, dt.time.max) if day is not None else parse_datetime(text)
    except ValueError:
        value = None
    if value is None:
        raise BadInput(f"'As of' must be a date or date-time like 2026-01-31 or 2026-01-31T12:00, not {text!r}.")
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


def parse_int(value, name: str, low: int, high: int, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadInput(f"{name} must be a whole number, not {value!r}.") from None
    if not low <= number <= high:
        raise BadInput(f"{name} must be between {low} and {high}, not {number}.")
    return number


def parse_direction(value) -> str:
    value = value or "both"
    if value not in graph.DIRECTIONS:
        raise BadInput(f"Direction must be one of {', '.join(graph.DIRECTIONS)}, not {value!r}.")
    return value


def parse_kinds(values) -> list[str] | None:
    if not values:
        return None
    known = set(NodeKind.values)
    unknown = [v for v in values if v not in known]
    if unknown:
        raise BadInput(f"Unknown node kind(s): {', '.join(map(str, unknown))}.")
    return list(values)


def parse_node_id(value, name: str = "Node") -> int:
    try:
        node_id = int(str(value).strip())
    except (TypeError, ValueError):
        raise BadInput(f"{name} must be a node id (a number); search for it above and pick it.") from None
    if not Node.objects.filter(pk=node_id).exists():
        raise BadInput(f"{name}: there is no node with id {node_id}.")
    return node_id


def search(text: str, limit: int = SEARCH_LIMIT) -> list[Node]:
    """Nodes whose id, name, display name, namespace/name URI or source id match `text`."""
    text = (text or "").strip()
    if not text:
        return []
    query = Q(name__icontains=text) | Q(display_name__icontains=text) | Q(source_id__icontains=text)
    if text.isdigit():
        query |= Q(pk=int(text))
    if "/" in text or ":" in text:
        # An OpenLineage dataset URI is namespace + "/" + name, or namespace + ":" + name.
        for sep in ("/", ":"):
            namespace, _, name = text.rpartition(sep)
            if namespace and name:
                query |= Q(namespace__iexact=namespace, name__iexact=name)
    # A search list never shows properties: not read (their size is the producer's; see lineage.api.views).
    found = list(Node.objects.filter(query).defer("properties").order_by("kind", "name", "pk")[: limit * 4])
    # Exact matches first: the id, then the name.
    found.sort(key=lambda n: (str(n.pk) != text, n.name.lower() != text.lower(), n.kind, n.name))
    return found[:limit]


def subgraph(start_id: int, *, direction="both", depth=DEFAULT_DEPTH, as_of=None, node_kinds=None,
             max_nodes=DEFAULT_MAX_NODES):
    return graph.lineage([start_id], direction=direction, depth=depth, as_of=as_of, node_kinds=node_kinds,
                         max_nodes=max_nodes, properties=True)


def expand(node_id: int, elements: list[dict], *, as_of=None, max_new: int = DEFAULT_MAX_NODES) -> tuple[list[dict], int, bool]:
    """Add the node's direct neighbours (both directions) to the drawn elements, placed beside it."""
    result = graph.lineage([node_id], direction="both", depth=1, as_of=as_of, max_nodes=max_new, properties=True)
    present = {e["data"]["id"] for e in elements}
    anchor = next((e.get("position") for e in elements if e["data"]["id"] == str(node_id)), None) or {"x": 0, "y": 0}
    upstream = {e.src_id for e in result.edges if e.dst_id == node_id}
    added_nodes = [n for n in result.nodes if str(n.pk) not in present]
    containment, others = containers(added_nodes, as_of)
    jobs = run_job_names(added_nodes, containment, others)
    sides = {n.pk: ("up" if n.pk in upstream else "down") for n in added_nodes}
    totals = {side: list(sides.values()).count(side) for side in ("up", "down")}
    columns = {"up": anchor["x"] - graph_style.X_STEP, "down": anchor["x"] + graph_style.X_STEP}
    # New neighbours go in the column beside the node; below whatever is already drawn there, so that
    # nothing lands on top of an existing node.
    first_y = {}
    for side, x in columns.items():
        taken = [e["position"]["y"] for e in elements
                 if "position" in e and abs(e["position"]["x"] - x) < graph_style.X_STEP / 2]
        first_y[side] = (max(taken) + graph_style.Y_STEP if taken
                         else anchor["y"] - (totals[side] - 1) / 2 * graph_style.Y_STEP)
    rows = {"up": 0, "down": 0}
    new = []
    for node in added_nodes:
        side = sides[node.pk]
        position = {"x": columns[side], "y": first_y[side] + rows[side] * graph_style.Y_STEP}
        rows[side] += 1
        new.append(graph_style.node_element(node, position=position, job_name=jobs.get(node.pk)))
    ids = present | {str(n.pk) for n in added_nodes}
    new_edges = [graph_style.edge_element(e) for e in result.edges
                 if f"e{e.pk}" not in present and str(e.src_id) in ids and str(e.dst_id) in ids]
    return elements + new + new_edges, len(added_nodes), result.truncated


def path_between(from_id: int, to_id: int, *, as_of=None, max_depth: int = graph.MAX_DEPTH):
    """A shortest directed path between the two nodes, in whichever order they are connected.

    Returns (result with .nodes and .edges, or None; upstream end id; downstream end id). Uses
    lineage.graph.path_between; on an older store without it, every node downstream of one end and
    upstream of the other (the nodes on any such path).
    """
    native = getattr(graph, "path_between", None)
    if native is not None:
        found = native(from_id, to_id, max_depth=max_depth, as_of=as_of)
        if found is None:
            return None, from_id, to_id
        return (found, from_id, to_id) if found.direction == "downstream" else (found, to_id, from_id)
    for a, b in ((from_id, to_id), (to_id, from_id)):
        down = graph.reachable([a], direction="downstream", depth=max_depth, as_of=as_of)
        if b not in down:
            continue
        up = graph.reachable([b], direction="upstream", depth=max_depth, as_of=as_of)
        on_path = set(down) & set(up)
        nodes = sorted(Node.objects.filter(pk__in=on_path), key=lambda n: (down[n.pk], n.pk))
        edges = Edge.objects.filter(src_id__in=on_path, dst_id__in=on_path)
        if as_of is None:
            edges = edges.filter(valid_to__isnull=True)
        else:
            edges = edges.filter(valid_from__lte=as_of).exclude(valid_to__lte=as_of)
        return graph.GraphResult(nodes=nodes, edges=list(edges.order_by("pk")), depth_of=down), a, b
    return None, from_id, to_id


def source_link(node: Node) -> str | None:
    for key in LINK_KEYS:
        value = (node.properties or {}).get(key)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return value
    for candidate in (node.source_id, node.namespace):
        if candidate.startswith(("http://", "https://")):
            return candidate
    return None


def uri_of(node: Node) -> str:
    if node.namespace:
        return f"{node.namespace}/{node.name}" if "://" in node.namespace else f"{node.namespace}:{node.name}"
    return node.name


# ---------------------------------------------------------------------------------------------------------
# The explorer's state, which lives in the URL so a view can be shared, reloaded and re-centred.
# ---------------------------------------------------------------------------------------------------------
@dataclass
class ViewState:
    node: int | None = None
    direction: str = "both"
    depth: int = DEFAULT_DEPTH
    as_of: str = ""
    kinds: tuple[str, ...] = ()
    fold: tuple[str, ...] = ()
    max_nodes: int = DEFAULT_MAX_NODES

    @classmethod
    def parse(cls, *, node=None, direction=None, depth=None, as_of=None, kinds=None, fold=None, max_nodes=None,
              check_node: bool = True) -> "ViewState":
        """A state from control values or URL parameters; BadInput names the first bad one."""
        if isinstance(kinds, str):
            kinds = [k for k in kinds.split(",") if k]
        if isinstance(fold, str):
            fold = [f for f in fold.split(",") if f]
        unknown = [f for f in (fold or []) if f not in graph_fold.FOLD_CHOICES]
        if unknown:
            raise BadInput(f"Fold must be any of {', '.join(graph_fold.FOLD_CHOICES)}, not {', '.join(map(str, unknown))}.")
        as_of = (as_of or "").strip()
        parse_as_of(as_of)
        node_id = None
        if node not in (None, ""):
            node_id = parse_node_id(node) if check_node else int(node)
        return cls(node=node_id, direction=parse_direction(direction),
                   depth=parse_int(depth, "Depth", 0, graph.MAX_DEPTH, DEFAULT_DEPTH), as_of=as_of,
                   kinds=tuple(sorted(parse_kinds(kinds) or ())), fold=tuple(f for f in graph_fold.FOLD_CHOICES if f in (fold or ())),
                   max_nodes=parse_int(max_nodes, "Max nodes", 1, MAX_DRAWN_NODES, DEFAULT_MAX_NODES))

    @classmethod
    def from_query(cls, query: dict) -> "ViewState":
        return cls.parse(node=query.get("node"), direction=query.get("direction"), depth=query.get("depth"),
                         as_of=query.get("as_of"), kinds=query.get("kinds"), fold=query.get("fold"),
                         max_nodes=query.get("max"))

    def params(self) -> dict:
        """URL parameters that differ from the defaults (node excluded: urlpaths.lineage puts it first)."""
        out = {}
        if self.direction != "both":
            out["direction"] = self.direction
        if self.depth != DEFAULT_DEPTH:
            out["depth"] = self.depth
        if self.as_of:
            out["as_of"] = self.as_of
        if self.kinds:
            out["kinds"] = ",".join(self.kinds)
        if self.fold:
            out["fold"] = ",".join(self.fold)
        if self.max_nodes != DEFAULT_MAX_NODES:
            out["max"] = self.max_nodes
        return out

    def url(self, **changes) -> str:
        state = replace(self, **changes)
        return urlpaths.lineage(state.node, **state.params())

    @property
    def as_of_time(self):
        return parse_as_of(self.as_of)


@dataclass
class View:
    """What the explorer draws for a state: cytoscape elements, and the same graph as rows for the table."""

    elements: list[dict]
    nodes: list[Node]
    links: list[tuple[int, int, str]]
    truncated: bool
    start: int | None
    members: dict[int, int] = field(default_factory=dict)


def _holds(qs, as_of):
    if as_of is None:
        return qs.filter(valid_to__isnull=True)
    return qs.filter(valid_from__lte=as_of).exclude(valid_to__lte=as_of)


def containers(nodes: list[Node], as_of=None):
    """The jobs of the runs and the datasets of the versions among `nodes`, wherever they are in the store
    (a run's job may lie beyond the walked depth): (containment edges (src, dst, kind), container id ->
    Node). Two queries whatever the graph's size."""
    run_ids = [n.pk for n in nodes if n.kind == NodeKind.RUN]
    version_ids = [n.pk for n in nodes if n.kind == NodeKind.DATASET_VERSION]
    edges = list(_holds(Edge.objects.filter(kind=EdgeKind.INSTANCE_OF, dst_id__in=run_ids, src__kind=NodeKind.JOB), as_of)
                 .values_list("src_id", "dst_id", "kind")) if run_ids else []
    edges += list(_holds(Edge.objects.filter(kind=EdgeKind.VERSION_OF, src_id__in=version_ids), as_of)
                  .values_list("src_id", "dst_id", "kind")) if version_ids else []
    job_ids = {src for src, _dst, kind in edges if kind == EdgeKind.INSTANCE_OF}
    if job_ids:  # a KFP pipeline version folds into its pipeline
        edges += list(_holds(Edge.objects.filter(kind=EdgeKind.VERSION_OF, src_id__in=job_ids, dst__kind=NodeKind.JOB),
                             as_of).values_list("src_id", "dst_id", "kind"))
    ids = {e[0] for e in edges} | {e[1] for e in edges}
    known = {n.pk for n in nodes}
    found = {n.pk: n for n in Node.objects.filter(pk__in=ids - known)}
    return edges, found


def run_job_names(nodes: list[Node], containment, others: dict[int, Node]) -> dict[int, str]:
    """Run id -> the name of its job (the pipeline rather than the pipeline version when it has both)."""
    by_id = {**others, **{n.pk: n for n in nodes}}
    versions = {src for src, dst, kind in containment if kind == EdgeKind.VERSION_OF and src in by_id
                and by_id[src].kind == NodeKind.JOB}
    names: dict[int, str] = {}
    for src, dst, kind in sorted(containment):
        if kind != EdgeKind.INSTANCE_OF or src not in by_id:
            continue
        job = by_id[src]
        if dst not in names or src not in versions:
            names[dst] = job.display_name or job.name
    return names


def view(state: ViewState) -> View:
    """The graph to draw for `state` (state.node must be set)."""
    as_of = state.as_of_time
    visible = set(state.kinds) or None
    reshaping = bool(state.fold) or visible is not None
    # A folded or filtered view walks more, since hidden and folded nodes do not count towards the limit.
    fetch = min(graph.MAX_NODES, max(state.max_nodes * 5, 1000)) if reshaping else state.max_nodes
    result = graph.lineage([state.node], direction=state.direction, depth=state.depth, as_of=as_of,
                           max_nodes=fetch, properties=True)
    containment, others = containers(result.nodes, as_of)
    jobs = run_job_names(result.nodes, containment, others)
    if not reshaping:
        elements = graph_style.elements_for(result, [state.node], job_names=jobs)
        return View(elements, list(result.nodes), [(e.src_id, e.dst_id, e.kind) for e in result.edges],
                    result.truncated, state.node)
    shaped = graph_fold.shape({n.pk: n.kind for n in result.nodes}, [(e.src_id, e.dst_id, e.kind) for e in result.edges],
                              folds=state.fold, visible=visible, containment=containment,
                              container_kinds={pk: n.kind for pk, n in others.items()}, keep=[state.node])
    truncated = result.truncated or len(shaped.nodes) > state.max_nodes
    if len(shaped.nodes) > state.max_nodes:
        kept = set(shaped.nodes[: state.max_nodes])
        shaped.nodes = shaped.nodes[: state.max_nodes]
        shaped.edges = [e for e in shaped.edges if e[0] in kept and e[1] in kept]
    by_id = {**others, **{n.pk: n for n in result.nodes}}
    start = shaped.nodes[0] if shaped.nodes else None
    elements = graph_style.shaped_elements(by_id, shaped, [start], job_names=jobs)
    links = [(a, b, graph_style.link_element(a, b, k)["data"]["label"]) for a, b, k in shaped.edges]
    return View(elements, [by_id[n] for n in shaped.nodes], links, truncated, start,
                {n: len(shaped.members.get(n, [n])) for n in shaped.nodes})


def job_names_for(nodes: list[Node], as_of=None) -> dict[int, str]:
    """Run id -> its job's name, for the runs among `nodes` (expand and path views)."""
    containment, others = containers(nodes, as_of)
    return run_job_names(nodes, containment, others)
