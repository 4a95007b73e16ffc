"""Errors as JSON with one shape everywhere: {"error": <code>, "detail": <message or fields>}."""
from rest_framework.views import exception_handler


def json_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    code = getattr(exc, "default_code", "error")
    if isinstance(data, dict) and "detail" in data and len(data) == 1:
        response.data = {"error": code, "detail": data["detail"]}
    else:
        response.data = {"error": code, "detail": data}
    return response
