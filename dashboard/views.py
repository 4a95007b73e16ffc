"""The one Django view in front of the Dash app: Django decides who is calling, Dash draws the pages.

Dash is a Flask (WSGI) application. Rather than run it on a second port with a second login, every
request under /dashboard/ passes through Django's middleware (session, authentication, CSRF, audit
context) and then this view hands the same WSGI call to Flask with the signed-in user attached to the
environ (see dashboard.auth). One process, one port, one session.

CSRF: Dash's renderer copies the cookie named by `csrf_token_name` into the `X-CSRFToken` header of
every callback POST. The app is configured with Django's cookie name, and this view makes sure Django
issues that cookie with the page, so Django's own CsrfViewMiddleware checks every callback POST
(token plus Origin/Referer) exactly as it checks a form; nothing here is csrf_exempt.
"""
from __future__ import annotations

import io
import json

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.middleware.csrf import get_token
from werkzeug.test import run_wsgi_app

from dashboard.auth import ENVIRON_KEY

# Endpoints the Dash renderer calls with fetch(): an anonymous caller gets a JSON 403, not a login page.
_API_PREFIXES = ("_dash-update-component", "_dash-layout", "_dash-dependencies", "_reload-hash")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade"}


def _forbidden(message: str) -> HttpResponse:
    return HttpResponse(json.dumps({"detail": message}), status=403, content_type="application/json")


def dash_view(request, rest: str = ""):
    user = request.user
    if not user.is_authenticated:
        if rest.startswith(_API_PREFIXES):
            return _forbidden("Sign in first: the dashboard uses your Django session.")
        return redirect_to_login(request.get_full_path())

    # Issue the CSRF cookie with every page so that the renderer can echo it on callback POSTs.
    get_token(request)

    from dashboard.app import get_app

    body = request.body
    environ = dict(request.environ)
    environ.update(
        {
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
            "SCRIPT_NAME": "",
            "PATH_INFO": request.path_info,
            ENVIRON_KEY: user,
            "lineage_ledger.request": request,
        }
    )
    app_iter, status, headers = run_wsgi_app(get_app().server.wsgi_app, environ, buffered=True)
    try:
        content = b"".join(app_iter)
    finally:
        close = getattr(app_iter, "close", None)
        if close:
            close()
    response = HttpResponse(content, status=int(status.split(" ", 1)[0]))
    for name, value in headers.items():
        if name.lower() not in _HOP_BY_HOP:
            response[name] = value
    return response
