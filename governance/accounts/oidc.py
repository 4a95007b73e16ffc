"""OpenID Connect: the provider's configuration, and who a set of claims makes a person locally.

Sign-in goes through Authlib (governance.accounts.views): discovery from OIDC_ISSUER, the authorization
code flow with PKCE (S256), state and nonce kept in the session, the ID token checked against the
provider's JWKS. This module turns the verified claims into a local user: found by (issuer, sub), never
by username (a name can be reassigned at the provider; an existing local account is never taken over),
and given exactly the roles OIDC_ROLE_MAP derives from the OIDC_GROUPS_CLAIM claim — evaluated at every
sign-in, so a person removed from a group at the provider loses the role at their next sign-in.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from governance.accounts.models import OidcIdentity
from common.roles import ADMIN, ALL_ROLES, ensure_groups
from common.audit import context


class OidcRefused(Exception):
    """Claims that may not sign in here (shown to the person, and audited as a failed login)."""


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    groups_claim: str
    username_claim: str
    role_map: tuple[tuple[str, tuple[str, ...]], ...]
    api_audience: str

    @property
    def metadata_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def parse_role_map(text: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """"idp-group=role,other-group=role" (several groups may give one role, a group several roles).
    A role that does not exist is a configuration error at start-up, not a silently ignored line."""
    mapping: dict[str, list[str]] = {}
    for item in filter(None, (part.strip() for part in re.split(r"[,\n]", text or ""))):
        group, sep, role = item.rpartition("=")
        group, role = group.strip(), role.strip()
        if not sep or not group or role not in ALL_ROLES:
            raise ImproperlyConfigured(
                f"OIDC_ROLE_MAP entry {item!r}: write GROUP=ROLE with ROLE one of {', '.join(ALL_ROLES)}")
        mapping.setdefault(group, []).append(role)
    return tuple((g, tuple(r)) for g, r in mapping.items())


@functools.lru_cache(maxsize=8)
def _read_secret(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"OIDC_CLIENT_SECRET_FILE={path!r} cannot be read: {exc}") from None


def config() -> OidcConfig | None:
    """The configuration as the settings say now (read per call so that a test's `settings` override takes
    effect); None when OIDC_ISSUER is unset (OIDC off)."""
    issuer = settings.OIDC_ISSUER
    if not issuer:
        return None
    secret_file = settings.OIDC_CLIENT_SECRET_FILE
    return OidcConfig(
        issuer=issuer.rstrip("/"),
        client_id=settings.OIDC_CLIENT_ID,
        client_secret=_read_secret(secret_file) if secret_file else "",
        scopes=settings.OIDC_SCOPES,
        groups_claim=settings.OIDC_GROUPS_CLAIM,
        username_claim=settings.OIDC_USERNAME_CLAIM,
        role_map=parse_role_map(settings.OIDC_ROLE_MAP),
        api_audience=settings.OIDC_API_AUDIENCE,
    )


def groups_in(claims: dict, claim: str) -> set[str]:
    value = claims.get(claim)
    if value is None:
        return set()
    if isinstance(value, str):
        return set(value.split())
    if isinstance(value, (list, tuple)):
        return {str(v) for v in value}
    raise OidcRefused(f"the {claim!r} claim is neither a list nor a string")


def roles_for(cfg: OidcConfig, claims: dict) -> set[str]:
    groups = groups_in(claims, cfg.groups_claim)
    return {role for group, roles in cfg.role_map if group in groups for role in roles}


def _username(cfg: OidcConfig, claims: dict) -> str:
    name = claims.get(cfg.username_claim) or claims.get("client_id") or claims.get("sub")
    if not isinstance(name, str) or not name.strip():
        raise OidcRefused(f"no usable {cfg.username_claim!r} claim")
    return name.strip()[:150]


def user_for_claims(cfg: OidcConfig, claims: dict, *, service: bool = False):
    """The local user for verified claims, created on first sign-in, roles set from the claims. Audited
    under the provider's name (the provider, not the person, decides the roles)."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise OidcRefused("the token has no subject (sub)")
    roles = roles_for(cfg, claims)
    with context.acting_as(_provider_actor(cfg)), transaction.atomic():
        identity = OidcIdentity.objects.select_related("user").filter(issuer=cfg.issuer, subject=subject).first()
        if identity is None:
            username = _username(cfg, claims)
            User = get_user_model()
            if User.objects.filter(username=username).exists():
                raise OidcRefused(f"the username {username!r} belongs to another account here (a local account, "
                                  "or another subject of a provider); an administrator must link or rename it")
            try:
                with transaction.atomic():
                    user = User.objects.create_user(username=username, email=str(claims.get("email") or "")[:254])
                    user.set_unusable_password()
                    user.save(update_fields=["password"])
                    OidcIdentity.objects.create(user=user, issuer=cfg.issuer, subject=subject, is_service=service)
            except IntegrityError:
                # Two first sign-ins at once: the other one made the link.
                identity = OidcIdentity.objects.select_related("user").get(issuer=cfg.issuer, subject=subject)
                user = identity.user
        else:
            user = identity.user
        if not user.is_active:
            raise OidcRefused("this account is deactivated here")
        apply_roles(user, roles)
    return user


def apply_roles(user, roles: set[str]) -> None:
    """Make the user's role groups exactly `roles` (other groups are left alone); admins get the Django
    admin site (is_staff), and lose it with the role. The group and user signals audit each change."""
    ensure_groups()
    held = set(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))
    if held - roles:
        user.groups.remove(*Group.objects.filter(name__in=held - roles))
    if roles - held:
        user.groups.add(*Group.objects.filter(name__in=roles - held))
    staff = ADMIN in roles or user.is_superuser
    if user.is_staff != staff:
        user.is_staff = staff
        user.save()
    user._ll_roles = set(roles) | ({ADMIN} if user.is_superuser else set())


def _provider_actor(cfg: OidcConfig) -> context.AuditContext:
    current = context.current()
    return context.AuditContext(username=f"oidc:{cfg.issuer}", service=f"oidc:{cfg.issuer}",
                                request_id=current.request_id, client_ip=current.client_ip)
