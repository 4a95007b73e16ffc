"""Archive: evidence bundles with their verification, the builds queued for the task workers, legal holds
and retention policies.

The bundle list is the archive API's own (auditors and admins see all, others their own); verification
runs the archive's verify_bundle, the same code as the offline verifier; downloads link to the audited
archive API."""
from __future__ import annotations

from dash import Input, Output, State, dcc, html, no_update

from dashboard import auth, components as ui, governance_data, urlpaths

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


def layout(user, query):
    bundles = governance_data.visible_bundles(user)
    return ui.page(
        TITLE,
        ui.card("Evidence bundles", governance_data.bundle_table(bundles),
                html.Div([
                    dcc.Dropdown(id="bundle-pick", options=[{"label": f"#{b.pk} {b.subject_name or b.subject_source_id}",
                                                             "value": b.pk} for b in bundles],
                                 placeholder="bundle", style={"minWidth": "18rem"}),
                    html.Button("Verify", id="bundle-verify", n_clicks=0),
                ], className="row") if bundles else html.Div(),
                dcc.Loading(html.Div(id="bundle-verify-result"))),
        ui.card("Bundle builds on the workers", builds_table(governance_data.visible_builds(user))),
        ui.card("Legal holds", holds_table()),
        ui.card("Retention policies", policies_table()),
    )


def register(app):
    @app.callback(Output("bundle-verify-result", "children"), Input("bundle-verify", "n_clicks"),
                  State("bundle-pick", "value"), prevent_initial_call=True)
    def verify(n_clicks, bundle_id):
        if not n_clicks:
            return no_update
        try:
            user = auth.require_page(PAGE)
        except auth.PermissionRefused as exc:
            return ui.refused(str(exc), id="archive-refused")
        if bundle_id is None:
            return ui.notice("Pick a bundle first.", "warn")
        try:
            result = governance_data.verify_visible_bundle(user, int(bundle_id))
        except governance_data.Unavailable as exc:
            return ui.refused(str(exc), id="archive-refused")
        return verification(result, int(bundle_id))
