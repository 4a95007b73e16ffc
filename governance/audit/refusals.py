"""Every refused attempt at a governed write is audited, by one mechanism rather than per view.

Refusals reach the client in many ways: DRF's permission check (403), a service's ApprovalError turned into
JSON by a view mixin (403 four-eyes, 409 repeated vote, stale or too-early decision or execution, override
refused), the archive's hold and bundle conflicts (409), a dashboard-less caller hitting a role it lacks. What
they share is the answer: an authenticated caller's write under /api/ answered 403, 409 or 423. So the entry is
written here, after the view has answered and its transaction has rolled back (the refused action left
nothing else behind), in a transaction of its own: `<object type>.<action>.refused`, with the actor and
request id of the request, the reason the caller was given, and what was asked (method, path, status, code).

Anonymous callers (401) are not recorded: there is no actor to name, and anyone could fill the trail.
A service that already wrote its own refusal entry in the same request (promotion.approve_refused, which
keeps the gate checklist the approver was shown) is not recorded twice.
"""
from __future__ import annotations

import json
import logging

from common.audit import context

log = logging.getLogger(__name__)

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
REFUSAL_STATUSES = {403, 409, 423}


def _what(request) -> tuple[str, str, str]:
    """(object type, action, object id) of the refused request, from its route."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "api", request.method.lower(), ""
    func = match.func
    initkwargs = getattr(func, "initkwargs", {}) or {}
    object_type = initkwargs.get("basename") or match.url_name or "api"
    actions = getattr(func, "actions", None) or {}
    action = actions.get(request.method.lower()) or request.method.lower()
    object_id = next((str(v) for v in match.kwargs.values()), "")
    return object_type.replace("-", "_"), action.replace("-", "_"), object_id


def _reason(response) -> tuple[str, str]:
    try:
        body = json.loads(response.content or b"{}")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    detail = body.get("detail", "")
    if not isinstance(detail, str):
        detail = json.dumps(detail, ensure_ascii=False)
    return str(body.get("error", "")), detail[:1000]


def record_refused(user, object_type: str, action: str, object_id, reason: str, *, details: dict,
                   request_id: str = "", client_ip: str | None = None) -> None:
    """The one way a refusal is written (the API's middleware below, the dashboard's callbacks): once per
    request, as `<object type>.<action>.refused` under the caller's name and request id."""
    from governance.audit.models import AuditEntry
    from governance.audit.recorder import record

    if request_id and AuditEntry.objects.filter(request_id=request_id, action__endswith="refused").exists():
        return
    ctx = context.for_user(user, request_id=request_id or None, client_ip=client_ip)
    record(f"{object_type}.{action}.refused", object_type, "" if object_id is None else str(object_id), ctx=ctx,
           reason=reason, after=details)


def record_refusal(request, response) -> None:
    object_type, action, object_id = _what(request)
    code, detail = _reason(response)
    record_refused(request.user, object_type, action, object_id, detail or code,
                   details={"status": response.status_code, "error": code, "method": request.method,
                            "path": request.path},
                   request_id=getattr(request, "request_id", ""), client_ip=request.META.get("REMOTE_ADDR"))


class RefusalAuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (response.status_code in REFUSAL_STATUSES and request.method in WRITE_METHODS
                and request.path.startswith("/api/")):
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                try:
                    record_refusal(request, response)
                except Exception:
                    log.exception("could not audit the refusal of %s %s", request.method, request.path)
        return response
