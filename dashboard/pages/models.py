"""Model registry: every model version from every source, with where governance stands on it.

Search, filters (stage, source, pending approval, has evidence), sorting and paging all run on the server
through the registry filterset the API uses (`GET /api/model-registry/`), one SQL statement per page, so
the page stays as fast at 10,000 versions as at 50. The URL's query (`?stage=production`, `?pending=true`)
sets the first view, which is how the overview's tiles link here.
"""
from __future__ import annotations

from dash import Input, Output, State, ctx, dcc, html, no_update

from dashboard import auth, components as ui, urlpaths

PAGE = "models"
TITLE = "Model registry"
PAGE_SIZE = 25
SORT_OPTIONS = [("name", "name A→Z"), ("-name", "name Z→A"), ("-created", "newest first"), ("created", "oldest first"),
                ("stage", "stage (production first)"), ("-stage", "stage (staging first)"), ("source", "source"),
                ("-decided", "last decision, newest first")]


def _params(q, stage, source, flags, sort) -> dict:
    params = {}
    if q:
        params["q"] = q
    if stage:
        params["stage"] = stage
    if source:
        params["source"] = source
    flags = flags or []
    if "pending" in flags:
        params["pending"] = "true"
    if "evidence" in flags:
        params["has_evidence"] = "true"
    params["sort"] = sort or "name"
    return params


def version_label(r) -> str:
    """What a person calls the version: Viya's "name 2.0"; for a KFP artefact or an OpenLineage model output
    (whose own names are a URI or "name@runId") the model's name and the artefact id or the day it was made."""
    model = r.get("model_name")
    if model and r["kind"] == "dataset_version":
        return f"{model} · {ui.when(r['first_seen'])[:16]}"
    if not model or model in r["label"]:
        return r["label"]
    if r["source"] == "kubeflow":
        return f"{model} · {r['source_id'].rsplit('/', 2)[-2]} {r['source_id'].rsplit('/', 1)[-1]}"
    return f"{model} · {r['label']}"


def _row(r) -> html.Tr:
    """One registry row. Cells carry their own class (badges are styled cells, not extra elements): at 25
    rows the page's cost is largely the number of Dash components it sends."""
    open_request = "—"
    if r.get("open_request"):
        open_request = dcc.Link(f"#{r['open_request']} {r['open_request_state']} → {r['open_request_stage']}",
                                href=urlpaths.approvals(r["open_request"]))
    decision = "—"
    if r.get("last_decision"):
        decision = f"{r['last_decision']} by {r['last_decision_by']}, {ui.when(r['last_decision_at'])}"
    gate = r.get("gate_status")
    return html.Tr([
        html.Td(dcc.Link(version_label(r), href=urlpaths.model_version(r["id"]), id=f"reg-link-{r['id']}")),
        html.Td(r["source"]), html.Td(r.get("producer") or "—"),
        html.Td(r["stage"], className="cell-badge badge-stage") if r.get("stage") else html.Td("none", className="muted"),
        html.Td(open_request), html.Td(decision),
        html.Td({"pass": "pass", "fail": f"{r['gates_failing']} failing"}[gate],
                className=f"cell-badge {'badge-ok' if gate == 'pass' else 'badge-bad'}") if gate else html.Td("—"),
        html.Td("archived", className="cell-badge badge-ok") if r.get("has_evidence")
        else html.Td("none", className="muted"),
    ])


HEADERS = ["model version", "source", "producing pipeline / job", "stage", "open request", "last decision",
           "gates", "evidence"]


def _table(rows):
    if not rows:
        return html.Div(html.P("No model version matches these filters.", className="empty"), id="reg-table")
    return html.Div(html.Table([html.Thead(html.Tr([html.Th(h) for h in HEADERS])), html.Tbody([_row(r) for r in rows])],
                               className="table"), className="table-wrap", id="reg-table")


def results(params: dict, offset: int):
    """The table and the "x–y of n" line for one page (one SQL statement, see governance.provenance.registry)."""
    from rest_framework.exceptions import ValidationError

    from governance.provenance.views import registry_page

    try:
        rows, total = registry_page(params, offset=offset, limit=PAGE_SIZE)
    except ValidationError as exc:
        return ui.refused(f"Bad filter: {exc.detail}", id="reg-bad-filter"), "", 0
    summary = (f"{offset + 1}–{offset + len(rows)} of {total} model versions" if rows
               else f"No model version matches (of {total}).")
    table = _table(rows)
    return table, summary, total


def layout(user, query):
    from governance.approvals.models import Stage

    stages = [{"label": "any stage", "value": ""}, {"label": "never promoted", "value": "none"}] + [
        {"label": s, "value": s} for s in Stage.objects.order_by("order", "name").values_list("name", flat=True)]
    sources = [{"label": "any source", "value": ""}] + [{"label": s, "value": s} for s in
                                                         ("kubeflow", "viya", "openlineage", "manual")]
    flags = [f for f, key in (("pending", "pending"), ("evidence", "has_evidence")) if query.get(key) == "true"]
    sort = query.get("sort") if query.get("sort") in dict(SORT_OPTIONS) else "name"
    params = _params(query.get("q", ""), query.get("stage", ""), query.get("source", ""), flags, sort)
    table, summary, total = results(params, 0)
    return ui.page(
        TITLE,
        html.Div([
            html.Div([html.Label("Search", htmlFor="reg-q"),
                      dcc.Input(id="reg-q", type="search", value=params.get("q", ""), debounce=True,
                                placeholder="name, namespace or source id")], className="field"),
            # Dash's dropdown names its button by its value; each group carries the field's name.
            html.Div([html.Label("Stage", htmlFor="reg-stage", id="reg-stage-label"),
                      dcc.Dropdown(id="reg-stage", options=stages, value=params.get("stage", ""), clearable=False)],
                     className="field", role="group", **{"aria-labelledby": "reg-stage-label"}),
            html.Div([html.Label("Source", htmlFor="reg-source", id="reg-source-label"),
                      dcc.Dropdown(id="reg-source", options=sources, value=params.get("source", ""), clearable=False)],
                     className="field", role="group", **{"aria-labelledby": "reg-source-label"}),
            html.Div([html.Label("Sort by", htmlFor="reg-sort", id="reg-sort-label"),
                      dcc.Dropdown(id="reg-sort", options=[{"label": label, "value": v} for v, label in SORT_OPTIONS],
                                   value=params["sort"], clearable=False)],
                     className="field", role="group", **{"aria-labelledby": "reg-sort-label"}),
            dcc.Checklist(id="reg-flags", value=flags, className="field checks",
                          options=[{"label": " pending approval", "value": "pending"},
                                   {"label": " has evidence", "value": "evidence"}]),
        ], className="registry-filters"),
        html.Div([
            html.Span(summary, id="reg-summary"),
            html.Button("← previous", id="reg-prev", n_clicks=0, disabled=True),
            html.Button("next →", id="reg-next", n_clicks=0, disabled=total <= PAGE_SIZE),
        ], className="row"),
        html.Div(table, id="reg-results"),
        dcc.Store(id="reg-offset", data=0),
        subtitle="Every model version from Kubeflow, SAS Viya and OpenLineage, with its stage and approvals.",
    )


def register(app):
    @app.callback(
        Output("reg-results", "children"), Output("reg-summary", "children"), Output("reg-offset", "data"),
        Output("reg-prev", "disabled"), Output("reg-next", "disabled"),
        Input("reg-q", "value"), Input("reg-stage", "value"), Input("reg-source", "value"),
        Input("reg-flags", "value"), Input("reg-sort", "value"),
        Input("reg-prev", "n_clicks"), Input("reg-next", "n_clicks"),
        State("reg-offset", "data"),
        prevent_initial_call=True,
    )
    @auth.guarded(page=PAGE, refused=lambda message: (ui.refused(message, id="reg-refused"), "", no_update, True, True))
    def refresh(_user, q, stage, source, flags, sort, _prev, _next, offset):
        offset = int(offset or 0)
        if ctx.triggered_id == "reg-next":
            offset += PAGE_SIZE
        elif ctx.triggered_id == "reg-prev":
            offset = max(0, offset - PAGE_SIZE)
        else:
            offset = 0  # a new filter starts from the first page
        table, summary, total = results(_params(q, stage, source, flags, sort), offset)
        return table, summary, offset, offset == 0, offset + PAGE_SIZE >= total
