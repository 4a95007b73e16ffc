"""Lineage explorer: find a node, draw its lineage, inspect and expand nodes, find a path between two.

The first drawing is part of the page layout (no extra round trip before the graph appears); the
controls then redraw through callbacks. All reading, so every callback needs only a role that may open
the page, re-checked on each call."""
from __future__ import annotations

import dash_cytoscape as cyto
from dash import Input, Output, State, dcc, html, no_update

from dashboard import auth, components as ui, graph_style, urlpaths
from dashboard import lineage_view as lv
from lineage.kinds import NodeKind
from lineage.models import Node

PAGE = "lineage"
TITLE = "Lineage explorer"


def _refusal(exc) -> html.Div:
    return ui.refused(str(exc))


def _truncation_notice(result, max_nodes: int):
    if result.truncated:
        return ui.notice(
            f"Too large to draw in full: showing the {len(result.nodes)} nodes nearest the start "
            f"(limit {max_nodes}). Lower the depth, pick node kinds, or expand nodes one at a time.",
            "warn", id="lin-truncated")
    return ui.notice(f"{len(result.nodes)} nodes, {len(result.edges)} edges.", "info", id="lin-summary")


def _controls(query):
    return html.Div([
        html.Div([
            html.Label("Find a node (name, URI or id)", htmlFor="lin-search"),
            html.Div([
                dcc.Input(id="lin-search", type="search", debounce=True, placeholder="e.g. churn, s3://bucket/train.csv, 42",
                          value=query.get("q", "")),
                html.Button("Search", id="lin-search-go", n_clicks=0),
            ], className="row"),
            html.Div(id="lin-search-results"),
        ], className="control-block"),
        html.Div([
            html.Label("Direction"),
            dcc.RadioItems(id="lin-direction", options=[{"label": d, "value": d} for d in ("upstream", "downstream", "both")],
                           value=query.get("direction", "both"), inline=True),
            html.Label("Depth", htmlFor="lin-depth"),
            dcc.Input(id="lin-depth", type="number", min=0, max=50, step=1, value=query.get("depth", lv.DEFAULT_DEPTH)),
            html.Label("As of (UTC)", htmlFor="lin-asof"),
            dcc.Input(id="lin-asof", type="text", placeholder="now, or 2026-01-31T12:00", value=query.get("as_of", "")),
            html.Label("Node kinds", htmlFor="lin-kinds"),
            dcc.Dropdown(id="lin-kinds", options=[{"label": k, "value": k} for k in NodeKind.values], multi=True,
                         placeholder="all kinds", value=[]),
            html.Label("Max nodes", htmlFor="lin-max"),
            dcc.Input(id="lin-max", type="number", min=1, max=lv.MAX_DRAWN_NODES, step=1,
                      value=query.get("max", lv.DEFAULT_MAX_NODES)),
            html.Button("Redraw", id="lin-apply", n_clicks=0),
        ], className="control-block controls-grid"),
    ], className="controls")


def _initial_graph(query):
    """(elements, notice, start) for the node named in the URL, drawn with the URL's settings."""
    if not query.get("node"):
        return [], ui.notice("Search for a node to draw its lineage.", "info", id="lin-summary"), None
    try:
        start = lv.parse_node_id(query["node"])
        direction = lv.parse_direction(query.get("direction"))
        depth = lv.parse_int(query.get("depth"), "Depth", 0, 50, lv.DEFAULT_DEPTH)
        as_of = lv.parse_as_of(query.get("as_of"))
        max_nodes = lv.parse_int(query.get("max"), "Max nodes", 1, lv.MAX_DRAWN_NODES, lv.DEFAULT_MAX_NODES)
    except lv.BadInput as exc:
        return [], _refusal(exc), None
    result = lv.subgraph(start, direction=direction, depth=depth, as_of=as_of, max_nodes=max_nodes)
    return graph_style.elements_for(result, [start]), _truncation_notice(result, max_nodes), start


def layout(user, query):
    elements, notice, start = _initial_graph(query)
    start_node = Node.objects.filter(pk=start).first() if start else None
    heading = (html.P(["Centred on ", html.Strong(f"{start_node.kind} {start_node.display_name or start_node.name}"),
                       f" (id {start_node.pk}, {start_node.source})"], id="lin-start-label")
               if start_node else html.P("No node selected.", id="lin-start-label"))
    return ui.page(
        TITLE,
        _controls(query),
        heading,
        dcc.Store(id="lin-start", data=start),
        html.Div(notice, id="lin-notice"),
        html.Div([
            html.Div([
                cyto.Cytoscape(
                    id="lin-graph", elements=elements, layout={"name": "preset", "fit": True, "padding": 30},
                    stylesheet=graph_style.stylesheet(), style={"width": "100%", "height": "600px"},
                    minZoom=0.05, maxZoom=1.6, boxSelectionEnabled=False,
                ),
                graph_style.legend(),
            ], className="graph-pane"),
            html.Aside([html.H3("Node"), html.Div("Click a node to see its details.", id="lin-details")],
                       className="details-pane"),
        ], className="explorer"),
        ui.card("Path between two nodes", html.Div([
            dcc.Input(id="lin-path-from", type="text", placeholder="from node id"),
            dcc.Input(id="lin-path-to", type="text", placeholder="to node id"),
            html.Button("Show path", id="lin-path-go", n_clicks=0),
        ], className="row"), html.Div(id="lin-path-notice")),
    )


def details(node: Node):
    link = lv.source_link(node)
    raw = node.raw
    raw_block = html.P("No raw payload stored for this node (it was named by an edge before any fact described it).")
    if raw is not None:
        raw_text = ui.json_block(raw.body, id="lin-raw")
        if len(raw_text.children) > lv.RAW_DISPLAY_LIMIT:
            raw_text = html.Div([ui.notice(f"Payload is {len(raw_text.children)} characters; showing the first "
                                           f"{lv.RAW_DISPLAY_LIMIT}.", "warn"),
                                 html.Pre(raw_text.children[: lv.RAW_DISPLAY_LIMIT], className="json", id="lin-raw")])
        raw_block = html.Details([html.Summary(f"Raw payload: {raw.kind} from {raw.source}, received {ui.when(raw.received_at)}"),
                                  raw_text], open=False)
    rows = [
        ("id", node.pk), ("kind", node.kind), ("source", node.source), ("name", node.name),
        ("display name", node.display_name or "—"), ("URI", lv.uri_of(node)), ("source id", node.source_id),
        ("first seen", ui.when(node.first_seen)), ("last seen", ui.when(node.last_seen)),
        ("archived", ui.when(node.archived_at) if node.archived_at else "no"),
    ]
    actions = [
        html.Button("Expand here", id="lin-expand", n_clicks=0),
        html.Button("Path from here", id="lin-set-from", n_clicks=0),
        html.Button("Path to here", id="lin-set-to", n_clicks=0),
        dcc.Link("Centre lineage here", href=urlpaths.lineage(node.pk), className="button-link"),
    ]
    if node.kind == NodeKind.MODEL_VERSION:
        actions.append(dcc.Link("Model version page", href=urlpaths.model_version(node.pk), className="button-link",
                                id="lin-model-link"))
    return html.Div([
        html.Table(html.Tbody([html.Tr([html.Th(k), html.Td(str(v))]) for k, v in rows]), className="kv",
                   id="lin-node-table"),
        html.P(html.A("Open in source system", href=link, target="_blank", rel="noopener noreferrer", id="lin-source-link"))
        if link else html.P("No link into the source system is known for this node.", className="muted"),
        html.Div(actions, className="actions"),
        html.Details([html.Summary("Properties"), ui.json_block(node.properties)], open=True),
        raw_block,
    ], **{"data-node": str(node.pk)})


def register(app):
    @app.callback(
        Output("lin-search-results", "children"),
        Input("lin-search-go", "n_clicks"), Input("lin-search", "n_submit"),
        State("lin-search", "value"),
        prevent_initial_call=True,
    )
    def do_search(_clicks, _submit, text):
        try:
            auth.require_page(PAGE)
        except auth.PermissionRefused as exc:
            return _refusal(exc)
        found = lv.search(text or "")
        if not found:
            return ui.notice(f"No node matches {text!r}." if text else "Type something to search for.", "warn")
        return html.Ul([
            html.Li(dcc.Link(f"{n.kind} · {n.display_name or n.name} · {n.source} · id {n.pk}",
                             href=urlpaths.lineage(n.pk), id={"type": "lin-hit", "id": n.pk}))
            for n in found
        ], className="search-hits", id="lin-hits")

    @app.callback(
        Output("lin-graph", "elements"), Output("lin-notice", "children"),
        Input("lin-apply", "n_clicks"), Input("lin-direction", "value"), Input("lin-depth", "value"),
        Input("lin-kinds", "value"), Input("lin-max", "value"), Input("lin-asof", "n_submit"),
        State("lin-asof", "value"), State("lin-start", "data"),
        prevent_initial_call=True,
    )
    def redraw(_clicks, direction, depth, kinds, max_nodes, _submit, as_of, start):
        try:
            auth.require_page(PAGE)
        except auth.PermissionRefused as exc:
            return [], _refusal(exc)
        if start is None:
            return no_update, ui.notice("Search for a node first.", "warn")
        try:
            direction = lv.parse_direction(direction)
            depth = lv.parse_int(depth, "Depth", 0, 50, lv.DEFAULT_DEPTH)
            as_of_dt = lv.parse_as_of(as_of)
            kinds = lv.parse_kinds(kinds)
            max_nodes = lv.parse_int(max_nodes, "Max nodes", 1, lv.MAX_DRAWN_NODES, lv.DEFAULT_MAX_NODES)
        except lv.BadInput as exc:
            return no_update, _refusal(exc)
        result = lv.subgraph(int(start), direction=direction, depth=depth, as_of=as_of_dt, node_kinds=kinds,
                             max_nodes=max_nodes)
        return graph_style.elements_for(result, [int(start)]), _truncation_notice(result, max_nodes)

    @app.callback(Output("lin-details", "children"), Input("lin-graph", "tapNodeData"), prevent_initial_call=True)
    def show_details(data):
        try:
            auth.require_page(PAGE)
        except auth.PermissionRefused as exc:
            return _refusal(exc)
        if not data:
            return no_update
        node = Node.objects.select_related("raw").filter(pk=int(data["id"])).first()
        if node is None:
            return ui.notice("That node no longer exists.", "warn")
        return details(node)

    @app.callback(
        Output("lin-graph", "elements", allow_duplicate=True), Output("lin-notice", "children", allow_duplicate=True),
        Input("lin-expand", "n_clicks"),
        State("lin-graph", "tapNodeData"), State("lin-graph", "elements"), State("lin-asof", "value"),
        prevent_initial_call=True,
    )
    def expand(n_clicks, data, elements, as_of):
        if not n_clicks or not data:
            return no_update, no_update
        try:
            auth.require_page(PAGE)
            as_of_dt = lv.parse_as_of(as_of)
        except (auth.PermissionRefused, lv.BadInput) as exc:
            return no_update, _refusal(exc)
        merged, added, truncated = lv.expand(int(data["id"]), elements or [], as_of=as_of_dt)
        text = f"Expanded {data.get('label')}: {added} new neighbour(s)."
        if truncated:
            text += " It has more neighbours than can be drawn; only the nearest were added."
        return merged, ui.notice(text, "warn" if truncated else "info", id="lin-expanded")

    @app.callback(Output("lin-path-from", "value"), Input("lin-set-from", "n_clicks"), State("lin-graph", "tapNodeData"),
                  prevent_initial_call=True)
    def set_from(n_clicks, data):
        return data["id"] if n_clicks and data else no_update

    @app.callback(Output("lin-path-to", "value"), Input("lin-set-to", "n_clicks"), State("lin-graph", "tapNodeData"),
                  prevent_initial_call=True)
    def set_to(n_clicks, data):
        return data["id"] if n_clicks and data else no_update

    @app.callback(
        Output("lin-graph", "elements", allow_duplicate=True), Output("lin-path-notice", "children"),
        Input("lin-path-go", "n_clicks"),
        State("lin-path-from", "value"), State("lin-path-to", "value"), State("lin-asof", "value"),
        prevent_initial_call=True,
    )
    def show_path(_clicks, from_value, to_value, as_of):
        try:
            auth.require_page(PAGE)
            a = lv.parse_node_id(from_value, "From")
            b = lv.parse_node_id(to_value, "To")
            as_of_dt = lv.parse_as_of(as_of)
        except (auth.PermissionRefused, lv.BadInput) as exc:
            return no_update, _refusal(exc)
        result, up, down = lv.path_between(a, b, as_of=as_of_dt)
        if result is None:
            return no_update, ui.notice(f"No directed path connects node {a} and node {b} "
                                        f"(in either direction{', as of ' + as_of if as_of else ''}).", "warn",
                                        id="lin-no-path")
        elements = graph_style.elements_for(result, [up, down])
        for element in elements:
            if "target" not in element["data"]:
                element["classes"] += " path"
        return elements, ui.notice(f"Path from node {up} (upstream) to node {down}: {len(result.nodes)} nodes on it.",
                                   "ok", id="lin-path-found")
