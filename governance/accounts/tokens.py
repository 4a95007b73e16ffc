"""Issuing, rotating and revoking API tokens (see models.ApiToken for how they are stored).

Every path that makes a token goes through `issue`, so the text exists once — in the return value the
caller shows the person — and the audit trail gets one `token.create` entry naming the prefix only.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.accounts import token_cache
from governance.accounts.models import ApiToken
from common.audit import record

# Recognisable by secret scanners; 4 + 36 characters (27 random bytes, 216 bits), the same 40 characters
# as the DRF tokens this replaced, so clients that check the length keep working.
TOKEN_PREFIX = "llt_"
PREFIX_SHOWN = 8


class TokenError(ValueError):
    """A request for a token the settings do not allow (e.g. longer than API_TOKEN_MAX_DAYS)."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(27)


def _audit_data(token: ApiToken) -> dict:
    return {
        "name": token.name,
        "key_prefix": token.prefix,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "is_default": token.is_default,
    }


def expiry_for(days: int | None, *, not_after: dt.datetime | None = None, now: dt.datetime | None = None):
    """The expiry of a token asked to live `days` (None: API_TOKEN_DEFAULT_DAYS). 0 days means "never",
    allowed only when API_TOKEN_MAX_DAYS is 0 (no maximum). `not_after` caps it further (a token minted
    with another token does not outlive it)."""
    now = now or timezone.now()
    default, maximum = settings.API_TOKEN_DEFAULT_DAYS, settings.API_TOKEN_MAX_DAYS
    if days is None:
        days = default
    if days < 0:
        raise TokenError("expires_in_days must be 0 or more")
    if maximum and (days == 0 or days > maximum):
        raise TokenError(f"a token may live at most {maximum} days (API_TOKEN_MAX_DAYS)")
    expires = None if days == 0 else now + dt.timedelta(days=days)
    if not_after is not None and (expires is None or expires > not_after):
        expires = not_after
    return expires


def issue(user, name: str, *, days: int | None = None, is_default: bool = False, not_after=None) -> tuple[ApiToken, str]:
    """A new token for `user`: (the stored row, the text to show once)."""
    key = new_key()
    token = ApiToken.objects.create(
        user=user, name=name, key_hash=hash_key(key), prefix=key[:PREFIX_SHOWN],
        expires_at=expiry_for(days, not_after=not_after), is_default=is_default,
    )
    record("token.create", "token", token.pk, after={**_audit_data(token), "user": user.username})
    return token, key


def revoke(token: ApiToken, *, reason: str = "") -> bool:
    """Revoke once; False when it already was (nothing changes, nothing is recorded)."""
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if not updated:
            return False
        # an UPDATE sends no post_save: the authentication cache is told here
        token_cache.forget(key_hash=token.key_hash)
        token.refresh_from_db(fields=["revoked_at"])
        record("token.revoke", "token", token.pk, before=_audit_data(token),
               after={"revoked_at": token.revoked_at.isoformat()}, reason=reason)
    return True


def rename(token: ApiToken, name: str) -> None:
    before = token.name
    if before == name:
        return
    token.name = name
    token.save(update_fields=["name"])
    record("token.rename", "token", token.pk, before={"name": before}, after={"name": name})


def default_token(user) -> ApiToken | None:
    """The user's live `create_user` token, if any."""
    now = timezone.now()
    for token in user.api_tokens.filter(is_default=True, revoked_at__isnull=True):
        if token.state(now) == "active":
            return token
    return None


def rotate_default(user, *, days: int | None = None) -> str:
    """Revoke the user's default tokens and issue a new one; the new text."""
    for old in user.api_tokens.filter(is_default=True, revoked_at__isnull=True):
        revoke(old, reason="rotated")
    return issue(user, "default", days=days, is_default=True)[1]
