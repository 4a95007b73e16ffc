"""Secure defaults with DEBUG off: no start without a real AUDIT_HMAC_KEY (as for SECRET_KEY), and none
without CONNECTOR_SECRET_KEY once connector credentials are stored (system check connectors.E001, which
gunicorn's entry point governance.wsgi runs too)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks

ROOT = Path(__file__).resolve().parents[2]


def _child(env_changes: dict[str, str | None]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in {"SECRET_KEY", "DEBUG", "AUDIT_HMAC_KEY", "AUDIT_ED25519_PRIVATE_KEY", "PYTEST_CURRENT_TEST"}}
    env.update({k: v for k, v in env_changes.items() if v is not None})
    env["DJANGO_SETTINGS_MODULE"] = "governance.settings"
    return subprocess.run([sys.executable, "-c", "import django; django.setup(); print('started')"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("key", [None, "dev-audit-key-change-me", "short-key"], ids=["unset", "dev default", "short"])
def test_refuses_to_start_without_a_real_audit_key(key):
    refused = _child({"DEBUG": "0", "SECRET_KEY": "k" * 50, "AUDIT_HMAC_KEY": key})
    assert refused.returncode != 0 and "started" not in refused.stdout
    assert "AUDIT_HMAC_KEY is not set, is the development default" in refused.stderr


def test_starts_with_a_real_audit_key_or_in_debug():
    assert "started" in _child({"DEBUG": "0", "SECRET_KEY": "k" * 50, "AUDIT_HMAC_KEY": "a" * 40}).stdout
    assert "started" in _child({"DEBUG": "1"}).stdout


@pytest.mark.django_db
def test_stored_connector_credentials_need_their_own_key(settings):
    from connectors.models import ConnectorConfig
    from connectors.checks import connector_key_problem

    settings.DEBUG = False
    settings.CONNECTOR_SECRET_KEY = ""
    config = ConnectorConfig.objects.create(name="viya", kind="viya", settings={"url": "https://viya.example"})
    assert connector_key_problem() is None  # no credentials stored: nothing to protect
    config.set_secrets({"password": "p"})
    config.save()
    # Run as runserver, migrate and every management command run them (no tags, no databases named).
    errors = [e for e in checks.run_checks() if e.id == "connectors.E001"]
    assert len(errors) == 1 and "CONNECTOR_SECRET_KEY is not set" in errors[0].msg and "viya" in errors[0].msg
    settings.CONNECTOR_SECRET_KEY = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI="
    assert connector_key_problem() is None
    settings.CONNECTOR_SECRET_KEY, settings.DEBUG = "", True
    assert connector_key_problem() is None


@pytest.mark.django_db
def test_the_wsgi_entry_point_refuses_to_serve(settings, monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from connectors.models import ConnectorConfig
    import governance.wsgi as wsgi

    settings.DEBUG, settings.CONNECTOR_SECRET_KEY = False, ""
    config = ConnectorConfig(name="kf", kind="kubeflow", settings={})
    config.set_secrets({"token": "t"})
    config.save()
    with pytest.raises(ImproperlyConfigured, match="CONNECTOR_SECRET_KEY"):
        wsgi._refuse_insecure_start()
