"""Archive: build evidence bundles and follow their builds, download and verify them, place and lift
legal holds, read the retention policies.

The bundle list is the archive API's own (auditors and admins see all, others their own); verification
runs the archive's verify_bundle, the same code as the offline verifier; downloads link to the audited
archive API. Building a bundle and placing or lifting a hold are for auditors and admins, checked on the
server in every callback, and done through dashboard.evidence_actions (the API's validation and the
archive services, which audit them). With a task broker configured a build is queued: the builds table
then polls until the build is done or failed."""
from __future__ import annotations

from dash import Input, Output, State, dcc, html, no_update
from django.db.models import Q

from dashboard import auth, components as ui, evidence_actions, governance_data, urlpaths
from governance.archive import rules as archive_rules

PAGE = "archive"
TITLE = "Archive"


def holds_table():
    from governance.archive.models import LegalHold

    def subject(h):
        if h.node_id is None:  # the node left the hot store; the hold keeps its natural key
            return f"{getattr(h, 'node_kind', '')} {getattr(h, 'node_source_id', '')} (not in the store)"
        return dcc.Link(f"{h.node.kind} {h.node.display_name or h.node.name}", href=urlpaths.lineage(h.node_id))

    rows = [[h.pk, subject(h),
             "active" if h.active else "released", h.reason, h.placed_by.username if h.placed_by else "—",
             ui.when(h.placed_at), ui.when(h.released_at) if h.released_at else "—", h.release_reason or ""]
            for h in LegalHold.objects.select_related("node", "placed_by").order_by("released_at", "-placed_at")[:200]]
    return ui.table(["#", "node", "status", "reason", "placed by", "placed", "released", "release reason"], rows,
                    id="holds-table", empty="No legal hold.")


def policies_table():
    from governance.archive.models import RetentionPolicy

    rows = [[p.node_kind, f"{p.max_age_days} days", "yes" if p.enabled else "no", p.description, ui.when(p.updated_at)]
            for p in RetentionPolicy.objects.order_by("node_kind")]
    return ui.table(["node kind", "keep for", "enabled", "description", "updated"], rows, id="policies-table",
                    empty="No retention policy: nothing is ever pruned.")


def builds_table(builds):
    """Builds queued for the task workers (a broker is configured): what is still waiting or running, what
    failed and why, and which bundle each finished one made."""
    def outcome(b):
        if b.bundle_id is not None:
            return html.A(f"bundle #{b.bundle_id}", href=governance_data.bundle_download_url(b.bundle),
                          id=f"build-bundle-{b.pk}")
        return b.error or "—"

    rows = [[b.pk, f"{b.subject_kind} {b.subject_source_id}", b.depth, b.state, b.requested_by_username or "—",
             ui.when(b.created_at), ui.when(b.started_at) if b.started_at else "—",
             ui.when(b.finished_at) if b.finished_at else "—", b.attempts, outcome(b)]
            for b in builds]
    return ui.table(["#", "subject", "depth", "state", "requested by", "queued", "started", "finished", "attempts",
                     "bundle or error"], rows, id="builds-table", empty="No bundle build queued for the workers.")


def verification(result: dict, bundle_id: int):
    if result.get("ok"):
        return ui.notice(f"Bundle #{bundle_id} verifies: {result.get('files')} files, {result.get('nodes')} nodes, "
                         f"{result.get('edges')} edges, {result.get('audit_entries')} audit entries; "
                         f"SHA-256 {result.get('sha256')}.", "ok", id="bundle-verified")
    return ui.refused(f"Bundle #{bundle_id} does NOT verify: {result.get('problem')}", id="bundle-broken")


OPTION_LIMIT = 30
POLL_MS = 2000


def node_options(kinds, text: str = "", selected=None) -> list[dict]:
    """Nodes of `kinds` for a picker: matching `text` (name, display name, source id or id), newest first."""
    from lineage.models import Node

    qs = Node.objects.filter(kind__in=kinds)
    text = (text or "").strip()
    if text:
        match = Q(name__icontains=text) | Q(display_name__icontains=text) | Q(source_id__icontains=text)
        if text.isdigit():
            match |= Q(pk=int(text))
        qs = qs.filter(match)
    nodes = list(qs.order_by("-last_seen", "-pk")[:OPTION_LIMIT])
    if selected and str(selected).isdigit() and all(n.pk != int(selected) for n in nodes):
        nodes += list(Node.objects.filter(pk=int(selected), kind__in=kinds))
    return [{"label": f"{n.kind.replace('_', ' ')} · {n.display_name or n.name} · {n.source} · id {n.pk}", "value": n.pk}
            for n in nodes]


def _open_builds(builds) -> bool:
    return any(b.state in ("queued", "running") for b in builds)


def build_form(user, query):
    from governance.archive.models import BUNDLE_SUBJECT_KINDS
    from governance.archive.services import DEFAULT_DEPTH

    if not archive_rules.RULES.allows(user, "build"):
        return ui.notice("Auditors and admins build evidence bundles; the bundles you made are listed below.", "info",
                         id="bundle-build-denied")
    preset = query.get("node")
    return html.Div([
        html.Div([
            html.Div([html.Label("Model version or run", htmlFor="bundle-node"),
                      dcc.Dropdown(id="bundle-node", options=node_options(BUNDLE_SUBJECT_KINDS, selected=preset),
                                   value=int(preset) if preset and preset.isdigit() else None,
                                   placeholder="type to search by name or id", className="wide-pick")]),
            html.Div([html.Label("Upstream depth", htmlFor="bundle-depth"),
                      dcc.Input(id="bundle-depth", type="number", min=1, max=50, step=1, value=DEFAULT_DEPTH,
                                className="narrow")]),
            html.Button("Build evidence bundle", id="bundle-build", n_clicks=0, className="primary"),
        ], className="row form-row"),
        dcc.Loading(html.Div(id="bundle-build-result"), type="dot"),
    ])


def active_hold_options() -> list[dict]:
    from governance.archive.models import LegalHold

    active = LegalHold.objects.filter(released_at__isnull=True).select_related("node").order_by("-placed_at")[:200]
    return [{"label": f"#{h.pk} {h.node_kind} {(h.node.display_name or h.node.name) if h.node_id else h.node_source_id}"
                      f" — {h.reason}", "value": h.pk} for h in active]


def holds_form(user):
    from governance.archive.models import HOLD_KINDS

    if not archive_rules.RULES.allows(user, "hold"):
        return ui.notice("Auditors and admins place and lift legal holds.", "info", id="hold-denied")
    active = active_hold_options()
    return html.Div([
        html.H3("Place a legal hold"),
        html.Div([
            html.Div([html.Label("Node to hold (with its whole lineage)", htmlFor="hold-node"),
                      dcc.Dropdown(id="hold-node", options=node_options(HOLD_KINDS), placeholder="type to search by name or id",
                                   className="wide-pick")]),
            html.Div([html.Label("Reason", htmlFor="hold-reason"),
                      dcc.Input(id="hold-reason", type="text", placeholder="e.g. litigation 2026-17", className="reason")]),
            html.Button("Place hold", id="hold-place", n_clicks=0),
        ], className="row form-row"),
        html.H3("Lift a legal hold"),
        html.Div([
            html.Div([html.Label("Active hold", htmlFor="hold-pick"),
                      dcc.Dropdown(id="hold-pick", options=active,
                                   placeholder="pick an active hold", className="wide-pick")]),
            html.Div([html.Label("Reason for lifting", htmlFor="hold-release-reason"),
                      dcc.Input(id="hold-release-reason", type="text", placeholder="e.g. case closed", className="reason")]),
            html.Button("Lift hold", id="hold-release", n_clicks=0),
        ], className="row form-row"),
        html.Div(id="hold-result"),
    ])


def bundles_block(user):
    bundles = governance_data.visible_bundles(user)
    return html.Div([
        governance_data.bundle_table(bundles),
        html.Div([
            html.Label("Bundle to verify", htmlFor="bundle-pick"),
            dcc.Dropdown(id="bundle-pick", options=[{"label": f"#{b.pk} {b.subject_name or b.subject_source_id}",
                                                     "value": b.pk} for b in bundles],
                         placeholder="bundle", style={"minWidth": "18rem"}),
            html.Button("Verify", id="bundle-verify", n_clicks=0),
        ], className="row") if bundles else html.Div(),
    ])


def layout(user, query):
    builds = governance_data.visible_builds(user)
    return ui.page(
        TITLE,
        ui.card("Build an evidence bundle", build_form(user, query)),
        ui.card("Evidence bundles", html.Div(bundles_block(user), id="bundles-wrap"),
                dcc.Loading(html.Div(id="bundle-verify-result"))),
        ui.card("Bundle builds on the workers", html.Div(builds_table(builds), id="builds-wrap"),
                dcc.Interval(id="builds-poll", interval=POLL_MS, disabled=not _open_builds(builds))),
        ui.card("Legal holds", html.Div(holds_table(), id="holds-wrap"), holds_form(user)),
        ui.card("Retention policies", policies_table()),
    )


def register(app):
    @app.callback(Output("bundle-verify-result", "children"), Input("bundle-verify", "n_clicks"),
                  State("bundle-pick", "value"), prevent_initial_call=True)
    @auth.guarded(page=PAGE, refused=lambda message: ui.refused(message, id="archive-refused"),
                  idle=lambda n_clicks, _bundle: no_update if not n_clicks else None)
    def verify(user, n_clicks, bundle_id):
        if bundle_id is None:
            return ui.notice("Pick a bundle first.", "warn")
        try:
            result = governance_data.verify_visible_bundle(user, int(bundle_id))
        except governance_data.Unavailable as exc:
            return ui.refused(str(exc), id="archive-refused")
        return verification(result, int(bundle_id))

    def _search(kinds_name):
        @auth.guarded(page=PAGE, refused=lambda _message: [])
        def search(_user, text, value):
            from governance.archive import models

            return node_options(getattr(models, kinds_name), text or "", selected=value)
        return search

    app.callback(Output("bundle-node", "options"), Input("bundle-node", "search_value"), State("bundle-node", "value"),
                 prevent_initial_call=True)(_search("BUNDLE_SUBJECT_KINDS"))
    app.callback(Output("hold-node", "options"), Input("hold-node", "search_value"), State("hold-node", "value"),
                 prevent_initial_call=True)(_search("HOLD_KINDS"))

    @app.callback(
        Output("bundle-build-result", "children"), Output("bundles-wrap", "children"), Output("builds-wrap", "children"),
        Output("builds-poll", "disabled"),
        Input("bundle-build", "n_clicks"), State("bundle-node", "value"), State("bundle-depth", "value"),
        prevent_initial_call=True,
    )
    @auth.guarded(rule=(archive_rules.RULES, "build"),
                  refused=lambda message: (ui.refused(message, id="bundle-refused"),) + (no_update,) * 3,
                  governed=lambda _n, node_id, _depth: ("evidence_bundle", "create", node_id),
                  idle=lambda n_clicks, *_: (no_update,) * 4 if not n_clicks else None)
    def build(user, n_clicks, node_id, depth):
        unchanged = (no_update,) * 3
        if node_id in (None, ""):
            return (ui.notice("Pick a model version or run first.", "warn", id="bundle-refused"),) + unchanged
        try:
            outcome = evidence_actions.build_bundle(user, node_id, depth)
        except evidence_actions.Refused as exc:
            return (ui.refused(str(exc), id="bundle-refused"),) + unchanged
        builds = governance_data.visible_builds(user)
        if outcome.bundle is not None:
            b = outcome.bundle
            message = ui.notice([f"Bundle #{b.pk} built: {b.node_count} nodes, {b.size:,} bytes, SHA-256 {b.sha256[:16]}…. ",
                                 html.A("Download it", href=governance_data.bundle_download_url(b), id="bundle-new-download")],
                                "ok", id="bundle-built")
        else:
            message = ui.notice(f"Build #{outcome.build.pk} is {outcome.build.state} on the workers; its state is "
                                "followed in the builds table below, with the download once it is done.", "info",
                                id="bundle-queued")
        return message, bundles_block(user), builds_table(builds), not _open_builds(builds)

    @app.callback(
        Output("builds-wrap", "children", allow_duplicate=True), Output("bundles-wrap", "children", allow_duplicate=True),
        Output("builds-poll", "disabled", allow_duplicate=True),
        Input("builds-poll", "n_intervals"), prevent_initial_call=True,
    )
    @auth.guarded(page=PAGE, refused=lambda message: (ui.refused(message, id="archive-refused"), no_update, True))
    def poll(user, _n):
        builds = governance_data.visible_builds(user)
        return builds_table(builds), bundles_block(user), not _open_builds(builds)

    def _hold_action(action):
        @auth.guarded(rule=(archive_rules.RULES, "hold"),
                      refused=lambda message: (ui.refused(message, id="hold-refused"), no_update, no_update),
                      governed=lambda _n, target, _reason: ("legal_hold", action, target),
                      idle=lambda n_clicks, *_: (no_update,) * 3 if not n_clicks else None)
        def act(user, n_clicks, target, reason):
            try:
                if action == "place":
                    if target in (None, ""):
                        raise evidence_actions.Refused("Pick the node to hold first.")
                    hold = evidence_actions.place_hold(user, target, reason)
                    text = f"Legal hold #{hold.pk} placed on {hold.node_kind} {hold.node_source_id}."
                else:
                    hold = evidence_actions.release_hold(user, target, reason)
                    text = f"Legal hold #{hold.pk} lifted."
            except evidence_actions.Refused as exc:
                return ui.refused(str(exc), id="hold-refused"), no_update, no_update
            return ui.notice(text + " Recorded in the audit log.", "ok", id="hold-done"), holds_table(), active_hold_options()
        return act

    app.callback(Output("hold-result", "children"), Output("holds-wrap", "children"), Output("hold-pick", "options"),
                 Input("hold-place", "n_clicks"), State("hold-node", "value"), State("hold-reason", "value"),
                 prevent_initial_call=True)(_hold_action("place"))
    app.callback(Output("hold-result", "children", allow_duplicate=True),
                 Output("holds-wrap", "children", allow_duplicate=True),
                 Output("hold-pick", "options", allow_duplicate=True),
                 Input("hold-release", "n_clicks"), State("hold-pick", "value"), State("hold-release-reason", "value"),
                 prevent_initial_call=True)(_hold_action("release"))
