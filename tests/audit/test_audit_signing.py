"""Checkpoints are signed with HMAC-SHA256 by default or Ed25519 when a key is configured; both verify on
the server and offline, and a key rotation keeps old checkpoints verifiable."""
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.audit import chain, ed25519, recorder, signing
from governance.audit.verify import verify_chain

# RFC 8032, section 7.1, TEST 1.
RFC_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
RFC_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
RFC_SIGNATURE = (
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
    "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def test_pure_python_ed25519_matches_rfc_8032_and_cryptography():
    assert ed25519.verify(bytes.fromhex(RFC_PUBLIC), b"", bytes.fromhex(RFC_SIGNATURE))
    assert not ed25519.verify(bytes.fromhex(RFC_PUBLIC), b"x", bytes.fromhex(RFC_SIGNATURE))
    for _ in range(5):
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        message = os.urandom(40)
        signature = bytearray(key.sign(message))
        assert ed25519.verify(public, message, bytes(signature))
        signature[10] ^= 1
        assert not ed25519.verify(public, message, bytes(signature))
        assert not ed25519.verify(public, message + b"!", key.sign(message))
    assert not ed25519.verify(b"short", b"", bytes.fromhex(RFC_SIGNATURE))


@pytest.mark.django_db
def test_hmac_checkpoint_by_default(settings):
    recorder.record("thing.create", "thing", 1)
    cp = recorder.checkpoint()
    assert cp.algorithm == chain.HMAC_SHA256
    assert cp.key_id == chain.hmac_key_id(settings.AUDIT_HMAC_KEY.encode())
    assert settings.AUDIT_HMAC_KEY not in cp.key_id
    assert chain.hmac_verify(settings.AUDIT_HMAC_KEY.encode(), cp.signed_fields(), cp.signature)
    assert verify_chain().ok


@pytest.mark.django_db
def test_ed25519_checkpoint_when_a_key_is_configured(settings, tmp_path):
    settings.AUDIT_ED25519_PRIVATE_KEY = RFC_SECRET
    recorder.record("thing.create", "thing", 1)
    cp = recorder.checkpoint()
    assert cp.algorithm == chain.ED25519 and cp.key_id == chain.ed25519_key_id(bytes.fromhex(RFC_PUBLIC))
    assert ed25519.verify(bytes.fromhex(RFC_PUBLIC), chain.checkpoint_message(cp.signed_fields()), bytes.fromhex(cp.signature))
    assert verify_chain().ok
    # A PEM file works too.
    pem = tmp_path / "audit-key.pem"
    pem.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    settings.AUDIT_ED25519_PRIVATE_KEY = str(pem)
    assert signing.current_signer().algorithm == chain.ED25519
    assert signing.current_signer().key_id != cp.key_id


@pytest.mark.django_db
def test_a_bad_key_setting_is_a_clear_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.AUDIT_ED25519_PRIVATE_KEY = "/nonexistent/key.pem"
    with pytest.raises(ImproperlyConfigured, match="AUDIT_ED25519_PRIVATE_KEY"):
        signing.current_signer()
    settings.AUDIT_ED25519_PRIVATE_KEY = ""
    settings.AUDIT_HMAC_KEY = ""
    with pytest.raises(ImproperlyConfigured, match="AUDIT_HMAC_KEY"):
        signing.current_signer()


@pytest.mark.django_db
def test_rotated_hmac_key_keeps_old_checkpoints_verifiable(settings):
    old = settings.AUDIT_HMAC_KEY
    recorder.record("thing.create", "thing", 1)
    recorder.checkpoint()
    settings.AUDIT_HMAC_KEY = "a-new-key-" + "z" * 20
    recorder.record("thing.create", "thing", 2)
    recorder.checkpoint()
    result = verify_chain()
    assert not result.ok and "not among the keys" in result.first_break.reason
    settings.AUDIT_HMAC_PREVIOUS_KEYS = [old]
    result = verify_chain()
    assert result.ok and result.checkpoints_verified == 2


@pytest.mark.django_db
def test_switching_from_hmac_to_ed25519_keeps_both_verifiable(settings):
    recorder.record("thing.create", "thing", 1)
    recorder.checkpoint()
    settings.AUDIT_ED25519_PRIVATE_KEY = RFC_SECRET
    recorder.record("thing.create", "thing", 2)
    recorder.checkpoint()
    result = verify_chain()
    assert result.ok and result.checkpoints_verified == 2


def test_system_checks_catch_a_bad_signing_setup(settings):
    from governance.audit.checks import DEV_HMAC_KEY, signing_key

    settings.DEBUG = False
    settings.AUDIT_HMAC_KEY = DEV_HMAC_KEY
    assert [c.id for c in signing_key()] == ["audit.W001"]
    settings.AUDIT_HMAC_KEY = "a-real-secret-" + "q" * 30
    assert signing_key() == []
    settings.AUDIT_ED25519_PRIVATE_KEY = "not-a-key"
    assert [c.id for c in signing_key()] == ["audit.E001"]
    settings.AUDIT_ED25519_PRIVATE_KEY = ""
    settings.AUDIT_CHECKPOINT_EVERY = -1
    assert [c.id for c in signing_key()] == ["audit.E002"]
