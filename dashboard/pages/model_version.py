"""Model version page: the provenance card (governance.provenance.card, the same answer as
`GET /api/model-versions/{id}/provenance/`) drawn for people, and the evidence actions.

At the top the chain data → run → model → approvals → deployments; then parameters, metrics, code version,
input data, approvals with every decision inline, gates, stage history, deployments and evidence. Evidence
lists what the caller may see and says when others exist that they may not (never "none archived" then).

Building a bundle goes through the archive API's own input check (BundleCreateSerializer), permission class
(BundlePermission, as for a POST) and service (build_bundle, or a queued build when a broker is configured,
whose state the page polls); the callback checks all of it on the server whatever the page showed.
"""
from __future__ import annotations

import json

from dash import Input, Output, State, dcc, html, no_update

from dashboard import auth, components as ui, urlpaths
from governance.archive import rules as archive_rules

PAGE = "model"
TITLE = "Model version"
MAX_ROWS = 200


def _value(value):
    if isinstance(value, (dict, list)):
        return html.Code(json.dumps(value, sort_keys=True)[:300])
    if isinstance(value, float):
        return f"{value:.6g}"
    return "—" if value in (None, "") else str(value)


def _node_link(ref, text=None):
    if ref is None:
        return "—"
    return dcc.Link(text or ref.get("display_name") or ref.get("name"), href=urlpaths.lineage(ref["id"]),
                    title=f"{ref['kind']} {ref['source']}:{ref['source_id']}")


def _links(links):
    return [html.A(link["label"], href=link["url"], target="_blank", rel="noopener", className="source-link")
            for link in links or []]


def _short_time(text):
    return (text or "—").replace("T", " ")[:19] if text else "—"


# ------------------------------------------------------------------------------------------------ sections
def chain(card):
    runs = {r["id"]: r for r in card["runs"]}
    data = {d["id"]: d for d in card["input_data"]}

    def step(title, items, empty, id):
        return html.Div([html.H3(title), html.Ul(items) if items else html.P(empty, className="muted")],
                        className="chain-step", id=id)

    data_items = [html.Li(_node_link(data[i])) for i in card["chain"]["data"] if i in data][:6]
    run_items = [html.Li([_node_link(runs[i], runs[i]["display_name"]),
                          html.Small(f" {runs[i]['job']['name'] if runs[i]['job'] else ''} {runs[i]['status'] or ''}")])
                 for i in card["chain"]["runs"]]
    mv = card["model_version"]
    model_items = [html.Li(html.Strong(mv["display_name"]))] + [
        html.Li(html.Small(["= ", _identity_link(i, f"{i['source']} {i['display_name']}")])) for i in card["identities"][1:]]
    approvals = [html.Li([dcc.Link(f"#{a['id']} → {a['target_stage']}", href=urlpaths.approvals(a["id"])),
                          html.Small(f" {a['state']}")]) for a in card["approvals"]]
    deployments = [html.Li(_node_link(d)) for d in card["deployments"]]
    return html.Div([
        step("Data", data_items, "No input data known.", "mv-chain-data"),
        step("Run", run_items, "No producing run known.", "mv-chain-runs"),
        step("Model", model_items, "", "mv-chain-model"),
        step("Approvals", approvals, "No promotion requested.", "mv-chain-approvals"),
        step("Deployments", deployments, "Not deployed.", "mv-chain-deployments"),
    ], className="chain", id="mv-chain")


def _identity_link(identity, text):
    """A model version opens its own card; anything else (a KFP artefact) its lineage node."""
    if identity["kind"] == "model_version":
        return dcc.Link(text, href=urlpaths.model_version(identity["id"]))
    return _node_link(identity, text)


def identities(card):
    rows = [[_identity_link(i, i["source"]), html.Code(i["source_id"]), i.get("version") or "—", _short_time(i.get("created")),
             _short_time(i.get("modified")), i.get("owner") or "—", html.Span(_links(i["links"])) if i["links"] else "—"]
            for i in card["identities"]]
    return ui.table(["source", "source id", "version", "created", "modified", "owner / modeler", "source UI"], rows,
                    id="mv-identities")


def runs_table(card):
    rows = []
    for r in card["runs"]:
        rows.append([
            _node_link(r, r["display_name"]), r["role"], _node_link(r["job"]) if r["job"] else "—",
            _node_link(r["job_version"]) if r["job_version"] else "—", html.Code(r["run_id"]),
            _short_time(r["started_at"]), _short_time(r["ended_at"]), r["status"] or "—", r["started_by"] or "—",
            html.Span(_links(r["links"])) if r["links"] else "—"])
    return ui.table(["run", "role", "pipeline / job", "version", "run id", "started", "ended", "status", "started by",
                     "source UI"], rows, id="mv-runs", empty="No producing run is known for this version or its copies.")


def parameters_table(card):
    runs = {r["id"]: r for r in card["runs"]}
    rows = [[p["name"], _value(p["value"]), _node_link(runs[p["run"]], runs[p["run"]]["display_name"]), p["origin"]]
            for p in card["parameters"][:MAX_ROWS]]
    return ui.table(["parameter", "value", "run", "recorded as"], rows, id="mv-parameters",
                    empty="The producing runs record no parameters.")


def metrics_table(card):
    rows = [[m["name"], _value(m["value"]), dcc.Link(m["node_name"], href=urlpaths.lineage(m["node"]))]
            for m in card["metrics"][:MAX_ROWS]]
    return ui.table(["metric", "value", "recorded on"], rows, id="mv-metrics",
                    empty="No metrics recorded by the producing runs or on the version.")


def code_table(card):
    rows = [[c["label"], _value(c["value"]), dcc.Link(c["node_name"], href=urlpaths.lineage(c["node"]))]
            for c in card["code_version"][:MAX_ROWS]]
    return ui.table(["what", "value", "recorded on"], rows, id="mv-code",
                    empty="The sources record no code version for this model.")


def data_table(card):
    rows = [[_node_link(d), d["kind"], d["source"], d.get("uri") or "—", _value(d.get("version")),
             html.Code(d["digest"]) if d.get("digest") else "—", d["depth"]]
            for d in card["input_data"][:MAX_ROWS]]
    more = len(card["input_data"]) - MAX_ROWS
    return html.Div([
        ui.table(["dataset / artefact", "kind", "source", "URI", "version", "digest", "hops up"], rows, id="mv-data",
                 empty="No upstream data known."),
        html.P(f"… and {more} more: open the lineage explorer for all of it.", className="muted") if more > 0 else "",
        ui.notice("Input data goes further upstream than the card follows.", "warn") if card["input_truncated"] else "",
    ])


def approvals_block(card):
    if not card["approvals"]:
        return html.P("No promotion has been requested for this version.", className="muted", id="mv-approvals")
    items = []
    for a in card["approvals"]:
        decisions = [html.Li([html.Strong(d["actor"], className="approver"), f" {d['decision']}d, {_short_time(d['at'])}",
                              html.Q(d["comment"]) if d["comment"] else ""]) for d in a["decisions"]]
        items.append(html.Div([
            html.Div([dcc.Link(f"Request #{a['id']}", href=urlpaths.approvals(a["id"])),
                      f" {a['from_stage'] or 'none'} → {a['target_stage']}: ", html.Strong(a["state"]),
                      f" ({a['approvals']} of {a['required_approvals']} approvals) · requested by {a['requester']}, "
                      f"{_short_time(a['created_at'])}"]),
            html.Div(html.Em(a["justification"]), className="muted"),
            html.Ul(decisions) if decisions else html.P("No decision yet.", className="muted"),
        ], className="approval"))
    return html.Div(items, id="mv-approvals")


def gates_block(card):
    gates = card["gates"]
    if gates["request"] is None:
        return html.P("No gates evaluated: no promotion has been requested.", className="muted", id="gate-checklist")
    rows = []
    for g in gates["results"]:
        if g["passed"]:
            mark = html.Span("✔ pass", className="gate-pass")
        elif g["overridden_by"]:
            mark = html.Span(f"✘ fail, overridden by {g['overridden_by']}: {g['override_reason']}", className="gate-pass")
        else:
            mark = html.Span("✘ fail", className="gate-fail")
        rows.append([g["gate"].replace("_", " "), mark, g["reason"]])
    return html.Div([html.P(f"Request #{gates['request']}, evaluated {_short_time(gates['evaluated_at'])}",
                            className="muted"),
                     ui.table(["gate", "result", "reason"], rows, id="gate-checklist",
                              empty="Gates have not been evaluated yet.")])


def history_table(card):
    rows = [[_short_time(h["assigned_at"]), h["from_stage"] or "—", h["stage"], h["requested_by"],
             ", ".join(h["approved_by"]) or "—", dcc.Link(f"#{h['request']}", href=urlpaths.approvals(h["request"])),
             "current" if h["superseded_at"] is None else f"until {_short_time(h['superseded_at'])}"]
            for h in card["stage_history"]]
    return ui.table(["when", "from", "to", "requested by", "approved by", "request", "status"], rows, id="mv-history",
                    empty="Never promoted.")


def deployments_table(card):
    rows = [[_node_link(d), d["source"], d.get("destination") or "—", d.get("state") or "—", _short_time(d["since"])]
            for d in card["deployments"]]
    return ui.table(["deployment", "source", "destination", "state", "since"], rows, id="mv-deployments",
                    empty="Not deployed.")


def evidence_block(ev, user):
    """Visible bundles, and the truth about the others: a caller who may not see them is told they exist."""
    from common.roles import roles_of

    rows = [[b["id"], b["subject_name"] or b["subject_kind"], html.Code(b["sha256"][:16] + "…", title=b["sha256"]),
             f"{b['size']:,} B", b["node_count"], b["created_by"] or "—", _short_time(b["created_at"]),
             html.A("download", href=b["download_url"], id=f"mv-bundle-download-{b['id']}")]
            for b in ev["bundles"]]
    parts = []
    if rows:
        parts.append(ui.table(["#", "subject", "sha256", "size", "nodes", "built by", "created", ""], rows,
                              id="mv-bundles"))
    if ev["hidden_count"]:
        held = ", ".join(sorted(roles_of(user))) or "no role"
        parts.append(ui.notice(
            f"{ev['hidden_count']} evidence bundle(s) of this version exist that your role ({held}) may not see: "
            "only auditors and admins see every bundle; others see those they built.", "info", id="mv-bundles-hidden"))
    if not ev["total"]:
        parts.append(html.P("No evidence bundle has been built for this version yet.", className="muted",
                            id="mv-bundles-none"))
    return parts


def bundle_subject(card):
    """What a bundle of this version is built of: the version itself, or, for an OpenLineage model (a
    dataset version, which bundles are not built for), the run that produced it."""
    from governance.archive.models import BUNDLE_SUBJECT_KINDS

    if card["model_version"]["kind"] in BUNDLE_SUBJECT_KINDS:
        return card["model_version"]["id"], "Build evidence bundle"
    producer = next((r for r in card["runs"] if r["role"] == "producer"), None)
    return (producer["id"], "Build evidence bundle of its producing run") if producer else (None, "")


def bundle_actions(user, card):
    node_id, label = bundle_subject(card)
    if node_id is None:
        return ui.notice("Evidence bundles are built for model versions and runs; no run is known to have produced "
                         "this model.", "info", id="mv-build-none")
    if not _may_build(user):
        from common.roles import roles_of

        held = ", ".join(sorted(roles_of(user))) or "no role"
        return ui.notice(f"Only auditors and admins build evidence bundles; you hold: {held}.", "info",
                         id="mv-build-denied")
    return html.Div([
        html.Div([
            html.Label("Depth", htmlFor="mv-build-depth"),
            dcc.Input(id="mv-build-depth", type="number", min=1, max=50, value=10, style={"width": "4rem"}),
            html.Button(label, id="mv-build", n_clicks=0, className="primary"),
        ], className="row"),
        dcc.Loading(html.Div(id="mv-build-result"), type="dot"),
        dcc.Store(id="mv-node", data=node_id),
        dcc.Store(id="mv-version", data=card["model_version"]["id"]),
        dcc.Store(id="mv-build-id"),
        dcc.Interval(id="mv-build-poll", interval=1500, disabled=True),
    ])


def _may_build(user) -> bool:
    """The archive's rule for building a bundle, which POST /api/archive/bundles/ checks too."""
    return archive_rules.RULES.allows(user, "build")


def layout(user, query, node_id):
    from rest_framework import serializers as drf

    from governance.provenance.card import NotAModelVersion, provenance_card

    as_of = None
    if query.get("as_of"):
        try:
            as_of = drf.DateTimeField().to_internal_value(query["as_of"])
        except drf.ValidationError:
            return ui.page(TITLE, ui.notice(f"{query['as_of']!r} is not an ISO 8601 time.", "warn", id="mv-bad-as-of"))
    try:
        card = provenance_card(int(node_id), user, as_of=as_of)
    except NotAModelVersion:
        return ui.page(TITLE, ui.notice(f"There is no model version with id {node_id}"
                                        + (" at that time." if as_of else "."), "warn", id="mv-missing"))
    mv = card["model_version"]
    return ui.page(
        f"{TITLE}: {mv['display_name']}",
        html.P([
            "Stage: ", html.Strong(card["stage"] or "none", id="mv-stage"), " · ",
            f"{mv['source']} · version {mv['version']} · owner {mv['owner'] or 'not recorded'} · ",
            dcc.Link("open in lineage explorer", href=urlpaths.lineage(mv["id"], direction="upstream", depth=6)),
            " · ", html.A("card as JSON", href=f"/api/model-versions/{mv['id']}/provenance/"),
            *([" · ", html.Span(f"as of {card['as_of']}", id="mv-as-of")] if card["as_of"] else []),
        ]),
        chain(card),
        html.Div([
            ui.card("Parameters", parameters_table(card)),
            ui.card("Metrics", metrics_table(card)),
        ], className="grid-2"),
        ui.card("Code version", code_table(card)),
        ui.card("Producing runs", runs_table(card)),
        ui.card("Input data", data_table(card)),
        html.Div([
            ui.card("Approvals", approvals_block(card)),
            ui.card("Gate checklist", gates_block(card)),
        ], className="grid-2"),
        ui.card("Stage history", history_table(card)),
        ui.card("Deployments", deployments_table(card)),
        ui.card("Evidence bundles", html.Div(evidence_block(card["evidence"], user), id="mv-evidence"),
                bundle_actions(user, card)),
        ui.card("Source identities", identities(card)),
    )


# ------------------------------------------------------------------------------------------------ actions
def build_bundle(user, node_id, depth):
    """POST /api/archive/bundles/ without HTTP: the same input check, permission and service. Returns
    ("built", bundle) or ("queued", build); raises auth.PermissionRefused or ValueError with the reason."""
    from rest_framework.exceptions import ValidationError

    from governance.archive import builds, services
    from governance.archive.api.serializers import BundleCreateSerializer
    from governance.archive.closure import ClosureTooLarge
    from governance.celery import broker_configured

    if not _may_build(user):
        raise auth.PermissionRefused("Building evidence bundles needs the role auditor (or admin).")
    params = BundleCreateSerializer(data={"node": node_id, "depth": depth if depth is not None else 10})
    try:
        params.is_valid(raise_exception=True)
    except ValidationError as exc:
        raise ValueError("; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in exc.detail.items())) from None
    node, depth = params.validated_data["node"], params.validated_data["depth"]
    if broker_configured():
        try:
            return "queued", builds.enqueue(node, user, depth)
        except builds.QueueUnavailable:
            raise ValueError("The task broker cannot be reached; the bundle build was not queued.") from None
    try:
        return "built", services.build_bundle(node, user, depth=depth)
    except (services.BundleError, ClosureTooLarge) as exc:
        raise ValueError(str(exc)) from None


def evidence_now(user, version_id):
    """The evidence section redrawn after a build, by the same rules (and subjects) as the card's."""
    from governance.provenance import governance_view
    from governance.provenance.card import evidence_subjects
    from lineage.models import Node

    version = Node.objects.filter(pk=version_id).first()
    if version is None:
        return no_update
    return evidence_block(governance_view.evidence(evidence_subjects(version), user), user)


def _bundle_ready(bundle):
    return ui.notice([f"Evidence bundle #{bundle.pk} built: {bundle.node_count} nodes, SHA-256 ",
                      html.Code(bundle.sha256[:16] + "…", title=bundle.sha256), ". ",
                      html.A("Download it", href=f"/api/archive/bundles/{bundle.pk}/download/",
                             id="mv-bundle-download")], "ok", id="mv-bundle-ready")


def _build_state(build):
    if build.state == "done" and build.bundle_id:
        return _bundle_ready(build.bundle)
    if build.state == "failed":
        return ui.refused(f"Bundle build #{build.pk} failed: {build.error}", id="mv-build-failed")
    return ui.notice(f"Bundle build #{build.pk} is {build.state} on the task workers…", "info", id="mv-build-state")


def register(app):
    @app.callback(
        Output("mv-build-result", "children"), Output("mv-build-id", "data"), Output("mv-build-poll", "disabled"),
        Output("mv-evidence", "children"),
        Input("mv-build", "n_clicks"), State("mv-node", "data"), State("mv-build-depth", "value"),
        State("mv-version", "data"),
        prevent_initial_call=True,
    )
    @auth.guarded(rule=(archive_rules.RULES, "build"),
                  refused=lambda message: (ui.refused(message, id="mv-build-refused"), None, True, no_update),
                  governed=lambda _n, node_id, *_: ("evidence_bundle", "create", node_id),
                  idle=lambda n_clicks, node_id, *_: (no_update,) * 4 if not n_clicks or node_id is None else None)
    def on_build(user, n_clicks, node_id, depth, version_id):
        try:
            outcome, made = build_bundle(user, node_id, depth)
        except ValueError as exc:
            return ui.refused(f"No bundle was built: {exc}", id="mv-build-refused"), None, True, no_update
        if outcome == "built":
            return _bundle_ready(made), None, True, evidence_now(user, version_id or node_id)
        return _build_state(made), made.pk, False, no_update

    @app.callback(
        Output("mv-build-result", "children", allow_duplicate=True), Output("mv-build-poll", "disabled", allow_duplicate=True),
        Input("mv-build-poll", "n_intervals"), State("mv-build-id", "data"),
        prevent_initial_call=True,
    )
    @auth.guarded(page=PAGE, refused=lambda message: (ui.refused(message, id="mv-build-refused"), True),
                  idle=lambda _n, build_id: (no_update, True) if build_id is None else None)
    def on_poll(user, _n, build_id):
        build = archive_rules.builds_visible_to(user).select_related("bundle").filter(pk=build_id).first()
        if build is None:
            return ui.refused(f"There is no bundle build #{build_id} you may see.", id="mv-build-refused"), True
        return _build_state(build), build.state in ("done", "failed")
