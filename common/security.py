"""Response headers and log hygiene that Django does not provide on its own.

Content-Security-Policy: Django 5.2 has no CSP support, and the one library that does (django-csp) would
be a new dependency for a dozen lines. The policy is a dict in settings (CONTENT_SECURITY_POLICY, None to
turn it off) with per-path additions (CONTENT_SECURITY_POLICY_EXTRA) where a page needs more:

* /dashboard/: Dash writes one inline <script> that starts its renderer. Rather than 'unsafe-inline' the
  policy names that script's hash, which Dash computes itself (`Dash.csp_hashes()`), so an injected script
  still cannot run. The dashboard app registers that provider (`add_script_hashes`, in its ready()): this
  module imports no app of ours. Plotly and the component libraries add <style> elements, hence style 'unsafe-inline'
  (styles cannot run code).
* /api/docs/ needs nothing more: Swagger UI's assets are our static files (drf-spectacular-sidecar) and its
  start-up script a separate request (SpectacularSwaggerSplitView), not an inline script.

Redaction: a token or password that reaches a log line is kept wherever the logs go (files, a log
service, e-mailed error reports), so it is taken out before the line is written: a logging filter on every
handler, and an exception-report filter that also hides the Authorization header, which Django's default
one shows in full (its pattern matches API|TOKEN|KEY|SECRET|PASS|SIGNATURE, not AUTHORIZATION).
"""
from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Callable, Iterable

from django.conf import settings
from django.views.debug import SafeExceptionReporterFilter

REDACTED = "********"


class ContentSecurityPolicyMiddleware:
    """Adds the Content-Security-Policy header to every response that has none yet."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = header_for(request.path, policy)
        return response


def header_for(path: str, policy: dict[str, list[str]]) -> str:
    directives = {name: list(values) for name, values in policy.items()}
    for prefix, extra in settings.CONTENT_SECURITY_POLICY_EXTRA.items():
        if path.startswith(prefix):
            for name, values in extra.items():
                directives.setdefault(name, []).extend(v for v in values if v not in directives.get(name, []))
    for prefix, hashes in _SCRIPT_HASHES.items():
        if path.startswith(prefix):
            directives.setdefault("script-src", []).extend(hashes())
    return "; ".join(" ".join([name, *values]) for name, values in directives.items())


# Path prefix -> a function returning the quoted hashes ('sha256-…') of the inline scripts served there.
_SCRIPT_HASHES: dict[str, Callable[[], Iterable[str]]] = {}


def add_script_hashes(prefix: str, provider: Callable[[], Iterable[str]]) -> None:
    """Allow the inline scripts whose hashes `provider` returns under `prefix`; called once per process
    at most (the scripts are fixed once the app that writes them is built)."""
    _SCRIPT_HASHES[prefix] = lru_cache(maxsize=1)(lambda: tuple(provider()))


# A key that names a secret, then a separator, then the value (JSON, query strings, headers, key=value).
_SECRET_FIELD = re.compile(
    r"""(?ix)
    (?P<key>["']?\b(?:authorization|password|passwd|pwd|secret|client[_-]?secret|api[_-]?key|apikey|
                  access[_-]?token|refresh[_-]?token|id[_-]?token|token|private[_-]?key|secret[_-]?key)\b["']?)
    (?P<sep>\s*[:=]\s*["']?)
    (?:(?P<scheme>bearer|token|basic)\s+)?
    (?P<value>[^\s"'&,;}\]]+)
    """
)
_BEARER = re.compile(r"(?i)\b(bearer|token|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_URL_PASSWORD = re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+@")
# Our own API tokens wherever they appear (governance.accounts.tokens: "llt_" + 36 characters).
_API_TOKEN = re.compile(r"\bllt_[A-Za-z0-9_-]{20,}")


def redact(text: str) -> str:
    """`text` with the values of secret-looking fields, bearer tokens and URL passwords replaced."""

    def field(match: re.Match) -> str:
        scheme = match.group("scheme")
        return f"{match.group('key')}{match.group('sep')}{scheme + ' ' if scheme else ''}{REDACTED}"

    text = _SECRET_FIELD.sub(field, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _API_TOKEN.sub(REDACTED, text)
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)


class RedactSecretsFilter(logging.Filter):
    """Rewrites each record's message (and its traceback text) with `redact`; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the caller's bug; leave the record as it is
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class ExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's error-report filter, also hiding Authorization headers (HTTP_AUTHORIZATION in META)."""

    hidden_settings = re.compile("API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE", flags=re.I)
