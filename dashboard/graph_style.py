"""How lineage looks in dash-cytoscape: one colour and shape per node kind, one border per source system,
and positions computed on the server.

Positions are layered by the direction rule (edges point downstream), so upstream is always on the left
whatever the traversal direction. Computing them here keeps the browser's work to drawing, which is what
lets a few hundred nodes become interactive quickly (no force simulation in the page, and no layout
extension to load: dash-cytoscape's 'dagre' needs its extra bundle, 'breadthfirst' lays out top-down).
Long chains wrap into bands and tall layers into several columns, chosen so the fitted drawing is as large
as the 1024x768 canvas allows: with the labels' size and length below, graphs of up to 60 nodes are
drawn with labels of 10 px or more (tests/test_dashboard_browser_lineage_job.py measures it).

Labels are names, not ids: a run is its job and start time, a dataset version its dataset and version,
cut in the middle to LABEL_CHARS, and kept distinct when cutting would make look-alikes read the same.
"""
from __future__ import annotations

import re
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


X_STEP, Y_STEP = 160, 52
# The graph canvas at 1024x768 (the smallest screen we design for) less its padding, in CSS pixels: the
# layout wraps long chains into bands and tall columns into several, so that a fitted graph of up to 60
# nodes keeps its labels at 10 px or more.
CANVAS = (920, 430)
BAND_GAP = 0.3  # extra space between bands, in rows
LABEL_CHARS = 20
FONT_SIZE = 14


def middle_truncate(text: str, limit: int = LABEL_CHARS) -> str:
    """Keep both ends of a long name: they are what tells two names apart (a bucket and a file name,
    a pipeline and its step), where cutting the end or the start loses one of them."""
    text = " ".join(str(text or "").split())
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    tail = limit - 1 - head
    return text[:head] + "…" + text[-tail:]


def _short_time(value) -> str:
    if not value:
        return ""
    if not isinstance(value, str):
        value = value.isoformat()
    text = value.replace("T", " ")
    return text[:16] if len(text) >= 16 and text[4:5] == "-" else ""


def start_time(node) -> str:
    """When a run started, as its source records it ("" when unknown): OpenLineage's START event or
    nominal start, KFP's creation time, else when the store first saw it."""
    props = node.properties or {}
    for value in (props.get("started_at"), (props.get("event_times") or {}).get("START"),
                  props.get("nominal_start_time"), props.get("created_at"), props.get("scheduled_at"),
                  props.get("start_time"), props.get("creationTimeStamp")):
        text = _short_time(value)
        if text:
            return text
    return _short_time(node.first_seen)


def job_name_of(node) -> str:
    """The job a run belongs to, when the run's own facts say it (OpenLineage job facet, KFP pipeline or
    task name); "" when only an edge can tell (lineage_view looks those up)."""
    props = node.properties or {}
    job = props.get("job")
    if isinstance(job, dict) and job.get("name"):
        return str(job["name"])
    for key in ("task_name", "pipeline_name", "job_name"):
        if props.get(key):
            return str(props[key])
    return ""


def version_of(node) -> str:
    props = node.properties or {}
    facets = props.get("facets") or {}
    version = (facets.get("version") or {}).get("datasetVersion") if isinstance(facets.get("version"), dict) else None
    for value in (props.get("version"), version, props.get("dataset_version")):
        if value not in (None, ""):
            return "v" + str(value) if str(value)[:1].isdigit() else str(value)
    when = _short_time(node.first_seen)
    return ("@ " + when) if when else ""


def label_parts(node, job_name: str | None = None) -> tuple[str, str]:
    """(name, second line) of a node's label, uncut: a run is its job's name and start time, a dataset
    version its dataset's name and version, everything else its display name and no second line."""
    kind = node.kind
    if kind == NodeKind.RUN:
        return (job_name or job_name_of(node) or node.display_name or node.name), start_time(node)
    if kind == NodeKind.DATASET_VERSION:
        dataset = (node.properties or {}).get("dataset") or {}
        name = dataset.get("name") if isinstance(dataset, dict) else None
        return (name or node.name or node.display_name), version_of(node)
    return (node.display_name or node.name), ""


def label_of(node, job_name: str | None = None) -> str:
    """A readable name for a node (see label_parts); long names are cut in the middle, the second line
    (time or version) is kept whole."""
    name, second = label_parts(node, job_name)
    return middle_truncate(name) + ("\n" + second if second else "")


_SEPARATORS = re.compile(r"([._/:\-\s]+)")


def _cut_common(text: str, common: set[str], limit: int) -> str:
    """`text` shortened by dropping the words it shares with its look-alikes, farthest from the words that
    differ first, until it fits; dropped words become one "…" per run."""
    pieces = _SEPARATORS.split(text)
    words = [i for i in range(0, len(pieces), 2) if pieces[i]]
    varying = [i for i in words if pieces[i] not in common] or [words[-1] if words else 0]
    dropped: set[int] = set()

    def render():
        out, gap = [], False
        for i, piece in enumerate(pieces):
            if i % 2 == 0:
                if i in dropped:
                    if not gap:
                        out.append("…")
                    gap = True
                    continue
                gap = False
                out.append(piece)
            elif not gap and i + 1 < len(pieces) and (i + 1) not in dropped:
                out.append(piece)
            elif not gap and i + 1 >= len(pieces):
                out.append(piece)
        return "".join(out)

    # Farthest from a differing word first; among equals keep a word that names the one after it
    # ("step" in step_2), and drop later words before earlier ones.
    vary = set(varying)
    candidates = sorted((i for i in words if pieces[i] in common),
                        key=lambda i: (-min(abs(i - v) for v in varying), (i + 2) in vary, -i))
    shown = render()
    for i in candidates:
        if len(shown) <= limit:
            break
        dropped.add(i)
        shown = render()
    return middle_truncate(shown, limit)


def distinct_labels(nodes, job_names: dict | None = None, limit: int = LABEL_CHARS) -> dict[int, str]:
    """Labels for `nodes` that stay distinct after cutting: names that would read the same once cut in the
    middle (team_0.step_0_… and team_0.step_1_… both "team_0.st…_by_region") are cut around the place
    where they differ instead."""
    job_names = job_names or {}
    parts = {n.pk: label_parts(n, job_names.get(n.pk)) for n in nodes}
    cut = {pk: middle_truncate(name, limit) for pk, (name, _second) in parts.items()}
    groups: dict[str, set[str]] = defaultdict(set)
    for pk, text in cut.items():
        groups[text].add(" ".join(parts[pk][0].split()))
    colliding = {pk for pk in parts if len(groups[cut[pk]]) > 1}
    if colliding:
        def words(name):
            return {w for w in _SEPARATORS.split(" ".join(name.split()))[::2] if w}

        # Words shared by every look-alike of the same family (same first word) are what to drop first
        # (team_3.step_1_… keeps both numbers); when that is not enough, the words shared within the group.
        def family(pk):
            return next((w for w in _SEPARATORS.split(parts[pk][0].strip()) if w), "")

        families: dict[str, list[int]] = defaultdict(list)
        for pk in colliding:
            families[family(pk)].append(pk)
        shared = {name: set.intersection(*(words(parts[pk][0]) for pk in members)) for name, members in families.items()}
        attempt = {pk: _cut_common(" ".join(parts[pk][0].split()), shared[family(pk)], limit) for pk in colliding}
        seen: dict[str, set[str]] = defaultdict(set)
        for pk, text in attempt.items():
            seen[text].add(" ".join(parts[pk][0].split()))
        for pk in colliding:
            if len(seen[attempt[pk]]) > 1:
                common = set.intersection(*(words(n) for n in groups[cut[pk]]))
                attempt[pk] = _cut_common(" ".join(parts[pk][0].split()), common, limit)
        cut.update(attempt)
    return {pk: cut[pk] + ("\n" + second if second else "") for pk, (_name, second) in parts.items()}


def card_of(node, label: str, members: int = 1) -> str:
    """The hover card's text (plain lines; drawn by a clientside callback with no server round trip)."""
    lines = [node.display_name or node.name, f"{node.kind.replace('_', ' ')} · {node.source} · id {node.pk}"]
    props = node.properties or {}
    if node.kind == NodeKind.RUN:
        started = start_time(node)
        if started:
            lines.append(f"started {started} UTC")
        state = props.get("state") or props.get("mlmd_state")
        if state:
            lines.append(f"state {state}")
    if node.namespace:
        lines.append(middle_truncate(node.namespace, 60))
    if members > 1:
        lines.append(f"stands for {members} nodes folded into it")
    return "\n".join(lines)


def node_element(node, *, start_ids=(), position=None, label: str | None = None, members: int = 1,
                 job_name: str | None = None) -> dict:
    label = label or label_of(node, job_name)
    name, second = label_parts(node, job_name)
    element = {
        "data": {
            "id": str(node.pk),
            "label": label,
            "kind": node.kind,
            "source": node.source,
            "card": card_of(node, label, members),
            "full": name + (" · " + second if second else ""),
        },
        "classes": f"kind-{node.kind} source-{node.source}" + (" start" if node.pk in start_ids else "")
        + (" folded" if members > 1 else ""),
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


def link_element(src: int, dst: int, kinds) -> dict:
    """An edge of a folded or kind-filtered view: it may stand for several store edges, or for a path
    through hidden nodes ("via:<kind>")."""
    kinds = tuple(kinds)
    via = sorted({k[4:] for k in kinds if k.startswith("via:") and k[4:] not in ("", "None")})
    plain = [k for k in kinds if not k.startswith("via:")]
    label = ("via " + ", ".join(v.replace("_", " ") for v in via)) if via else " / ".join(k.replace("_", " ") for k in plain)
    return {
        "data": {"id": f"l{src}-{dst}", "source": str(src), "target": str(dst),
                 "kind": "via" if via else (plain[0] if plain else ""), "label": label},
        "classes": ("edge-via" if via else " ".join(f"edge-{k}" for k in plain)),
    }


def _layers(node_ids: list[int], edges: list[tuple[int, int]]):
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
    # Two barycentre sweeps order each column by its neighbours' rows: fewer crossings to read through.
    order = [columns[c] for c in sorted(columns)]
    for sweep in range(2):
        sequence = range(1, len(order)) if sweep == 0 else range(len(order) - 2, -1, -1)
        for i in sequence:
            ref = order[i - 1] if sweep == 0 else order[i + 1]
            row = {n: r for r, n in enumerate(ref)}
            near = preds if sweep == 0 else succs

            def centre(n, row=row, near=near):
                rows = [row[m] for m in near[n] if m in row]
                return sum(rows) / len(rows) if rows else float("inf")
            place = {n: r for r, n in enumerate(order[i])}
            order[i] = sorted(order[i], key=lambda n, place=place: (centre(n), place[n]))
    return order


def _fitted_zoom(sizes: list[int], k: int, canvas) -> float:
    bands = [sizes[i:i + k] for i in range(0, len(sizes), k)]
    w = k * X_STEP
    h = sum(max(b) * Y_STEP for b in bands) + (len(bands) - 1) * BAND_GAP * Y_STEP
    return min(canvas[0] / w, canvas[1] / h, 1.0)


def _split(order: list[list[int]], rows: int) -> list[list[int]]:
    """Columns of at most `rows` nodes: a layer taller than that becomes several side by side."""
    out = []
    for column in order:
        out += [column[i:i + rows] for i in range(0, len(column), rows)] or [[]]
    return out


def _arrangement(order: list[list[int]], canvas=CANVAS) -> tuple[list[list[int]], int]:
    """(columns, columns per band) that let the fitted drawing be largest on the canvas: a long chain wraps
    into bands read left to right then the next band below, a wide layer into several columns."""
    tallest = max(len(c) for c in order)
    best = (order, len(order), -1.0)
    for rows in sorted({tallest, *[r for r in (40, 30, 24, 18, 14, 12, 10, 8, 6, 4) if r < tallest]}, reverse=True):
        columns = _split(order, rows)
        sizes = [len(c) for c in columns]
        for k in range(len(columns), 0, -1):
            zoom = _fitted_zoom(sizes, k, canvas)
            if zoom > best[2] + 1e-9:
                best = (columns, k, zoom)
    return best[0], best[1]


def layered_positions(node_ids: list[int], edges: list[tuple[int, int]], canvas=CANVAS) -> dict[int, dict]:
    """Left-to-right layers (edges point downstream, so upstream is always on the left whatever the
    traversal direction), wrapped into bands when that lets the fitted drawing be larger."""
    if not node_ids:
        return {}
    order, k = _arrangement(_layers(node_ids, edges), canvas)
    positions = {}
    top = 0.0
    for start in range(0, len(order), k):
        band = order[start:start + k]
        tallest = max(len(c) for c in band)
        for i, members in enumerate(band):
            offset = (tallest - len(members)) / 2
            for row, n in enumerate(members):
                positions[n] = {"x": i * X_STEP, "y": round(top + (row + offset) * Y_STEP, 1)}
        top += (tallest + BAND_GAP) * Y_STEP
    return positions


def elements_for(result, start_ids=(), *, job_names: dict | None = None) -> list[dict]:
    """Elements of a lineage.graph result; `job_names` gives run id -> job name where only an edge says it."""
    start_ids = set(start_ids)
    job_names = job_names or {}
    labels = distinct_labels(result.nodes, job_names)
    positions = layered_positions([n.pk for n in result.nodes], [(e.src_id, e.dst_id) for e in result.edges])
    return [node_element(n, start_ids=start_ids, position=positions[n.pk], label=labels[n.pk],
                         job_name=job_names.get(n.pk)) for n in result.nodes] + [edge_element(e) for e in result.edges]


def shaped_elements(nodes: dict, shaped, start_ids=(), *, job_names: dict | None = None) -> list[dict]:
    """Elements of a folded / kind-filtered view (dashboard.graph_fold.Shaped) over store nodes by id."""
    start_ids = set(start_ids)
    job_names = job_names or {}
    labels = distinct_labels([nodes[n] for n in shaped.nodes], job_names)
    positions = layered_positions(shaped.nodes, [(a, b) for a, b, _k in shaped.edges])
    out = [node_element(nodes[n], start_ids=start_ids, position=positions[n], label=labels[n],
                        members=len(shaped.members.get(n, [n])), job_name=job_names.get(n))
           for n in shaped.nodes]
    return out + [link_element(a, b, kinds) for a, b, kinds in shaped.edges]


def stylesheet() -> list[dict]:
    rules = [
        {
            "selector": "node",
            "style": {
                "label": "data(label)",
                "font-size": FONT_SIZE,
                "color": "#1f2933",
                "text-valign": "bottom",
                "text-halign": "center",
                "text-margin-y": 2,
                "width": 16,
                "height": 16,
                "border-width": 3,
                # Labels are cut on the server (middle truncation); wrap only honours the line break
                # between a run's job and its start time.
                "text-wrap": "wrap",
                "text-max-width": X_STEP - 12,
                "text-background-color": "#ffffff",
                "text-background-opacity": 0.85,
                "text-background-padding": 1,
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
                # An edge's kind is named when it is selected (and in the table view), not on every edge:
                # on a 60-node graph the names covered the node labels.
                "font-size": 11,
                "color": "#1f2933",
                "text-rotation": "autorotate",
                "text-background-color": "#ffffff",
                "text-background-opacity": 0.9,
            },
        },
        {"selector": "edge:selected", "style": {"label": "data(label)", "width": 3}},
        {"selector": "edge.closed", "style": {"line-style": "dashed"}},
        {"selector": "edge.edge-via", "style": {"line-style": "dashed", "line-color": "#607d8b",
                                                "target-arrow-color": "#607d8b"}},
        {"selector": "node.folded", "style": {"width": 22, "height": 22}},
        {"selector": "edge.edge-same_as", "style": {"line-color": "#f4511e", "target-arrow-color": "#f4511e"}},
        {"selector": "node.start", "style": {"width": 26, "height": 26, "font-weight": "bold"}},
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
