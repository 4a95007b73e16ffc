"""The Dash application: the shell (navigation by role), the page router, and every page's callbacks.

Built once per process on first use (`get_app`). Every layout function and callback runs inside the
Django request that `dashboard.views.dash_view` forwarded, so the ORM, the audit context and the
signed-in user (dashboard.auth) are all those of that request.
"""
from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import parse_qs

from dash import Dash, Input, Output, dcc, html
from django.conf import settings

from dashboard import auth, components as ui
from dashboard.pages import PAGES, resolve

PREFIX = "/dashboard/"
_lock = threading.Lock()
_app: Dash | None = None

NAV = [
    ("overview", "Overview", PREFIX),
    ("models", "Models", PREFIX + "models"),
    ("lineage", "Lineage", PREFIX + "lineage"),
    ("approvals", "Approvals", PREFIX + "approvals"),
    ("audit", "Audit log", PREFIX + "audit"),
    ("archive", "Archive", PREFIX + "archive"),
    ("connectors", "Connectors", PREFIX + "connectors"),
]


def _csrf_token() -> str:
    from flask import request
    from django.middleware.csrf import get_token

    django_request = request.environ.get("lineage_ledger.request")
    return get_token(django_request) if django_request is not None else ""


def shell():
    """Called by Dash for every page load: the navigation shows only the pages the user may open."""
    user = auth.current_user()
    if user is None:
        return html.Div(ui.refused("You are not signed in."), id="page")
    from common.roles import roles_of

    roles = sorted(roles_of(user))
    links = [dcc.Link(label, href=href, id=f"nav-{name}", className="nav-link")
             for name, label, href in NAV if auth.can_open(user, name)]
    logout = html.Form(
        [dcc.Input(type="hidden", name="csrfmiddlewaretoken", value=_csrf_token()),
         html.Button("Sign out", type="submit", id="logout", className="link-button")],
        method="post", action="/accounts/logout/", className="logout",
    )
    return html.Div([
        dcc.Location(id="url", refresh=False),
        dcc.Store(id="title-sink"),
        html.Header([
            html.A("Lineage Ledger", href=PREFIX, className="brand"),
            html.Nav(links),
            html.Div([html.Span(user.get_username(), id="whoami"),
                      html.Span(", ".join(roles) or "no role", id="my-roles", className="roles"),
                      html.A("API tokens", href="/accounts/tokens/", id="my-tokens", className="tokens-link"), logout],
                     className="user"),
        ], className="topbar"),
        # Only the page switch shows the spinner; callbacks inside a page must not re-render the whole page.
        dcc.Loading(html.Main(id="page"), type="dot", delay_show=400, target_components={"page": "children"}),
    ])


def _route(pathname: str | None, search: str | None):
    user = auth.current_user()
    if user is None:
        return ui.refused("You are not signed in.")
    path = (pathname or PREFIX)[len(PREFIX):] if (pathname or "").startswith(PREFIX) else ""
    query = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
    found = resolve(path)
    if found is None:
        return ui.page("Not found", ui.notice(f"There is no dashboard page at {pathname}.", "warn"))
    module, args = found
    if not auth.can_open(user, module.PAGE):
        return ui.page(module.TITLE, ui.refused(
            f"Your role does not allow this page. It needs: {' or '.join(auth.PAGE_ROLES[module.PAGE])}.",
            id="page-refused"))
    return module.layout(user, query, *args)


def build() -> Dash:
    app = Dash(
        __name__,
        requests_pathname_prefix=PREFIX,
        routes_pathname_prefix=PREFIX,
        serve_locally=True,
        compress=False,
        use_async=False,
        suppress_callback_exceptions=True,
        assets_folder=str(Path(__file__).parent / "assets"),
        title="Lineage Ledger",
        update_title=None,
        csrf_token_name=settings.CSRF_COOKIE_NAME,
        csrf_header_name="X-CSRFToken",
    )
    app.layout = shell
    app.index_string = app.index_string.replace("<html>", '<html lang="en">', 1)
    # Each page's title is its h1 (read once the page is drawn), so tabs and history entries say where they are.
    app.clientside_callback(
        """function(children) {
            setTimeout(function() {
                const h = document.querySelector('#page h1');
                document.title = (h ? h.innerText.trim() + ' · ' : '') + 'Lineage Ledger';
            }, 0);
            return window.dash_clientside.no_update;
        }""",
        Output("title-sink", "data"), Input("page", "children"))

    @app.callback(Output("page", "children"), Input("url", "pathname"), Input("url", "search"))
    def route(pathname, search):
        return _route(pathname, search)

    for module in PAGES:
        module.register(app)
    return app


def get_app() -> Dash:
    global _app
    if _app is None:
        with _lock:
            if _app is None:
                _app = build()
    return _app
