"""Error bodies as Marquez answers them (Dropwizard's `{"code": N, "message": "..."}`), with this project's
own `error` / `detail` keys beside them, so that both Marquez clients and ours read the same answer."""
from __future__ import annotations

from rest_framework import exceptions, status
from rest_framework.response import Response

_CODES = {400: "invalid_request", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
          405: "method_not_allowed", 429: "throttled"}


class MarquezError(Exception):
    def __init__(self, status_code: int, message: str, error: str | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.error = error or _CODES.get(status_code, "error")


class BadRequest(MarquezError):
    def __init__(self, message: str, error: str | None = None):
        super().__init__(400, message, error)


class NotFound(MarquezError):
    def __init__(self, message: str):
        super().__init__(404, message)


def body(status_code: int, message: str, error: str | None = None) -> dict:
    return {"code": status_code, "message": message, "error": error or _CODES.get(status_code, "error"),
            "detail": message}


def response(status_code: int, message: str, error: str | None = None, headers=None) -> Response:
    return Response(body(status_code, message, error), status=status_code, headers=headers)


def from_exception(exc: Exception) -> Response | None:
    """Our own errors and DRF's (authentication, permission, throttling, method) in Marquez's shape; None
    for anything else (left to DRF, which answers 500 as the rest of the API does)."""
    if isinstance(exc, MarquezError):
        return response(exc.status_code, exc.message, exc.error)
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        code = exc.status_code
        headers = {}
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            code = status.HTTP_401_UNAUTHORIZED
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        return response(code, str(detail), getattr(exc, "default_code", None) if code not in _CODES else None,
                        headers=headers or None)
    return None
