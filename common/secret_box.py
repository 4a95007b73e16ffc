"""Secrets stored in the database (connector passwords, client secrets and tokens; approval webhook
secrets) encrypted at rest with Fernet. Shared here because connectors and approvals both store them.

The key comes from CONNECTOR_SECRET_KEY (a Fernet key) or, when unset, is derived from SECRET_KEY so the
embedded default works without configuration.
"""
from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

REDACTED = "********"


def _fernet() -> Fernet:
    key = settings.CONNECTOR_SECRET_KEY
    if not key:
        key = base64.urlsafe_b64encode(hashlib.sha256(("connector-secrets:" + settings.SECRET_KEY).encode()).digest())
    return Fernet(key)


def encrypt(secrets: dict) -> str:
    if not secrets:
        return ""
    return _fernet().encrypt(json.dumps(secrets, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise ValueError("connector secrets cannot be decrypted: CONNECTOR_SECRET_KEY changed?") from None


def redact(secrets: dict) -> dict:
    return {name: REDACTED for name in secrets}
