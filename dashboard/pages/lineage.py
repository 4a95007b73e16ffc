"""Lineage explorer: find a node, draw its lineage readably, inspect and expand nodes, find a path.

The explorer's state (node, direction, depth, as-of, kinds, folds, max nodes) lives in the URL: every
control writes the URL and the page is drawn from it, so a view can be shared or reloaded and a
re-centre keeps the other settings. The drawing is part of the page layout (no extra round trip before
the graph appears). All reading, so every callback needs only a role that may open the page, re-checked
on each call."""
from __future__ import annotations

from urllib.parse import parse_qs

import dash_cytoscape as cyto
from dash import Input, Output, State, dcc, html, no_update

from dashboard import auth, components as ui, graph_style, urlpaths
from dashboard import lineage_view as lv
from lineage.kinds import NodeKind
from lineage.models import Node

PAGE = "lineage"
TITLE = "Lineage explorer"
TABLE_ROWS = 500
FOLD_OPTIONS = [{"label": "Fold runs into their jobs", "value": "runs"},
                {"label": "Fold dataset versions into datasets", "value": "versions"}]


def _refusal(exc) -> html.Div:
    return ui.refused(str(exc))


def _query(search: str | None) -> dict:
    return {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}


def _state_or_default(search) -> lv.ViewState:
    try:
        return lv.ViewState.from_query(_query(search))
    except lv.BadInput:
        return lv.ViewState()


def _summary(view: lv.View, state: lv.ViewState):
    if view.truncated:
        return ui.notice(
            f"Too large to draw in full: showing the {len(view.nodes)} nodes nearest the start "
            f"(limit {state.max_nodes}). Lower the depth, pick node kinds, fold runs, or expand nodes one at a time.",
            "warn", id="lin-truncated")
    return ui.notice(f"{len(view.nodes)} nodes, {len(view.links)} edges.", "info", id="lin-summary")


def _controls(state: lv.ViewState, query: dict):
    return html.Div([
        html.Div([
            html.Div([html.Label("Find a node (name, URI or id)", htmlFor="lin-search"),
                      html.Div([dcc.Input(id="lin-search", type="search", debounce=True,
                                          placeholder="e.g. churn, s3://bucket/train.csv, 42", value=query.get("q", "")),
                                html.Button("Search", id="lin-search-go", n_clicks=0)], className="row tight")],
                     className="search-block"),
            html.Fieldset([html.Legend("Direction"),
                           dcc.RadioItems(id="lin-direction", value=state.direction, inline=True,
                                          options=[{"label": d, "value": d} for d in ("upstream", "downstream", "both")])],
                          className="fieldset"),
            html.Div([html.Label("Depth", htmlFor="lin-depth"),
                      dcc.Input(id="lin-depth", type="number", min=0, max=50, step=1, value=state.depth, debounce=True,
                                className="narrow")]),
            html.Div([html.Label("As of (UTC)", htmlFor="lin-asof"),
                      dcc.Input(id="lin-asof", type="text", placeholder="2026-01-31T12:00", value=state.as_of,
                                debounce=True, className="asof")]),
            html.Div([html.Label("Max nodes", htmlFor="lin-max"),
                      dcc.Input(id="lin-max", type="number", min=1, max=lv.MAX_DRAWN_NODES, step=1, value=state.max_nodes,
                                debounce=True, className="narrow")]),
        ], className="controls-row"),
        html.Div([
            html.Div([html.Label("Node kinds", htmlFor="lin-kinds"),
                      dcc.Dropdown(id="lin-kinds", options=[{"label": k.replace("_", " "), "value": k} for k in NodeKind.values],
                                   multi=True, placeholder="all kinds", value=list(state.kinds), className="kinds")]),
            html.Fieldset([html.Legend("Fold"),
                           dcc.Checklist(id="lin-fold", options=FOLD_OPTIONS, value=list(state.fold), inline=True)],
                          className="fieldset"),
            html.Button("Redraw", id="lin-apply", n_clicks=0),
        ], className="controls-row"),
        html.Div(id="lin-search-results"),
    ], className="controls")


def _cell(text) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("[", "\\[").replace("]", "\\]")


def table_view(view: lv.View, state: lv.ViewState):
    """The drawn graph as a table: every node with what feeds it and what it feeds, each name a link that
    re-centres the explorer, and a picker that opens a node's details from the keyboard. Drawn on request
    and as one Markdown table: a few thousand Dash components (one per cell) cost the browser seconds."""
    labels = {int(e["data"]["id"]): e["data"].get("full") or _plain(e["data"]["label"])
              for e in view.elements if "target" not in e["data"]}
    ups: dict[int, list[str]] = {}
    downs: dict[int, list[str]] = {}
    for a, b, kind in view.links:
        downs.setdefault(a, []).append(f"{labels.get(b, b)} ({kind})")
        ups.setdefault(b, []).append(f"{labels.get(a, a)} ({kind})")
    shown = view.nodes[:TABLE_ROWS]
    lines = ["| node | kind | source | upstream (fed by) | downstream (feeds) |", "|---|---|---|---|---|"]
    for n in shown:
        lines.append(f"| [{_cell(labels.get(n.pk, n.name))}]({state.url(node=n.pk)}) | {n.kind.replace('_', ' ')} | "
                     f"{n.source} | {_cell('; '.join(ups.get(n.pk, [])) or '—')} | "
                     f"{_cell('; '.join(downs.get(n.pk, [])) or '—')} |")
    more = (html.P(f"Showing the first {TABLE_ROWS} of {len(view.nodes)} nodes.", className="muted")
            if len(view.nodes) > TABLE_ROWS else None)
    return html.Div([
        html.H2(f"Table view: {len(view.nodes)} nodes, {len(view.links)} edges"),
        html.Div([html.Label("Show the details of", htmlFor="lin-table-pick"),
                  dcc.Dropdown(id="lin-table-pick", options=[{"label": f"{labels.get(n.pk, n.name)} ({n.kind})", "value": n.pk}
                                                             for n in shown], placeholder="a node of this graph",
                               className="wide-pick")], className="row"),
        dcc.Markdown("\n".join(lines), id="lin-table", className="table-wrap md-table", link_target="_self"),
        more,
    ])


def _plain(label: str) -> str:
    return label.replace("\n", " · ")


def _draw(state: lv.ViewState):
    """(elements, notice, heading) for the state's node."""
    if state.node is None:
        return ([], ui.notice("Search for a node to draw its lineage.", "info", id="lin-summary"),
                html.P("No node selected.", id="lin-start-label"))
    view = lv.view(state)
    start = Node.objects.filter(pk=state.node).first()
    heading = html.P(["Centred on ", html.Strong(f"{start.kind.replace('_', ' ')} {start.display_name or start.name}"),
                      f" (id {start.pk}, {start.source})",
                      f"; folded into {view.start}" if view.start not in (None, start.pk) else ""],
                     id="lin-start-label")
    return view.elements, _summary(view, state), heading


def _as_of_banner(state: lv.ViewState):
    if not state.as_of:
        return None
    when = state.as_of_time
    return ui.notice([html.Strong("Historical view: "),
                      f"the lineage as it was at {ui.when(when)}; later changes are not shown. ",
                      dcc.Link("Show the current graph", href=state.url(as_of=""), id="lin-now-link")],
                     "warn", id="lin-asof-banner")


def layout(user, query):
    try:
        state = lv.ViewState.from_query(query)
        bad = None
    except lv.BadInput as exc:
        state, bad = lv.ViewState(), exc
    elements, notice, heading = _draw(state)
    if bad is not None:
        notice = _refusal(bad)
    return ui.page(
        TITLE,
        _controls(state, query),
        _as_of_banner(state),
        html.Div([heading, dcc.Loading(html.Div(notice, id="lin-notice"), type="dot", delay_show=300)],
                 className="status-line"),
        html.Div([
            html.Div([
                html.Div([
                    html.Button("Fit", id="lin-fit", n_clicks=0, title="Fit the whole graph in view"),
                    html.Button("Zoom in", id="lin-zoom-in", n_clicks=0, **{"aria-label": "Zoom in"}),
                    html.Button("Zoom out", id="lin-zoom-out", n_clicks=0, **{"aria-label": "Zoom out"}),
                    html.Span("Clicking a node:", className="muted", id="lin-click-label"),
                    dcc.RadioItems(id="lin-click", value="details", inline=True, options=[
                        {"label": "shows its details", "value": "details"},
                        {"label": "sets “path from”", "value": "from"},
                        {"label": "sets “path to”", "value": "to"}]),
                ], className="graph-toolbar", role="toolbar", **{"aria-label": "Graph view"}),
                html.Div(id="lin-hover", className="hover-card", role="status", **{"aria-live": "polite"}),
                cyto.Cytoscape(
                    id="lin-graph", elements=elements, layout={"name": "preset", "fit": True, "padding": 24},
                    stylesheet=graph_style.stylesheet(), style={"width": "100%", "height": "440px"},
                    minZoom=0.05, maxZoom=1.6, boxSelectionEnabled=False,
                ),
                graph_style.legend(),
                dcc.Store(id="lin-zoom-sink"),
            ], className="graph-pane"),
            html.Aside([html.H2("Node"), html.Div("Click a node (or a row of the table view) to see its details.",
                                                  id="lin-details")],
                       className="details-pane", **{"aria-label": "Node details"}),
        ], className="explorer"),
        ui.card("Table view", html.Button("Show this graph as a table", id="lin-table-show", n_clicks=0,
                                          disabled=state.node is None),
                dcc.Loading(html.Div(id="lin-table-view"), type="dot", delay_show=300)),
        ui.card("Path between two nodes", html.Div([
            html.Label("From node id", htmlFor="lin-path-from"),
            dcc.Input(id="lin-path-from", type="text", placeholder="click a node or type an id"),
            html.Label("To node id", htmlFor="lin-path-to"),
            dcc.Input(id="lin-path-to", type="text", placeholder="click a node or type an id"),
            html.Button("Show path", id="lin-path-go", n_clicks=0),
        ], className="row"), dcc.Loading(html.Div(id="lin-path-notice"), type="dot", delay_show=300)),
    )


def details(node: Node, state: lv.ViewState | None = None):
    state = state or lv.ViewState()
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
        dcc.Link("Centre lineage here", href=state.url(node=node.pk), className="button-link", id="lin-centre"),
    ]
    if node.kind == NodeKind.MODEL_VERSION:
        actions.append(dcc.Link("Model version page", href=urlpaths.model_version(node.pk), className="button-link",
                                id="lin-model-link"))
    return html.Div([
        html.Table(html.Tbody([html.Tr([html.Th(k, scope="row"), html.Td(str(v))]) for k, v in rows]), className="kv",
                   id="lin-node-table"),
        html.P(html.A("Open in source system", href=link, target="_blank", rel="noopener noreferrer", id="lin-source-link"))
        if link else html.P("No link into the source system is known for this node.", className="muted"),
        html.Div(actions, className="actions"),
        html.Details([html.Summary("Properties"), ui.json_block(node.properties)], open=False),
        raw_block,
    ], **{"data-node": str(node.pk)})


def register(app):
    @app.callback(
        Output("lin-search-results", "children"),
        Input("lin-search-go", "n_clicks"), Input("lin-search", "n_submit"),
        State("lin-search", "value"), State("url", "search"),
        prevent_initial_call=True,
    )
    @auth.guarded(page=PAGE, refused=_refusal)
    def do_search(_user, _clicks, _submit, text, search):
        found = lv.search(text or "")
        if not found:
            return ui.notice(f"No node matches {text!r}." if text else "Type something to search for.", "warn")
        state = _state_or_default(search)
        # Each hit draws its lineage with the current settings, or straight away upstream or downstream.
        return html.Ul([
            html.Li([dcc.Link(f"{n.kind} · {n.display_name or n.name} · {n.source} · id {n.pk}",
                              href=state.url(node=n.pk), id={"type": "lin-hit", "id": n.pk}),
                     " — ",
                     dcc.Link("upstream", href=state.url(node=n.pk, direction="upstream"),
                              id={"type": "lin-hit-up", "id": n.pk}, className="hit-dir"),
                     " · ",
                     dcc.Link("downstream", href=state.url(node=n.pk, direction="downstream"),
                              id={"type": "lin-hit-down", "id": n.pk}, className="hit-dir")])
            for n in found
        ], className="search-hits", id="lin-hits")

    @app.callback(
        Output("url", "search", allow_duplicate=True), Output("lin-notice", "children", allow_duplicate=True),
        Input("lin-apply", "n_clicks"), Input("lin-direction", "value"), Input("lin-depth", "value"),
        Input("lin-kinds", "value"), Input("lin-fold", "value"), Input("lin-max", "value"), Input("lin-asof", "value"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    @auth.guarded(page=PAGE, refused=lambda message: (no_update, _refusal(message)))
    def write_state(_user, _clicks, direction, depth, kinds, fold, max_nodes, as_of, search):
        """Controls -> URL; the page is then drawn from the URL (dashboard.app routes on it)."""
        try:
            current = _query(search)
            state = lv.ViewState.parse(node=current.get("node"), direction=direction, depth=depth, as_of=as_of,
                                       kinds=kinds, fold=fold, max_nodes=max_nodes)
        except lv.BadInput as exc:
            return no_update, _refusal(exc)
        target = state.url()
        new_search = target[target.index("?"):] if "?" in target else ""
        if new_search == (search or ""):
            return no_update, no_update
        return new_search, no_update

    @app.callback(
        Output("lin-details", "children"),
        Input("lin-graph", "tapNodeData"), State("lin-click", "value"), State("url", "search"),
        prevent_initial_call=True,
    )
    def show_details(data, mode, search):
        if not data or mode in ("from", "to"):
            return no_update
        return _details_of(data["id"], search)

    @app.callback(Output("lin-table-view", "children"), Input("lin-table-show", "n_clicks"), State("url", "search"),
                  prevent_initial_call=True)
    @auth.guarded(page=PAGE, refused=_refusal, idle=lambda n_clicks, _search: no_update if not n_clicks else None)
    def show_table(_user, n_clicks, search):
        try:
            state = lv.ViewState.from_query(_query(search))
        except lv.BadInput as exc:
            return _refusal(exc)
        if state.node is None:
            return ui.notice("Search for a node first.", "warn")
        return table_view(lv.view(state), state)

    @app.callback(
        Output("lin-details", "children", allow_duplicate=True),
        Input("lin-table-pick", "value"), State("url", "search"),
        prevent_initial_call=True,
    )
    def show_picked(node_id, search):
        """The table view's picker: a node's details from the keyboard."""
        if node_id in (None, ""):
            return no_update
        return _details_of(node_id, search)

    @auth.guarded(page=PAGE, refused=_refusal)
    def _details_of(_user, node_id, search):
        try:
            node_id = int(node_id)
        except (TypeError, ValueError):
            return ui.notice("That is not a node id.", "warn")
        node = Node.objects.select_related("raw").filter(pk=node_id).first()
        if node is None:
            return ui.notice("That node no longer exists.", "warn")
        return details(node, _state_or_default(search))

    @app.callback(
        Output("lin-graph", "elements", allow_duplicate=True), Output("lin-notice", "children", allow_duplicate=True),
        Input("lin-expand", "n_clicks"),
        State("lin-graph", "tapNodeData"), State("lin-graph", "elements"), State("lin-asof", "value"),
        prevent_initial_call=True,
    )
    @auth.guarded(page=PAGE, refused=lambda message: (no_update, _refusal(message)),
                  idle=lambda n_clicks, data, *_: (no_update, no_update) if not n_clicks or not data else None)
    def expand(_user, n_clicks, data, elements, as_of):
        try:
            as_of_dt = lv.parse_as_of(as_of)
        except lv.BadInput as exc:
            return no_update, _refusal(exc)
        merged, added, truncated = lv.expand(int(data["id"]), elements or [], as_of=as_of_dt)
        text = f"Expanded {_plain(data.get('label') or '')}: {added} new neighbour(s)."
        if truncated:
            text += " It has more neighbours than can be drawn; only the nearest were added."
        return merged, ui.notice(text, "warn" if truncated else "info", id="lin-expanded")

    # The details panel's "Path from/to here" buttons exist only once a node is shown, so they have their own
    # callbacks: Dash does not run a callback while one of its inputs is missing from the page.
    def _from_button(which):
        @auth.guarded(page=PAGE, refused=lambda _message: no_update)
        def pick(_user, n_clicks, data):
            return data["id"] if n_clicks and data else no_update
        return pick

    app.callback(Output("lin-path-from", "value"), Input("lin-set-from", "n_clicks"), State("lin-graph", "tapNodeData"),
                 prevent_initial_call=True)(_from_button("from"))
    app.callback(Output("lin-path-to", "value"), Input("lin-set-to", "n_clicks"), State("lin-graph", "tapNodeData"),
                 prevent_initial_call=True)(_from_button("to"))

    @app.callback(
        Output("lin-path-from", "value", allow_duplicate=True), Output("lin-path-to", "value", allow_duplicate=True),
        Input("lin-graph", "tapNodeData"), State("lin-click", "value"),
        prevent_initial_call=True,
    )
    @auth.guarded(page=PAGE, refused=lambda _message: (no_update, no_update))
    def pick_by_click(_user, data, mode):
        """In "path from" / "path to" mode a click on a node fills that end of the path."""
        if not data or mode not in ("from", "to"):
            return no_update, no_update
        return (data["id"], no_update) if mode == "from" else (no_update, data["id"])

    @app.callback(
        Output("lin-graph", "elements", allow_duplicate=True), Output("lin-path-notice", "children"),
        Input("lin-path-go", "n_clicks"),
        State("lin-path-from", "value"), State("lin-path-to", "value"), State("lin-asof", "value"),
        prevent_initial_call=True,
    )
    @auth.guarded(page=PAGE, refused=lambda message: (no_update, _refusal(message)))
    def show_path(_user, _clicks, from_value, to_value, as_of):
        try:
            a = lv.parse_node_id(from_value, "From")
            b = lv.parse_node_id(to_value, "To")
            as_of_dt = lv.parse_as_of(as_of)
        except lv.BadInput as exc:
            return no_update, _refusal(exc)
        result, up, down = lv.path_between(a, b, as_of=as_of_dt)
        if result is None:
            return no_update, ui.notice(f"No directed path connects node {a} and node {b} "
                                        f"(in either direction{', as of ' + as_of if as_of else ''}).", "warn",
                                        id="lin-no-path")
        elements = graph_style.elements_for(result, [up, down], job_names=lv.job_names_for(result.nodes, as_of_dt))
        for element in elements:
            if "target" not in element["data"]:
                element["classes"] += " path"
        return elements, ui.notice(f"Path from node {up} (upstream) to node {down}: {len(result.nodes)} nodes on it.",
                                   "ok", id="lin-path-found")

    # Drawn in the browser from data already on the page: no server round trip, nothing to authorise.
    app.clientside_callback(
        """function(data) {
            if (!data) { return window.dash_clientside.no_update; }
            return data.card || data.label || '';
        }""",
        Output("lin-hover", "children"), Input("lin-graph", "mouseoverNodeData"), prevent_initial_call=True)
    app.clientside_callback(
        """function(fit, zin, zout) {
            const el = [...document.querySelectorAll('#lin-graph, #lin-graph *')].find(e => e._cyreg && e._cyreg.cy);
            if (!el) { return window.dash_clientside.no_update; }
            const cy = el._cyreg.cy;
            const trig = (window.dash_clientside.callback_context.triggered[0] || {}).prop_id || '';
            if (trig.startsWith('lin-fit')) { cy.fit(undefined, 24); }
            else {
                const factor = trig.startsWith('lin-zoom-in') ? 1.25 : 0.8;
                cy.zoom({level: cy.zoom() * factor, renderedPosition: {x: cy.width() / 2, y: cy.height() / 2}});
            }
            return cy.zoom();
        }""",
        Output("lin-zoom-sink", "data"), Input("lin-fit", "n_clicks"), Input("lin-zoom-in", "n_clicks"),
        Input("lin-zoom-out", "n_clicks"), prevent_initial_call=True)
