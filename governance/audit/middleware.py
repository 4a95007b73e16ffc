"""Request id on every response, and the acting user in the audit context for the request's duration."""
from __future__ import annotations

import re
import uuid

from common.audit import context

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


class RequestIdMiddleware:
    """Honours a caller's X-Request-ID when it is sane, otherwise makes one; echoes it on the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = context.set_current(
            context.AuditContext(request_id=request.request_id, client_ip=_client_ip(request), username="anonymous")
        )
        try:
            response = self.get_response(request)
        finally:
            context.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


class AuditActorMiddleware:
    """After session auth: record the session user. Token-authenticated API users are set by the
    authentication class itself, since DRF authenticates inside the view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            token = context.set_current(
                context.for_user(user, request_id=request.request_id, client_ip=_client_ip(request))
            )
            try:
                return self.get_response(request)
            finally:
                context.reset(token)
        return self.get_response(request)
