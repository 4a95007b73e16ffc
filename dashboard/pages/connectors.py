"""Connectors: configured sources, their harvest history, and "harvest now" for admins.

Harvesting is a write (it changes the lineage store and the audit trail), so the button is shown only
to admins and its callback checks the admin role again on the server before anything runs."""
from __future__ import annotations

from dash import Input, Output, State, dcc, html, no_update

from connectors.models import ConnectorConfig, Harvest
from dashboard import auth, components as ui
from connectors import rules as connectors_rules

PAGE = "connectors"
TITLE = "Connectors"
HISTORY = 50
HISTORY_COLUMNS = ["#", "connector", "kind", "source", "status", "started", "finished", "pages", "counts", "by",
                   "skipped (partial)", "error"]


def _counts_text(counts: dict) -> str:
    if not counts:
        return "—"
    read = counts.get("read") or {}
    parts = [f"{k.replace('_', ' ')} {v}" for k, v in counts.items() if k not in ("read", "partitions", "after") and v]
    if read:
        parts.append("read: " + ", ".join(f"{k} {v}" for k, v in read.items()))
    return "; ".join(parts) or "no changes"


def history_rows(connector: str | None = None):
    qs = Harvest.objects.select_related("connector")
    if connector:
        qs = qs.filter(connector__name=connector)
    return [
        [h.pk, h.connector.name if h.connector else "(ad hoc)", h.kind, h.source_key, h.status, ui.when(h.started_at),
         ui.when(h.finished_at), h.pages, _counts_text(h.counts), h.actor, _warnings_cell(h),
         html.Span(h.error, className="error-text") if h.error else ""]
        for h in qs[:HISTORY]
    ]


def harvest_now(user, name: str):
    """Start one harvest of a configured connector for `user` through the harvest service, exactly as the
    API does: the connector's lock, its partitions, the broker when one is configured (then the harvest is
    queued and a `Started` with `queued=True` comes back), `harvester:<kind>` on the user's behalf, and the
    after-harvest hooks. Returns the service's `Started`."""
    from connectors import service
    from common.audit import context

    config = ConnectorConfig.objects.filter(name=name).first()
    if config is None:
        raise ValueError(f"There is no connector named {name!r}.")
    if not config.enabled:
        raise ValueError(f"Connector {name!r} is disabled; enable it before harvesting.")
    try:
        return service.start_harvest(config, requester=user.username, ctx=context.snapshot())
    except service.HarvestRefused as exc:
        raise ValueError(exc.detail) from None


def _warnings_cell(h: Harvest):
    if not h.warnings:
        return ""
    shown = "; ".join(f"{w.get('object')}: {w.get('reason')}" for w in h.warnings[:3])
    more = int(h.counts.get("warnings") or len(h.warnings)) - min(3, len(h.warnings))
    return html.Span(shown + (f" (+{more} more)" if more > 0 else ""), className="warn-text")


def layout(user, query):
    # The configured sources (hosts, user names, options) are what GET /api/connectors/ shows to admins
    # only: the page shows them to the same role, and no one else's page even reads them.
    if not connectors_rules.RULES.allows(user, "configure"):
        return ui.page(
            TITLE,
            ui.card("Configured sources", ui.notice("Connector settings are shown to admins only.", "info",
                                                    id="conn-configs-denied"),
                    ui.notice("Only admins can start a harvest.", "info", id="conn-harvest-denied")),
            ui.card(f"Harvest history (latest {HISTORY})", html.Div(ui.table(
                ["#", "connector", "kind", "source", "status", "started", "finished", "pages", "counts", "by", "error"],
                history_rows(), empty="No harvest has run yet."), id="conn-history")),
        )
    configs = list(ConnectorConfig.objects.order_by("name"))
    config_rows = [[c.name, c.kind, "yes" if c.enabled else "no", "yes" if c.write_back_enabled else "no",
                    ui.json_block(c.settings)] for c in configs]
    admin_panel = (
        html.Div([
            dcc.Dropdown(id="conn-pick", options=[{"label": c.name, "value": c.name} for c in configs if c.enabled],
                         placeholder="connector", style={"minWidth": "16rem"}),
            html.Button("Harvest now", id="conn-harvest", n_clicks=0, className="primary"),
        ], className="row")
        if connectors_rules.RULES.allows(user, "harvest")
        else ui.notice("Only admins can start a harvest.", "info", id="conn-harvest-denied")
    )
    return ui.page(
        TITLE,
        ui.card("Configured sources", ui.table(["name", "kind", "enabled", "write-back", "settings"], config_rows,
                                               id="conn-configs", empty="No connector configured yet."),
                admin_panel, html.Div(id="conn-result")),
        ui.card(f"Harvest history (latest {HISTORY})", html.Div(ui.table(
            HISTORY_COLUMNS,
            history_rows(), empty="No harvest has run yet."), id="conn-history")),
    )


def register(app):
    @app.callback(
        Output("conn-result", "children"), Output("conn-history", "children"),
        Input("conn-harvest", "n_clicks"), State("conn-pick", "value"),
        prevent_initial_call=True,
    )
    @auth.guarded(rule=(connectors_rules.RULES, "harvest"),
                  refused=lambda message: (ui.refused(message, id="conn-refused"), no_update),
                  governed=lambda _n, name: ("connector", "harvest", name),
                  idle=lambda n_clicks, _name: (no_update, no_update) if not n_clicks else None)
    def harvest(user, n_clicks, name):
        if not name:
            return ui.notice("Pick a connector first.", "warn"), no_update
        try:
            outcome = harvest_now(user, name)
        except Exception as exc:  # the harvest record and audit entry already say it failed; show why
            message = ui.refused(f"Harvest of {name} failed: {type(exc).__name__}: {exc}", id="conn-failed")
        else:
            done = outcome.harvest
            if outcome.queued:
                message = ui.notice(f"Harvest #{done.pk} of {name} queued for the workers.", "ok", id="conn-done")
            else:
                message = ui.notice(f"Harvest #{done.pk} of {name} {done.status}: {_counts_text(done.counts)}",
                                    "warn" if done.warnings else "ok", id="conn-done")
        return message, ui.table(
            HISTORY_COLUMNS,
            history_rows(), empty="No harvest has run yet.")
