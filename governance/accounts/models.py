"""API tokens people hold, and the link from an identity provider's subject to a local user.

A token is stored as the SHA-256 of its text, never the text: a reader of the database (a backup, a
replica, a support dump) holds nothing that authenticates. Tokens are random (at least 160 bits), so
nobody can guess one from its hash and a fast unsalted hash is enough; a slow password hash would cost
every API request and add nothing. `prefix` keeps the first characters so that a person can tell their
tokens apart in a list.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    # SHA-256 hex of the token text; the one column a request looks up (unique, hence indexed).
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The token `manage.py create_user` prints (the embedded default's path); `--rotate-token` replaces it.
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def state(self, now=None) -> str:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


class OidcIdentity(models.Model):
    """Who a local user is at an OpenID provider: (issuer, sub) is the only stable identifier there
    (usernames and e-mails change and can be reassigned), so logins find the user through this link."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identities")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    # A machine (client credentials) rather than a person signing in through the browser.
    is_service = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="oidc_identity_issuer_subject")]

    def __str__(self):
        return f"{self.subject} at {self.issuer}"
