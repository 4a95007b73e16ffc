"""Sign-in pages: the password form (with lockout, switchable off), single sign-on through the
organisation's OpenID provider (Authlib: authorization code flow with PKCE), sign-out, and the page where
people manage their own API tokens."""
from __future__ import annotations

import logging

from authlib.integrations.base_client import OAuthError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.contrib import auth
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from requests import RequestException

from governance.accounts import oidc, tokens
from common.audit import record

log = logging.getLogger(__name__)
OIDC_BACKEND = "governance.accounts.backends.OidcSessionBackend"
_NEXT_KEY = "ll_oidc_next"


def _login_context(request, **extra):
    return {"local_login": settings.LOCAL_PASSWORD_LOGIN, "oidc_enabled": oidc.config() is not None,
            "oidc_name": settings.OIDC_PROVIDER_NAME, **extra}


class LoginView(auth_views.LoginView):
    """Django's form, offering SSO beside it; with LOCAL_PASSWORD_LOGIN off a posted password is refused
    outright (and no backend would accept it: settings drop ModelBackend)."""

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **_login_context(self.request)}

    def post(self, request, *args, **kwargs):
        if not settings.LOCAL_PASSWORD_LOGIN:
            record("auth.login_failed", "login", (request.POST.get("username") or "")[:150],
                   after={"method": "password"}, reason="password sign-in is switched off")
            return render(request, "registration/login.html",
                          _login_context(request, error="Password sign-in is switched off: use single sign-on."),
                          status=403)
        return super().post(request, *args, **kwargs)


# One Authlib registry per configuration (tests change the settings between runs).
_CLIENTS: dict[oidc.OidcConfig, object] = {}


def _client(cfg: oidc.OidcConfig):
    client = _CLIENTS.get(cfg)
    if client is None:
        registry = OAuth()
        client_kwargs = {"scope": cfg.scopes, "code_challenge_method": "S256"}
        if not cfg.client_secret:
            client_kwargs["token_endpoint_auth_method"] = "none"  # a public client: PKCE alone
        client = registry.register("ll", client_id=cfg.client_id, client_secret=cfg.client_secret or None,
                                   server_metadata_url=cfg.metadata_url, client_kwargs=client_kwargs)
        _CLIENTS[cfg] = client
    return client


def _sso_off(request):
    return HttpResponseRedirect(reverse("login") + "?sso=off")


def oidc_login(request):
    cfg = oidc.config()
    if cfg is None:
        return _sso_off(request)
    next_url = request.GET.get("next") or settings.LOGIN_REDIRECT_URL
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        next_url = settings.LOGIN_REDIRECT_URL
    request.session[_NEXT_KEY] = next_url
    try:
        return _client(cfg).authorize_redirect(request, request.build_absolute_uri(reverse("oidc-callback")))
    except (RequestException, OAuthError, ValueError) as exc:
        log.warning("OIDC discovery failed: %s", exc)
        return _failed(request, cfg, f"the identity provider cannot be reached ({type(exc).__name__})", status=502)


def _failed(request, cfg, reason: str, status: int = 403, username: str = ""):
    record("auth.login_failed", "login", username[:150], after={"method": "oidc", "issuer": cfg.issuer}, reason=reason)
    return render(request, "registration/login.html",
                  _login_context(request, error=f"Single sign-on failed: {reason}."), status=status)


def oidc_callback(request):
    cfg = oidc.config()
    if cfg is None:
        return _sso_off(request)
    if "error" in request.GET:
        return _failed(request, cfg, f"the provider answered {request.GET.get('error')!r}")
    try:
        token = _client(cfg).authorize_access_token(request)
        claims = dict(token.get("userinfo") or {})
        if cfg.groups_claim not in claims or cfg.username_claim not in claims:
            # Providers put profile and group claims in the ID token or only at the userinfo endpoint.
            info = _client(cfg).userinfo(token=token)
            if info.get("sub") != claims.get("sub"):
                return _failed(request, cfg, "userinfo names another subject than the ID token")
            claims = {**info, **claims}
    except (OAuthError, RequestException, ValueError, KeyError) as exc:
        return _failed(request, cfg, f"the sign-in could not be completed ({type(exc).__name__}: {exc})")
    try:
        user = oidc.user_for_claims(cfg, claims)
    except oidc.OidcRefused as exc:
        return _failed(request, cfg, str(exc), username=str(claims.get(cfg.username_claim) or claims.get("sub") or ""))
    next_url = request.session.pop(_NEXT_KEY, settings.LOGIN_REDIRECT_URL)
    request._ll_login_method = "oidc"
    auth.login(request, user, backend=OIDC_BACKEND)
    return HttpResponseRedirect(next_url)


@require_http_methods(["POST"])
def logout(request):
    auth.logout(request)
    return HttpResponseRedirect(settings.LOGOUT_REDIRECT_URL)


@login_required
@require_http_methods(["GET", "POST"])
def token_page(request):
    """Create, list and revoke one's own tokens; a new token's text appears on this response only."""
    context = {"shown_once": None, "error": None, "default_days": settings.API_TOKEN_DEFAULT_DAYS,
               "max_days": settings.API_TOKEN_MAX_DAYS}
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            name = (request.POST.get("name") or "").strip()
            days_text = (request.POST.get("expires_in_days") or "").strip()
            try:
                if not name or len(name) > 100:
                    raise tokens.TokenError("give the token a name (at most 100 characters)")
                days = int(days_text) if days_text else None
                token, key = tokens.issue(request.user, name, days=days)
                context["shown_once"] = {"name": token.name, "key": key}
            except ValueError as exc:  # TokenError and a days value that is not a number
                context["error"] = str(exc) if isinstance(exc, tokens.TokenError) else "expiry must be a whole number of days"
                status = 400
        elif action == "revoke":
            token = request.user.api_tokens.filter(pk=request.POST.get("token_id") or 0).first() \
                if (request.POST.get("token_id") or "").isdigit() else None
            if token is None:
                context["error"] = "no such token of yours"
                status = 404
            else:
                tokens.revoke(token, reason="revoked by its owner")
        else:
            context["error"] = "unknown action"
            status = 400
    context["tokens"] = list(request.user.api_tokens.all())
    return render(request, "registration/tokens.html", context, status=status)
