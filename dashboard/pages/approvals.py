"""Approvals: the requests waiting for me, a request's detail with its gate checklist, and approve /
reject with a comment.

Every rule (the approver role, four-eyes, the author rule, blocking gates, stale requests) belongs to
governance.approvals.services: the page asks `can_decide` to explain in advance why a user may not
decide, and the decide callback calls `services.decide`, showing its refusal message verbatim. The
buttons are drawn only for approvers, and the callback checks the approver role again on the server."""
from __future__ import annotations

from dash import Input, Output, State, ctx, dcc, html, no_update

from dashboard import auth, components as ui, governance_data, urlpaths
from governance.accounts.roles import APPROVER, roles_of

PAGE = "approvals"
TITLE = "Approvals"


def _request_rows(requests):
    return [[dcc.Link(f"#{r.pk}", href=urlpaths.approvals(r.pk), id=f"req-link-{r.pk}"),
             dcc.Link(r.node.display_name or r.node.name, href=urlpaths.model_version(r.node_id)),
             f"{r.from_stage.name if r.from_stage_id else 'none'} → {r.target_stage.name}", r.state,
             r.requester.username, ui.when(r.submitted_at or r.created_at)]
            for r in requests]


HEADERS = ["request", "model version", "promotion", "state", "requested by", "since"]


def info(req):
    """Everything about one request except the decision controls (redrawn after each decision)."""
    from governance.approvals import services

    approvals = services.approvals_of(req)
    required = int((req.policy or {}).get("required_approvals", 1))
    overridden = set(req.gate_overrides.values_list("gate", flat=True))
    decisions = [[ui.when(d.at), d.actor.username, d.decision, d.comment or "—"]
                 for d in req.decisions.select_related("actor").order_by("at", "pk")]
    overrides = [[o.gate, o.actor.username, ui.when(o.at), o.reason]
                 for o in req.gate_overrides.select_related("actor")]
    stale = req.state == "pending" and services.is_stale(req)
    return html.Div([
        html.Table(html.Tbody([html.Tr([html.Th(k), html.Td(v)]) for k, v in [
            ("model version", dcc.Link(f"{req.node.display_name or req.node.name} (id {req.node_id})",
                                       href=urlpaths.model_version(req.node_id))),
            ("promotion", f"{req.from_stage.name if req.from_stage_id else 'none'} → {req.target_stage.name}"),
            ("state", html.Strong(req.state, id="req-state")),
            ("requested by", html.Span(req.requester.username, id="req-requester")),
            ("justification", req.justification),
            ("approvals", html.Span(f"{len(approvals)} of {required}", id="req-approvals")),
            ("submitted", ui.when(req.submitted_at)), ("expires", ui.when(req.expires_at)),
            ("closed because", req.closed_reason or "—"),
        ]]), className="kv"),
        ui.notice("The model version changed after this request was made: decisions will be refused as stale.",
                  "warn", id="req-stale") if stale else html.Div(),
        html.H4("Gate checklist"),
        governance_data.gate_checklist((services.latest_gates(req), overridden), id="req-gates"),
        ui.table(["gate", "overridden by", "when", "reason"], overrides, id="req-overrides", empty="")
        if overrides else html.Div(),
        html.H4("Decisions"),
        ui.table(["when", "by", "decision", "comment"], decisions, id="req-decisions", empty="No decision yet."),
    ])


def decision_controls(user, req):
    from governance.approvals import services

    if not auth.can(user, APPROVER):
        held = ", ".join(sorted(roles_of(user))) or "no role"
        return ui.notice(f"Only approvers can approve or reject promotions; you hold: {held}.", "warn",
                         id="req-approve-denied")
    if req.state != "pending":
        return ui.notice(f"This request is {req.state}; there is nothing to decide.", "info", id="req-closed")
    why_not = services.can_decide(user, req)
    return html.Div([
        ui.refused(why_not, id="req-cannot-decide") if why_not else html.Div(),
        dcc.Textarea(id="req-comment", placeholder="Comment (required to reject)"),
        html.Div([
            html.Button("Approve", id="req-approve", n_clicks=0, className="primary"),
            html.Button("Reject", id="req-reject", n_clicks=0, className="danger"),
        ], className="actions"),
    ])


def detail(user, request_id):
    from governance.approvals.models import PromotionRequest

    try:
        pk = int(request_id)
    except (TypeError, ValueError):
        return ui.notice(f"{request_id!r} is not a request number.", "warn", id="req-missing")
    req = PromotionRequest.objects.select_related("node", "target_stage", "from_stage", "requester").filter(pk=pk).first()
    if req is None:
        return ui.notice(f"There is no promotion request #{pk}.", "warn", id="req-missing")
    return ui.card(f"Request #{req.pk}", html.Div(info(req), id="req-info"), decision_controls(user, req),
                   html.Div(id="req-decision-result"), dcc.Store(id="req-id", data=req.pk), id="req-detail")


def layout(user, query):
    from governance.approvals.models import OPEN_STATES, PromotionRequest

    base = PromotionRequest.objects.select_related("node", "target_stage", "from_stage", "requester")
    mine = list(base.filter(requester=user).order_by("-created_at")[:50])
    open_requests = list(base.filter(state__in=OPEN_STATES).order_by("-created_at")[:100])
    closed = list(base.exclude(state__in=OPEN_STATES).order_by("-created_at")[:50])
    return ui.page(
        TITLE,
        detail(user, query["request"]) if query.get("request") else html.Div(),
        ui.card("Waiting for me", html.Div(waiting_table(user), id="waiting-wrap")),
        html.Div([
            ui.card("Open requests", ui.table(HEADERS, _request_rows(open_requests), id="open-requests",
                                              empty="No open request.")),
            ui.card("My requests", ui.table(HEADERS, _request_rows(mine), id="my-requests",
                                            empty="You have not requested a promotion.")),
        ], className="grid-2"),
        ui.card("Recently closed", ui.table(HEADERS, _request_rows(closed), id="closed-requests", empty="None.")),
    )


def waiting_table(user):
    if auth.can(user, APPROVER):
        return ui.table(HEADERS, _request_rows(governance_data.waiting_for(user)), id="waiting-for-me",
                        empty="Nothing is waiting for you.")
    return ui.notice("Only approvers have requests waiting for them.", "info", id="waiting-for-me")


def decide(user, request_id, verdict: str, comment: str):
    """The dashboard's only write on this page: hand the verdict to the approvals service."""
    from governance.approvals import services

    outcome = services.decide(user, int(request_id), verdict, comment or "")
    return outcome.request


def register(app):
    @app.callback(
        Output("req-decision-result", "children"), Output("req-info", "children"),
        Output("waiting-wrap", "children"),
        Input("req-approve", "n_clicks"), Input("req-reject", "n_clicks"),
        State("req-comment", "value"), State("req-id", "data"),
        prevent_initial_call=True,
    )
    def on_decide(approve_clicks, reject_clicks, comment, request_id):
        from governance.approvals import services
        from governance.approvals.models import PromotionRequest

        if not (approve_clicks or reject_clicks) or request_id is None:
            return no_update, no_update, no_update
        verdict = "reject" if ctx.triggered_id == "req-reject" else "approve"
        try:
            user = auth.require_role(APPROVER, governed=("promotion_request", verdict, request_id))
        except auth.PermissionRefused as exc:
            return ui.refused(str(exc), id="req-refused"), no_update, no_update
        try:
            req = decide(user, request_id, verdict, comment)
        except services.ApprovalError as exc:
            auth.audit_refusal(user, "promotion_request", verdict, request_id, exc.message, status=exc.status)
            message = ui.refused(exc.message, id="req-refused")
        except PromotionRequest.DoesNotExist:
            return ui.refused(f"There is no promotion request #{request_id}.", id="req-refused"), no_update, no_update
        else:
            message = ui.notice(f"Recorded your {verdict} of request #{req.pk}; it is now {req.state}.", "ok",
                                id="req-decided")
        fresh = PromotionRequest.objects.select_related("node", "target_stage", "from_stage", "requester").get(
            pk=int(request_id))
        return message, info(fresh), waiting_table(user)
