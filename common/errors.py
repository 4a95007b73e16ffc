"""Errors as JSON with one shape everywhere: {"error": <code>, "detail": <message or fields>}.

A service refuses with a `ServiceError` (a code, an HTTP status and a message) and knows nothing of HTTP
beyond that number; views let it propagate, and `json_exception_handler` (REST_FRAMEWORK's
EXCEPTION_HANDLER) turns it into the body, so no view builds an error body by hand.
DRF's exceptions come through the same handler; what Django answers itself under /api/ (an unknown
path, a method no view takes, a crash) through the handlers of governance.api_errors. Anything a view did
not expect is logged and answered as a JSON 500 without its Python text: never a traceback or an SQL
fragment in the body, never HTML to an API client."""
import logging
import re

from django.core.exceptions import PermissionDenied
from django.db.models import ProtectedError
from django.http import Http404
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response
from rest_framework.views import exception_handler

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A refused action. `extra` adds documented fields next to `error` and `detail` for the few answers
    whose schema names more (the harvest that is already running, the build that could not be queued)."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None, **extra):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra = extra

    @property
    def detail(self) -> dict:
        """Kept for callers that read the extra fields under their older name."""
        return self.extra

    def body(self) -> dict:
        return {"error": self.code, "detail": self.message, **self.extra}


class Invalid(ServiceError):
    status, code = 400, "invalid"


class PermissionRefused(ServiceError):
    status, code = 403, "permission_denied"


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class Unavailable(ServiceError):
    status, code = 503, "unavailable"


def _service_error_response(exc: ServiceError) -> Response:
    return Response(exc.body(), status=exc.status)


def json_exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return _service_error_response(exc)
    if isinstance(exc, ProtectedError):
        return Response({"error": "conflict", "detail": "It is still referenced (other records use it)."},
                        status=409)
    response = exception_handler(exc, context)
    if response is None:
        request = context.get("request")
        log.error("unexpected error in %s", getattr(request, "path", "?"), exc_info=exc)
        return Response({"error": "server_error",
                         "detail": "The server failed to handle this request; it is logged under this request's "
                                   "X-Request-ID."}, status=500)
    data = response.data
    if isinstance(exc, Http404):
        code = "not_found"
    elif isinstance(exc, PermissionDenied):
        code = "permission_denied"
    else:
        code = getattr(exc, "default_code", "error")
        detail = getattr(exc, "detail", None)
        # A code given with the message (ParseError("…", "malformed_json")) names the problem better.
        if isinstance(detail, ErrorDetail) and detail.code and detail.code != code:
            code = detail.code
    data = _json_words(data)
    if isinstance(data, dict) and "detail" in data and len(data) == 1:
        response.data = {"error": code, "detail": data["detail"]}
    else:
        response.data = {"error": code, "detail": data}
    return response


# DRF's and Django's field messages name the Python type of a wrong value ("Expected pk value, received
# str.", 'Expected a list of items but got type "dict".'): the caller sent JSON, so say it in JSON's words.
_PY_TYPES = {"str": "a string", "int": "a number", "float": "a number", "bool": "true/false", "NoneType": "null",
             "dict": "an object", "list": "an array", "Decimal": "a number"}
_TYPE_NAMED = re.compile(r'(received |got type |not )"?(str|int|float|bool|NoneType|dict|list|Decimal)\b"?')


def _json_words(data):
    if isinstance(data, dict):
        return {key: _json_words(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_json_words(value) for value in data]
    if isinstance(data, str) and _TYPE_NAMED.search(data):
        fixed = _TYPE_NAMED.sub(lambda m: m.group(1).replace("got type ", "got ") + _PY_TYPES[m.group(2)], data)
        return ErrorDetail(fixed, getattr(data, "code", None))
    return data
