"""Errors as JSON with one shape everywhere: {"error": <code>, "detail": <message or fields>}."""
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework.views import exception_handler


def json_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, Http404):
        code = "not_found"
    elif isinstance(exc, PermissionDenied):
        code = "permission_denied"
    else:
        code = getattr(exc, "default_code", "error")
    if isinstance(data, dict) and "detail" in data and len(data) == 1:
        response.data = {"error": code, "detail": data["detail"]}
    else:
        response.data = {"error": code, "detail": data}
    return response
