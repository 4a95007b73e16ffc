"""How lineage looks in dash-cytoscape: one colour and shape per node kind, one border per source system,
and positions computed on the server.

Positions are layered by the direction rule (edges point downstream), so upstream is always on the left
whatever the traversal direction. Computing them here keeps the browser's work to drawing, which is what
lets a few hundred nodes become interactive quickly (no force simulation in the page).
"""
from __future__ import annotations

from collections import defaultdict, deque

from lineage.kinds import NodeKind, Source

KIND_STYLE = {
    NodeKind.DATASET: ("#2e7d32", "round-rectangle"),
    NodeKind.DATASET_VERSION: ("#66bb6a", "round-rectangle"),
    NodeKind.JOB: ("#6a1b9a", "hexagon"),
    NodeKind.RUN: ("#ab47bc", "ellipse"),
    NodeKind.ARTIFACT: ("#8d6e63", "rectangle"),
    NodeKind.METRICS: ("#ffa000", "diamond"),
    NodeKind.MODEL: ("#1565c0", "star"),
    NodeKind.MODEL_VERSION: ("#42a5f5", "star"),
    NodeKind.DEPLOYMENT: ("#c62828", "triangle"),
    NodeKind.PROJECT: ("#546e7a", "barrel"),
    NodeKind.REPOSITORY: ("#37474f", "barrel"),
}
# Sources that are not connectors; each connector plugin brings its own (NODE_STYLE): source_borders().
SOURCE_BORDER = {
    Source.OPENLINEAGE: ("#00897b", "solid"),
    Source.MANUAL: ("#757575", "dotted"),
}


def source_borders() -> dict[str, tuple[str, str]]:
    """Border colour and style per source: the built-in ones, then every registered connector plugin's."""
    from connectors import registry

    borders = {str(source): style for source, style in SOURCE_BORDER.items()}
    for kind in sorted(registry.PLUGINS):
        try:
            style = getattr(registry.plugin(kind), "NODE_STYLE", None)
        except ImportError:
            style = None
        borders.setdefault(kind, tuple(style) if style else ("#9e9e9e", "solid"))
    return borders
X_STEP, Y_STEP = 170, 60


def label_of(node) -> str:
    text = node.display_name or node.name
    return text if len(text) <= 30 else "…" + text[-29:]


def node_element(node, *, start_ids=(), position=None) -> dict:
    element = {
        "data": {
            "id": str(node.pk),
            "label": label_of(node),
            "kind": node.kind,
            "source": node.source,
        },
        "classes": f"kind-{node.kind} source-{node.source}" + (" start" if node.pk in start_ids else ""),
    }
    if position is not None:
        element["position"] = position
    return element


def edge_element(edge) -> dict:
    return {
        "data": {
            "id": f"e{edge.pk}",
            "source": str(edge.src_id),
            "target": str(edge.dst_id),
            "kind": edge.kind,
            "label": edge.kind.replace("_", " "),
        },
        "classes": f"edge-{edge.kind}" + (" closed" if edge.valid_to else ""),
    }


def layered_positions(node_ids: list[int], edges: list[tuple[int, int]]) -> dict[int, dict]:
    """Longest-path layering of a DAG (Kahn's algorithm); nodes left on a cycle go one layer right of
    their deepest placed predecessor, so a malformed source cannot hang the page."""
    ids = set(node_ids)
    preds: dict[int, list[int]] = defaultdict(list)
    succs: dict[int, list[int]] = defaultdict(list)
    indegree = {n: 0 for n in ids}
    for src, dst in edges:
        if src in ids and dst in ids and src != dst:
            succs[src].append(dst)
            preds[dst].append(src)
            indegree[dst] += 1
    layer = {n: 0 for n in ids}
    queue = deque(sorted(n for n in ids if indegree[n] == 0))
    placed = set()
    while queue:
        n = queue.popleft()
        placed.add(n)
        for m in succs[n]:
            layer[m] = max(layer[m], layer[n] + 1)
            indegree[m] -= 1
            if indegree[m] == 0:
                queue.append(m)
    for n in sorted(ids - placed):
        layer[n] = 1 + max((layer[p] for p in preds[n] if p in placed), default=-1)
    columns: dict[int, list[int]] = defaultdict(list)
    for n in node_ids:
        columns[layer[n]].append(n)
    positions = {}
    for col, members in columns.items():
        offset = (len(members) - 1) / 2
        for row, n in enumerate(members):
            positions[n] = {"x": col * X_STEP, "y": round((row - offset) * Y_STEP, 1)}
    return positions


def elements_for(result, start_ids=()) -> list[dict]:
    start_ids = set(start_ids)
    positions = layered_positions([n.pk for n in result.nodes], [(e.src_id, e.dst_id) for e in result.edges])
    return [node_element(n, start_ids=start_ids, position=positions[n.pk]) for n in result.nodes] + [
        edge_element(e) for e in result.edges
    ]


def stylesheet() -> list[dict]:
    rules = [
        {
            "selector": "node",
            "style": {
                "label": "data(label)",
                "font-size": 13,
                "text-valign": "bottom",
                "text-margin-y": 4,
                "width": 26,
                "height": 26,
                "border-width": 3,
                "text-wrap": "ellipsis",
                "text-max-width": 160,
                # Labels too small to read are not drawn: a zoomed-out 300-node graph stays fast.
                "min-zoomed-font-size": 6,
            },
        },
        {
            "selector": "edge",
            "style": {
                "curve-style": "straight",
                "target-arrow-shape": "triangle",
                "width": 1.5,
                "line-color": "#90a4ae",
                "target-arrow-color": "#90a4ae",
                "label": "data(label)",
                "font-size": 8,
                "color": "#78909c",
                "text-rotation": "autorotate",
                "min-zoomed-font-size": 9,
            },
        },
        {"selector": "edge.closed", "style": {"line-style": "dashed"}},
        {"selector": "edge.edge-same_as", "style": {"line-color": "#f4511e", "target-arrow-color": "#f4511e"}},
        {"selector": "node.start", "style": {"width": 40, "height": 40, "font-weight": "bold"}},
        {"selector": "node:selected", "style": {"overlay-opacity": 0.25, "overlay-color": "#ffeb3b"}},
        {"selector": "node.path", "style": {"underlay-color": "#ffeb3b", "underlay-opacity": 0.6, "underlay-padding": 6}},
    ]
    for kind, (colour, shape) in KIND_STYLE.items():
        rules.append({"selector": f"node.kind-{kind}", "style": {"background-color": colour, "shape": shape}})
    for source, (colour, line) in source_borders().items():
        rules.append({"selector": f"node.source-{source}", "style": {"border-color": colour, "border-style": line}})
    return rules


def legend():
    from dash import html

    kinds = [
        html.Span([html.Span(className="swatch", style={"background": c}), k.value.replace("_", " ")],
                  className="legend-item")
        for k, (c, _) in KIND_STYLE.items()
    ]
    sources = [
        html.Span([html.Span(className="swatch swatch-border", style={"borderColor": c, "borderStyle": s}), src],
                  className="legend-item")
        for src, (c, s) in source_borders().items()
    ]
    return html.Div([html.Div(["Kinds: ", *kinds]), html.Div(["Sources (border): ", *sources])], className="legend")
