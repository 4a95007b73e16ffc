"""Errors as JSON with one shape everywhere: {"error": <code>, "detail": <message or fields>}.

DRF's exceptions come through `json_exception_handler`; what Django answers itself under /api/ (an unknown
path, a method no view takes, a crash) through the handlers of governance.api_errors. Anything a view did
not expect is logged and answered as a JSON 500 without its Python text: never a traceback or an SQL
fragment in the body, never HTML to an API client."""
import logging
import re

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response
from rest_framework.views import exception_handler

log = logging.getLogger(__name__)


def json_exception_handler(exc, context):
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
