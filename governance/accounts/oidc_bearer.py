"""OpenID Connect access tokens (JWTs) as API Bearer tokens, for service accounts.

A machine gets a token from the organisation's provider (client credentials) for this API's audience
(OIDC_API_AUDIENCE) and sends it like a personal token. The signature is checked against the issuer's
JWKS (fetched through discovery, cached, and fetched again when a token names a key id it does not hold:
the provider rotated its keys); iss, aud, exp and nbf are checked; the roles come from the groups claim
exactly as at a browser sign-in (governance.accounts.oidc), evaluated on every request.

The cost per request is the signature check and one indexed query for the linked user and its groups;
the roles are written only when the claims changed them.
"""
from __future__ import annotations

import threading
import time

import requests
from django.conf import settings
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from rest_framework import exceptions

from governance.accounts import oidc
from governance.accounts.models import OidcIdentity

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
LEEWAY_SECONDS = 30
# A token naming an unknown key id fetches the JWKS again, but not more often than this (an attacker
# must not be able to make every request a round trip to the provider).
REFETCH_AFTER_SECONDS = 30


def looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and value.startswith("eyJ")


class _Jwks:
    def __init__(self):
        self._lock = threading.Lock()
        self._by_issuer: dict[str, tuple[float, KeySet]] = {}

    def get(self, issuer: str, *, refresh: bool = False) -> KeySet:
        now = time.monotonic()
        with self._lock:
            cached = self._by_issuer.get(issuer)
        ttl = settings.OIDC_JWKS_CACHE_SECONDS
        if cached and now - cached[0] < (REFETCH_AFTER_SECONDS if refresh else ttl):
            return cached[1]
        timeout = 10
        meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=timeout)
        meta.raise_for_status()
        keys = requests.get(meta.json()["jwks_uri"], timeout=timeout)
        keys.raise_for_status()
        key_set = KeySet.import_key_set(keys.json())
        with self._lock:
            self._by_issuer[issuer] = (now, key_set)
        return key_set

    def clear(self):
        with self._lock:
            self._by_issuer.clear()


JWKS = _Jwks()


def _decode(cfg: oidc.OidcConfig, value: str) -> dict:
    try:
        key_set = JWKS.get(cfg.issuer)
    except (requests.RequestException, ValueError, KeyError, JoseError) as exc:
        raise exceptions.AuthenticationFailed(f"The identity provider's keys cannot be read now: {type(exc).__name__}.") from None
    try:
        try:
            token = jwt.decode(value, key_set, algorithms=ALGORITHMS)
        except InvalidKeyIdError:
            # A key id we do not hold: the provider may have rotated its keys.
            token = jwt.decode(value, JWKS.get(cfg.issuer, refresh=True), algorithms=ALGORITHMS)
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": cfg.issuer},
            aud={"essential": True, "value": cfg.api_audience},
            exp={"essential": True},
            sub={"essential": True},
        )
        registry.validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise exceptions.AuthenticationFailed(f"Invalid access token: {exc}") from None
    except requests.RequestException:
        raise exceptions.AuthenticationFailed("The identity provider's keys cannot be read now.") from None
    return token.claims


def authenticate_jwt(value: str):
    """(user, claims) for a valid access token, or AuthenticationFailed."""
    cfg = oidc.config()
    if cfg is None or not cfg.api_audience:
        raise exceptions.AuthenticationFailed("Invalid token.")
    claims = _decode(cfg, value)
    from governance.accounts.authentication import set_roles_from_groups, user_and_groups

    try:
        roles = oidc.roles_for(cfg, claims)
    except oidc.OidcRefused as exc:
        raise exceptions.AuthenticationFailed(f"Access token refused: {exc}") from None
    user, identity, groups = user_and_groups(OidcIdentity, "subject", claims["sub"], extra=("issuer", cfg.issuer))
    if identity is not None and {g for g in groups if g in oidc.ALL_ROLES} == roles:
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        set_roles_from_groups(user, groups)  # the common case: one query, no write
        return user, claims
    try:
        user = oidc.user_for_claims(cfg, claims, service=True)
    except oidc.OidcRefused as exc:
        raise exceptions.AuthenticationFailed(f"Access token refused: {exc}") from None
    return user, claims
