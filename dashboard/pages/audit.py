"""Audit log: filter the trail, check the chain, export it.

Filtering uses the audit API's own FilterSet (same names, same validation), verification calls the
audit app's verify_chain, and export links to the audit API, which records each export in the trail.
Only auditors and admins may open this page or run its callbacks (the API's AuditorsRead)."""
from __future__ import annotations

from dash import Input, Output, State, dcc, html, no_update

from dashboard import auth, components as ui

PAGE = "audit"
TITLE = "Audit log"
LIMIT = 200
FILTERS = [("actor", "actor (username)"), ("action_prefix", "action starts with"), ("object_type", "object type"),
           ("object_id", "object id"), ("since", "since (ISO time)"), ("until", "until (ISO time)")]


def entries(params: dict):
    """(rows, total, errors) for the filters in `params`."""
    from governance.audit.filtersets import AuditEntryFilterSet
    from governance.audit.models import AuditEntry

    data = {k: v.strip() for k, v in params.items() if isinstance(v, str) and v.strip()}
    filterset = AuditEntryFilterSet(data=data, queryset=AuditEntry.objects.all())
    if not filterset.is_valid():
        errors = "; ".join(f"{name}: {' '.join(map(str, errs))}" for name, errs in filterset.errors.items())
        return [], 0, errors
    qs = filterset.qs.order_by("-seq")
    total = qs.count()
    rows = [[e.seq, ui.when(e.at), e.actor_username, e.action, f"{e.object_type}:{e.object_id}", e.reason or "",
             html.Code(e.request_id[:12]), html.Code(e.hash[:12] + "…", title=e.hash)]
            for e in qs[:LIMIT]]
    return rows, total, ""


def results(params: dict):
    rows, total, errors = entries(params)
    if errors:
        return ui.refused(f"Bad filter: {errors}", id="audit-bad-filter")
    shown = f"{total} matching entries" + (f", newest {LIMIT} shown" if total > LIMIT else "")
    return html.Div([
        html.P(shown, id="audit-count"),
        ui.table(["seq", "at", "actor", "action", "object", "reason", "request", "hash"], rows, id="audit-table",
                 empty="No entry matches."),
    ])


def verification():
    from governance.audit.verify import verify_chain

    result = verify_chain()
    lines = result.summary().split("\n")
    return ui.notice([html.Div(line) for line in lines], "ok" if result.ok else "error",
                     id="audit-chain-ok" if result.ok else "audit-chain-broken")


def layout(user, query):
    inputs = [html.Div([html.Label(label, htmlFor=f"audit-{name}"),
                        dcc.Input(id=f"audit-{name}", type="text", value=query.get(name, ""), debounce=True)])
              for name, label in FILTERS]
    return ui.page(
        TITLE,
        ui.card("Chain verification", html.P("Walks the whole chain and checks every hash and signed checkpoint."),
                html.Button("Verify the chain now", id="audit-verify", n_clicks=0),
                dcc.Loading(html.Div(id="audit-verify-result"))),
        ui.card("Export", html.P([
            "Exports include hashes and signed checkpoints and can be checked offline; each export is itself "
            "recorded in the trail. ",
            html.A("JSON Lines", href="/api/audit/export/?format=jsonl", id="audit-export-jsonl"), " · ",
            html.A("CSV", href="/api/audit/export/?format=csv", id="audit-export-csv"),
        ])),
        ui.card("Entries", html.Div(inputs, className="filters-grid"),
                html.Button("Filter", id="audit-apply", n_clicks=0),
                html.Div(results({name: query.get(name, "") for name, _ in FILTERS}), id="audit-results")),
    )


def register(app):
    @app.callback(
        Output("audit-results", "children"),
        Input("audit-apply", "n_clicks"), *[Input(f"audit-{name}", "n_submit") for name, _ in FILTERS],
        *[State(f"audit-{name}", "value") for name, _ in FILTERS],
        prevent_initial_call=True,
    )
    @auth.guarded(page=PAGE, refused=lambda message: ui.refused(message, id="audit-refused"))
    def filter_entries(_user, _clicks, *args):
        values = args[len(FILTERS):]
        return results({name: value or "" for (name, _), value in zip(FILTERS, values)})

    @app.callback(Output("audit-verify-result", "children"), Input("audit-verify", "n_clicks"),
                  prevent_initial_call=True)
    @auth.guarded(page=PAGE, refused=lambda message: ui.refused(message, id="audit-refused"),
                  idle=lambda n_clicks: no_update if not n_clicks else None)
    def verify(_user, n_clicks):
        return verification()
