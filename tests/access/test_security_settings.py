"""Security settings when not in DEBUG: secure cookies, HSTS, nosniff, frame denial, referrer policy, a
Content-Security-Policy the dashboard still works under, no start without SECRET_KEY, and secrets kept out
of logs and error reports."""
from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.views.debug import ExceptionReporter

from common import security

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "4f1c2d3e4b5a69788796a5b4c3d2e1f0deadbeef"


def _csp(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.django_db
def test_api_answers_carry_the_hardening_headers():
    response = Client().get("/api/health/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    policy = _csp(response)
    assert policy["default-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["script-src"] == ["'self'"] and policy["object-src"] == ["'none'"]


@pytest.mark.django_db
def test_hsts_with_subdomains_over_https_only():
    secure = Client().get("/api/health/", secure=True)
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in Client().get("/api/health/")


def test_session_and_csrf_cookies_are_secure(users):
    client = Client()
    page = client.get("/accounts/login/")
    assert page.cookies[settings.CSRF_COOKIE_NAME]["secure"] is True
    signed_in = client.post("/accounts/login/", {"username": "engineer", "password": "pw-" + "x" * 10})
    assert signed_in.status_code == 302
    cookie = signed_in.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["secure"] is True and cookie["httponly"] is True


def test_dashboard_inline_script_is_allowed_by_hash_not_by_unsafe_inline(users):
    """The page's only inline script (Dash's renderer start-up) must match a hash in script-src, or the
    dashboard would be a blank page in the browser; no 'unsafe-inline' or 'unsafe-eval' is granted."""
    client = Client()
    client.force_login(users["auditor"])
    response = client.get("/dashboard/")
    assert response.status_code == 200
    html = re.sub(r"<!--.*?-->", "", response.content.decode(), flags=re.S)  # e.g. Dash's IE-only warning
    script_src = _csp(response)["script-src"]
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    inline = [body for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
              if "src=" not in attrs and "application/json" not in attrs and body.strip()]
    assert inline, "expected Dash's inline renderer script"
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src
    for src in re.findall(r'<script[^>]*src="([^"]+)"', html):
        assert src.startswith("/"), f"{src} is not served by this site, so 'self' would block it"


def test_swagger_page_gets_only_what_it_needs(users):
    """Served from our own static files (drf-spectacular-sidecar): no CDN in the page or in the policy."""
    client = Client()
    client.force_login(users["engineer"])
    page = client.get("/api/docs/")
    policy = _csp(page)
    assert policy["script-src"] == ["'self'"] and "https://cdn.jsdelivr.net" not in page["Content-Security-Policy"]
    assert _csp(client.get("/api/health/"))["script-src"] == ["'self'"]


def _settings_in_child(env_changes: dict[str, str | None], code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "PYTEST_CURRENT_TEST"}}
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    env["DJANGO_SETTINGS_MODULE"] = "governance.settings"
    return subprocess.run([sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                           + code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_refuses_to_start_without_secret_key_unless_debug():
    refused = _settings_in_child({"DEBUG": "0"}, "print('started')")
    assert refused.returncode != 0 and "started" not in refused.stdout
    assert "SECRET_KEY is not set" in refused.stderr

    hardened = _settings_in_child({"DEBUG": "0", "SECRET_KEY": "k" * 50}, (
        "print(settings.SECRET_KEY == 'k' * 50, settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, "
        "settings.SECURE_HSTS_SECONDS, settings.SECURE_HSTS_INCLUDE_SUBDOMAINS, bool(settings.CONTENT_SECURITY_POLICY))"))
    assert hardened.returncode == 0, hardened.stderr
    assert hardened.stdout.split() == ["True", "True", "True", "31536000", "True", "True"]

    debug = _settings_in_child({"DEBUG": "1"}, (
        "print(settings.SESSION_COOKIE_SECURE, settings.SECURE_HSTS_SECONDS, settings.CONTENT_SECURITY_POLICY)"))
    assert debug.returncode == 0, debug.stderr
    assert debug.stdout.split() == ["False", "0", "None"]


@pytest.mark.parametrize("line, secret", [
    ("Authorization: Bearer " + TOKEN, TOKEN),
    ("headers={'Authorization': 'Token " + TOKEN + "'}", TOKEN),
    ('{"username": "svc", "password": "hunter2-hunter2"}', "hunter2-hunter2"),
    ("POST /oauth/token grant_type=password&username=sas&password=s3cr3t!&client_secret=cs-9", "s3cr3t!"),
    ("POST /oauth/token grant_type=password&username=sas&password=s3cr3t!&client_secret=cs-9", "cs-9"),
    ("retrying with api_key=ak_live_0123456789", "ak_live_0123456789"),
    ('{"access_token":"eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl","expires_in":3600}', "eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl"),
    ("broker redis://worker:p4ssw0rd@127.0.0.1:6379/0 unreachable", "p4ssw0rd"),
    ("SECRET_KEY=abcdef0123456789", "abcdef0123456789"),
])
def test_redact_removes_the_secret_and_keeps_the_rest(line, secret):
    cleaned = security.redact(line)
    assert secret not in cleaned and security.REDACTED in cleaned
    assert cleaned[:6] == line[:6]  # the context stays readable


def test_redact_leaves_ordinary_lines_alone():
    for line in ("harvest kubeflow:kf page 3 of 10 stored 50 nodes", "GET /api/nodes/?kind=token_count 200",
                 "tokenizer model registered", "password reset e-mail sent to alice"):
        assert security.redact(line) == line


def test_configured_log_handlers_redact_before_writing():
    handlers = [h for h in logging.getLogger().handlers
                if any(isinstance(f, security.RedactSecretsFilter) for f in h.filters)]
    assert handlers, "settings.LOGGING should put the redaction filter on the console handler"
    handler = handlers[0]
    stream = io.StringIO()
    old = handler.setStream(stream)
    try:
        log = logging.getLogger("connectors.viya.client")
        log.warning("token refresh failed for %s: Authorization: Bearer %s", "viya.local", TOKEN)
        try:
            raise RuntimeError(f"upstream said: password={TOKEN}")
        except RuntimeError:
            log.exception("harvest failed")
    finally:
        handler.setStream(old)
    written = stream.getvalue()
    assert "viya.local" in written and "harvest failed" in written and "RuntimeError" in written
    assert TOKEN not in written


def test_error_reports_hide_the_authorization_header():
    request = RequestFactory().get("/api/nodes/", HTTP_AUTHORIZATION="Bearer " + TOKEN)
    try:
        raise ValueError("boom")
    except ValueError:
        report = ExceptionReporter(request, *sys.exc_info()).get_traceback_text()
    assert "HTTP_AUTHORIZATION" in report and TOKEN not in report


def _manage_in_child(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in {"SECRET_KEY", "AUDIT_HMAC_KEY", "DEBUG", "PYTEST_CURRENT_TEST"}}
    env.update(DJANGO_SETTINGS_MODULE="governance.settings", DEBUG="0")
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_offline_checks_run_without_a_key_and_nothing_else_does():
    """makemigrations --check (CI, a developer's hook) reads only code and migration files: no key needed.
    Commands that touch the database or serve still refuse to start."""
    checked = _manage_in_child("makemigrations", "--check", "--dry-run")
    assert checked.returncode == 0 and "No changes detected" in checked.stdout, checked.stderr
    for command in (["migrate", "--plan"], ["runserver", "--noreload", "127.0.0.1:1"], ["createsuperuser", "--help"]):
        refused = _manage_in_child(*command)
        assert refused.returncode != 0 and "SECRET_KEY is not set" in refused.stderr, (command, refused.stderr)
    deploy = _manage_in_child("check", "--deploy")  # the deployment check still names the missing keys
    assert "security.W009" in deploy.stderr and "audit.E001" in deploy.stderr, deploy.stderr
