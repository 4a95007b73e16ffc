"""Approvals: the requests waiting for me, a request's detail with its gate checklist, approve / reject
with a comment, and (admins) a gate override with a written reason.

Every rule (the approver role, four-eyes, the author rule, blocking gates, stale requests, who may
override) belongs to governance.approvals.services: the page asks `can_decide` and `blocking_gates` to
explain in advance why Approve is disabled and who else may decide, and the callbacks call
`services.decide` / `services.override_gate`, showing their refusal messages verbatim. Buttons are drawn
only for the roles that may use them, and every callback checks the role again on the server. After each
decision or override everything on the page that it changed is drawn again: the request, its buttons,
and the lists (waiting for me, open, mine, recently closed)."""
from __future__ import annotations

from dash import Input, Output, State, ctx, dcc, html, no_update
from django.db.models import F

from dashboard import auth, components as ui, governance_data, urlpaths
from common.roles import APPROVER, roles_of
from governance.approvals import rules as approvals_rules

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
        html.H3("Gate checklist"),
        governance_data.gate_checklist((services.latest_gates(req), overridden), id="req-gates"),
        ui.table(["gate", "overridden by", "when", "reason"], overrides, id="req-overrides", empty="")
        if overrides else html.Div(),
        html.H3("Decisions"),
        ui.table(["when", "by", "decision", "comment"], decisions, id="req-decisions", empty="No decision yet."),
    ])


def other_approvers(req) -> list[str]:
    """Usernames of the people who may still decide `req`, by the service's own rule (can_decide)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    from common.roles import ADMIN
    from governance.approvals import services

    candidates = (get_user_model().objects.filter(is_active=True)
                  .filter(Q(groups__name__in=[APPROVER, ADMIN]) | Q(is_superuser=True)).distinct().order_by("username"))
    return [u.username for u in candidates if services.can_decide(u, req) is None]


def still_needed(req) -> html.Div:
    """How many approvals the request still needs and who may give them."""
    from governance.approvals import services

    required = int((req.policy or {}).get("required_approvals", 1))
    missing = required - len(services.approvals_of(req))
    if req.state != "pending" or missing <= 0:
        return html.Div(id="req-who-else")
    names = other_approvers(req)
    who = (f"Any of: {', '.join(names)}." if names
           else "Nobody else may approve it now: every approver is its requester, an author or has decided.")
    return html.P([html.Strong(f"Needs {missing} more approval{'s' if missing > 1 else ''}. "), who],
                  id="req-who-else")


def decision_controls(user, req):
    from governance.approvals import services

    if not approvals_rules.RULES.allows(user, "approve"):
        held = ", ".join(sorted(roles_of(user))) or "no role"
        return html.Div([ui.notice(f"Only approvers can approve or reject promotions; you hold: {held}.", "warn",
                                   id="req-approve-denied"), still_needed(req)])
    if req.state != "pending":
        return ui.notice(f"This request is {req.state}; there is nothing to decide.", "info", id="req-closed")
    why_not = services.can_decide(user, req)
    blocked = services.blocking_gates(req)
    gate_reason = ("Failing gate(s) block approval: " + "; ".join(f"{g.gate.replace('_', ' ')}: {g.reason}" for g in blocked)
                   + ". An admin can override a gate with a written reason.") if blocked else None
    approve_block = why_not or gate_reason
    return html.Div([
        ui.refused(why_not, id="req-cannot-decide") if why_not else html.Div(),
        ui.notice(gate_reason, "warn", id="req-gates-block") if gate_reason and not why_not else html.Div(),
        still_needed(req),
        html.Label("Comment (required to reject)", htmlFor="req-comment"),
        dcc.Textarea(id="req-comment", placeholder="Why you approve or reject"),
        html.Div([
            html.Button("Approve", id="req-approve", n_clicks=0, className="primary", disabled=bool(approve_block),
                        title=approve_block or "Approve this promotion"),
            html.Button("Reject", id="req-reject", n_clicks=0, className="danger", disabled=bool(why_not),
                        title=why_not or "Reject this promotion (needs a comment)"),
        ], className="actions"),
    ])


def override_controls(user, req):
    """Admins only, while the request is open: override a failing gate with a written reason."""
    from governance.approvals import services

    if not approvals_rules.RULES.allows(user, "override") or req.state not in ("draft", "pending"):
        return html.Div()
    blocked = services.blocking_gates(req)
    if not blocked:
        return html.Div()
    return html.Div([
        html.H3("Override a failing gate"),
        html.Label("Gate", htmlFor="req-override-gate"),
        dcc.Dropdown(id="req-override-gate", options=[{"label": g.gate.replace("_", " "), "value": g.gate} for g in blocked],
                     value=blocked[0].gate, clearable=False),
        html.Label("Written reason (kept in the audit log)", htmlFor="req-override-reason"),
        dcc.Textarea(id="req-override-reason", placeholder="Why this promotion may go ahead although the gate fails"),
        html.Button("Override gate", id="req-override-go", n_clicks=0),
    ], className="override")


def detail(user, request_id):
    from governance.approvals.models import PromotionRequest

    try:
        pk = int(request_id)
    except (TypeError, ValueError):
        return ui.notice(f"{request_id!r} is not a request number.", "warn", id="req-missing")
    req = PromotionRequest.objects.select_related("node", "target_stage", "from_stage", "requester").filter(pk=pk).first()
    if req is None:
        return ui.notice(f"There is no promotion request #{pk}.", "warn", id="req-missing")
    return ui.card(f"Request #{req.pk}", html.Div(info(req), id="req-info"),
                   html.Div(decision_controls(user, req), id="req-controls"),
                   html.Div(id="req-decision-result"),
                   html.Div(override_controls(user, req), id="req-override-wrap"),
                   html.Div(id="req-override-result"),
                   dcc.Store(id="req-id", data=req.pk), id="req-detail")


def lists(user):
    """The four request lists, drawn again after every decision."""
    from governance.approvals.models import OPEN_STATES, PromotionRequest

    base = PromotionRequest.objects.select_related("node", "target_stage", "from_stage", "requester")
    mine = list(base.filter(requester=user).order_by("-created_at")[:50])
    open_requests = list(base.filter(state__in=OPEN_STATES).order_by("-created_at")[:100])
    closed = list(base.exclude(state__in=OPEN_STATES)
                  .order_by(F("decided_at").desc(nulls_last=True), "-created_at", "-pk")[:50])
    return html.Div([
        ui.card("Waiting for me", html.Div(waiting_table(user), id="waiting-wrap")),
        html.Div([
            ui.card("Open requests", ui.table(HEADERS, _request_rows(open_requests), id="open-requests",
                                              empty="No open request.")),
            ui.card("My requests", ui.table(HEADERS, _request_rows(mine), id="my-requests",
                                            empty="You have not requested a promotion.")),
        ], className="grid-2"),
        ui.card("Recently closed", ui.table(HEADERS, _request_rows(closed), id="closed-requests", empty="None.")),
    ], id="req-lists")


def layout(user, query):
    return ui.page(
        TITLE,
        detail(user, query["request"]) if query.get("request") else html.Div(),
        lists(user),
    )


def waiting_table(user):
    if approvals_rules.RULES.allows(user, "approve"):
        return ui.table(HEADERS, _request_rows(governance_data.waiting_for(user)), id="waiting-for-me",
                        empty="Nothing is waiting for you.")
    return ui.notice("Only approvers have requests waiting for them.", "info", id="waiting-for-me")


def decide(user, request_id, verdict: str, comment: str):
    """The dashboard's only write on this page: hand the verdict to the approvals service."""
    from governance.approvals import services

    outcome = services.decide(user, int(request_id), verdict, comment or "")
    return outcome.request


def _fresh(pk):
    from governance.approvals.models import PromotionRequest

    return PromotionRequest.objects.select_related("node", "target_stage", "from_stage", "requester").get(pk=int(pk))


def _verdict() -> str:
    return "reject" if ctx.triggered_id == "req-reject" else "approve"


def register(app):
    @app.callback(
        Output("req-decision-result", "children"), Output("req-info", "children"),
        Output("req-controls", "children"), Output("req-override-wrap", "children"), Output("req-lists", "children"),
        Input("req-approve", "n_clicks"), Input("req-reject", "n_clicks"),
        State("req-comment", "value"), State("req-id", "data"),
        prevent_initial_call=True,
    )
    @auth.guarded(rule=(approvals_rules.RULES, "approve"),
                  refused=lambda message: (ui.refused(message, id="req-refused"),) + (no_update,) * 4,
                  governed=lambda _a, _r, _c, request_id: ("promotion_request", _verdict(), request_id),
                  idle=lambda approve_clicks, reject_clicks, _c, request_id: (
                      (no_update,) * 5 if not (approve_clicks or reject_clicks) or request_id is None else None))
    def on_decide(user, approve_clicks, reject_clicks, comment, request_id):
        from governance.approvals import services
        from governance.approvals.models import PromotionRequest

        unchanged = (no_update,) * 4
        verdict = _verdict()
        try:
            req = decide(user, request_id, verdict, comment)
        except services.ApprovalError as exc:
            auth.audit_refusal(user, "promotion_request", verdict, request_id, exc.message, status=exc.status)
            message = ui.refused(exc.message, id="req-refused")
        except PromotionRequest.DoesNotExist:
            return (ui.refused(f"There is no promotion request #{request_id}.", id="req-refused"),) + unchanged
        else:
            message = ui.notice(f"Recorded your {verdict} of request #{req.pk}; it is now {req.state}.", "ok",
                                id="req-decided")
        fresh = _fresh(request_id)
        return (message, info(fresh), decision_controls(user, fresh), override_controls(user, fresh),
                lists(user).children)

    @app.callback(
        Output("req-override-result", "children"), Output("req-info", "children", allow_duplicate=True),
        Output("req-controls", "children", allow_duplicate=True),
        Output("req-override-wrap", "children", allow_duplicate=True),
        Input("req-override-go", "n_clicks"),
        State("req-override-gate", "value"), State("req-override-reason", "value"), State("req-id", "data"),
        prevent_initial_call=True,
    )
    @auth.guarded(rule=(approvals_rules.RULES, "override"),
                  refused=lambda message: (ui.refused(message, id="req-override-refused"),) + (no_update,) * 3,
                  governed=lambda _n, gate, _reason, request_id: ("promotion_request", "override", request_id),
                  idle=lambda n_clicks, _g, _r, request_id: (
                      (no_update,) * 4 if not n_clicks or request_id is None else None))
    def on_override(user, n_clicks, gate, reason, request_id):
        from governance.approvals import services
        from governance.approvals.models import PromotionRequest

        unchanged = (no_update,) * 3
        try:
            services.override_gate(user, int(request_id), gate or "", reason or "")
        except services.ApprovalError as exc:
            return (ui.refused(exc.message, id="req-override-refused"),) + unchanged
        except PromotionRequest.DoesNotExist:
            return (ui.refused(f"There is no promotion request #{request_id}.", id="req-override-refused"),) + unchanged
        fresh = _fresh(request_id)
        return (ui.notice(f"Gate {gate.replace('_', ' ')} overridden on request #{fresh.pk}; the reason is in the "
                          "audit log.", "ok", id="req-overridden"),
                info(fresh), decision_controls(user, fresh), override_controls(user, fresh))
