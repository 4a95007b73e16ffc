"""JSON answers for what Django, not a DRF view, answers under /api/: an unknown path (404), a server
error (500), and requests refused before any view runs (a body without a content type, NUL characters in
the query string). API clients (marquez-python, openlineage-python, curl scripts) read the error shape of
common.errors; an HTML page gives them an empty message."""
from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

API_PREFIX = "/api/"
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def error(status: int, code: str, detail) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Routed last under /api/ (governance/urls.py), so it answers whatever DEBUG is."""
    return error(404, "not_found", f"No API endpoint at {request.path}; see /api/schema/ for the endpoints.")


def handler404(request, exception=None):
    if request.path.startswith(API_PREFIX):
        return api_not_found(request)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith(API_PREFIX):
        return error(500, "server_error", "The server failed to handle this request; it is logged under this "
                                          "request's X-Request-ID.")
    from django.views.defaults import server_error

    return server_error(request)


class ApiInputMiddleware:
    """Refusals every /api/ endpoint shares, before authentication or any view:

    - a body sent without a Content-Type (415): DRF would otherwise read it as no data at all and a write
      would act on defaults the caller never chose;
    - a NUL character in a query parameter (400): PostgreSQL refuses it inside the query (a 500) where
      SQLite matches nothing, so the two databases would answer differently."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(API_PREFIX):
            refused = self._refusal(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    @staticmethod
    def _refusal(request):
        if request.method in BODY_METHODS and not request.META.get("CONTENT_TYPE", "").strip():
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > 0:
                return error(415, "unsupported_media_type",
                             "The body has no Content-Type; send it as application/json.")
        for key, values in request.GET.lists():
            if "\x00" in key or any("\x00" in v for v in values):
                name = key.replace("\x00", "\\u0000")
                return error(400, "nul_character",
                             {name: [f"The query parameter {name!r} contains a NUL character (\\u0000)."]})
        return None
