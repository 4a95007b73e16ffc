"""Which key signs checkpoints, and which keys verify them.

HMAC-SHA256 with `settings.AUDIT_HMAC_KEY` is the default. When an Ed25519 private key is configured
(`AUDIT_ED25519_PRIVATE_KEY`: 64 hex characters of seed, or a path to a PKCS#8 PEM file) it signs instead,
because then an outside auditor can check checkpoints with the public key alone, without a shared secret.
Old checkpoints stay verifiable after a rotation while their key is listed in `AUDIT_HMAC_PREVIOUS_KEYS`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from governance.audit import chain


@dataclass(frozen=True)
class Signer:
    algorithm: str
    key_id: str
    sign: Callable[[dict], str]
    # Hex public key for Ed25519 (shipped in exports as a hint); empty for HMAC.
    public_key: str = ""


def _hmac_keys() -> list[bytes]:
    current = settings.AUDIT_HMAC_KEY or ""
    if not current:
        raise ImproperlyConfigured("AUDIT_HMAC_KEY must be set: audit checkpoints are signed with it")
    previous = settings.AUDIT_HMAC_PREVIOUS_KEYS or []
    return [k.encode("utf-8") for k in [current, *previous]]


def _ed25519_private():
    raw = (settings.AUDIT_ED25519_PRIVATE_KEY or "").strip()
    if not raw:
        return None
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        if len(raw) == 64 and all(c in "0123456789abcdefABCDEF" for c in raw):
            return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(raw))
        key = serialization.load_pem_private_key(Path(raw).read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ImproperlyConfigured(f"AUDIT_ED25519_PRIVATE_KEY is neither 64 hex characters nor a readable PEM: {exc}")
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured("AUDIT_ED25519_PRIVATE_KEY is a PEM key but not an Ed25519 one")
    return key


def _public_bytes(private) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def current_signer() -> Signer:
    private = _ed25519_private()
    if private is not None:
        public = _public_bytes(private)
        return Signer(
            algorithm=chain.ED25519,
            key_id=chain.ed25519_key_id(public),
            sign=lambda fields: private.sign(chain.checkpoint_message(fields)).hex(),
            public_key=public.hex(),
        )
    key = _hmac_keys()[0]
    return Signer(algorithm=chain.HMAC_SHA256, key_id=chain.hmac_key_id(key), sign=lambda fields: chain.hmac_sign(key, fields))


def verification_keys() -> dict[str, tuple[str, bytes]]:
    """key_id -> (algorithm, key) for every key this deployment can verify with."""
    keys = {chain.hmac_key_id(k): (chain.HMAC_SHA256, k) for k in _hmac_keys()}
    private = _ed25519_private()
    if private is not None:
        public = _public_bytes(private)
        keys[chain.ed25519_key_id(public)] = (chain.ED25519, public)
    return keys


def fast_ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def signature_problem(fields: dict, keys: dict[str, tuple[str, bytes]] | None = None) -> str | None:
    """None when the checkpoint's signature is good with a configured key; otherwise why not."""
    return chain.signature_problem(fields, verification_keys() if keys is None else keys, fast_ed25519_verify)
