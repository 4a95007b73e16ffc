"""Secrets from files (NAME_FILE), as container platforms mount them: the service starts with its keys in
files and uses their content; a file that cannot be read, or a key given twice, stops it with the name."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.env import env_secret

ROOT = Path(__file__).resolve().parents[2]


def test_a_secret_comes_from_its_file_without_the_trailing_newline(tmp_path, monkeypatch):
    secret = tmp_path / "key"
    secret.write_text("s3cret value\n")
    monkeypatch.delenv("LL_T_KEY", raising=False)
    monkeypatch.setenv("LL_T_KEY_FILE", str(secret))
    assert env_secret("LL_T_KEY") == "s3cret value"


def test_without_a_file_the_variable_or_the_default(monkeypatch):
    monkeypatch.delenv("LL_T_KEY_FILE", raising=False)
    monkeypatch.delenv("LL_T_KEY", raising=False)
    assert env_secret("LL_T_KEY", "fallback") == "fallback"
    monkeypatch.setenv("LL_T_KEY", "from-env")
    assert env_secret("LL_T_KEY", "fallback") == "from-env"


def test_both_or_an_unreadable_file_is_refused_with_the_name(tmp_path, monkeypatch):
    monkeypatch.setenv("LL_T_KEY", "a")
    monkeypatch.setenv("LL_T_KEY_FILE", str(tmp_path / "key"))
    with pytest.raises(ValueError, match="LL_T_KEY and LL_T_KEY_FILE are both set"):
        env_secret("LL_T_KEY")
    monkeypatch.delenv("LL_T_KEY")
    with pytest.raises(ValueError, match="LL_T_KEY_FILE=.* cannot be read"):
        env_secret("LL_T_KEY")


def test_the_service_starts_with_its_keys_in_files(tmp_path):
    files = {"SECRET_KEY": "k" * 50, "AUDIT_HMAC_KEY": "a" * 40, "CONNECTOR_SECRET_KEY":
             "Y29ubmVjdG9yLXNlY3JldC1rZXktZm9yLXRlc3RzLTE=\n"}
    env = {k: v for k, v in os.environ.items() if k not in {*files, "DEBUG", "PYTEST_CURRENT_TEST"}}
    for name, value in files.items():
        (tmp_path / name).write_text(value + "\n")
        env[name + "_FILE"] = str(tmp_path / name)
    env.update({"DEBUG": "0", "DJANGO_SETTINGS_MODULE": "governance.settings", "LL_DATA_DIR": str(tmp_path)})
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.SECRET_KEY, s.AUDIT_HMAC_KEY, s.CONNECTOR_SECRET_KEY)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [files["SECRET_KEY"], files["AUDIT_HMAC_KEY"], files["CONNECTOR_SECRET_KEY"].strip()]

    env["SECRET_KEY_FILE"] = str(tmp_path / "missing")
    refused = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "SECRET_KEY_FILE=" in refused.stderr
