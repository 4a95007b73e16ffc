"""Registry plugin for `viya` connectors (see connectors/registry.py) and the write-back used by approvals.

Secrets (password, client secret, token) come from files on the command line or from the connector's
encrypted secrets; they are handed to the client's auth object and never logged, stored in plain text or
echoed in errors.
"""
from __future__ import annotations

from pathlib import Path

from connectors.retry import RetryPolicy
from connectors.viya.client import ClientCredentialsAuth, PasswordAuth, TokenAuth, ViyaClient
from connectors.viya.harvest import ViyaConnector
from connectors.viya.writeback import execute_promotion  # noqa: F401  (part of this plugin's interface)

# How the dashboard draws this platform's nodes (dashboard/graph_style.py): border colour and style.
NODE_STYLE = ("#f4511e", "dashed")

SETTINGS = {"url", "username", "client_id", "verify_tls", "timeout", "batch", "download_digests", "history",
            "workflows", "relationships", "stitch", "instance", "concurrency"}
SECRETS = {"token", "password", "client_secret"}


def add_arguments(parser) -> None:
    parser.add_argument("--url", help="Viya base URL, e.g. https://viya.example.com")
    parser.add_argument("--token", help="a ready OAuth bearer token")
    parser.add_argument("--username", help="user for the OAuth password grant")
    parser.add_argument("--password-file", help="file holding the password (not the password itself)")
    parser.add_argument("--client-id", help="OAuth client id (password grant: defaults to sas.cli)")
    parser.add_argument("--client-secret-file", help="file holding the OAuth client secret")
    parser.add_argument("--download-digests", action="store_true",
                        help="download model files to compute SHA-256 digests (slower)")
    parser.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")


def _read_secret(path: str | None, what: str) -> str:
    if not path:
        return ""
    try:
        value = Path(path).read_text().strip()
    except OSError as exc:
        raise ValueError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    if not value:
        raise ValueError(f"the {what} file {path} is empty")
    return value


def from_options(options) -> ViyaConnector:
    opts = options if isinstance(options, dict) else vars(options)
    settings = {"url": opts.get("url"), "username": opts.get("username"), "client_id": opts.get("client_id"),
                "download_digests": bool(opts.get("download_digests")), "verify_tls": not opts.get("insecure")}
    secrets = {"token": opts.get("token") or "",
               "password": _read_secret(opts.get("password_file"), "password"),
               "client_secret": _read_secret(opts.get("client_secret_file"), "client secret")}
    settings = {k: v for k, v in settings.items() if v not in (None, "")}
    secrets = {k: v for k, v in secrets.items() if v}
    validate(settings, secrets)
    return build(settings, secrets)


def from_config(config) -> ViyaConnector:
    settings, secrets = dict(config.settings or {}), dict(config.secrets or {})
    validate(settings, secrets)
    return build(settings, secrets)


def validate(settings: dict, secrets: dict) -> None:
    unknown = set(settings) - SETTINGS
    if unknown:
        raise ValueError(f"unknown Viya settings: {', '.join(sorted(unknown))}; known: {', '.join(sorted(SETTINGS))}")
    unknown = set(secrets) - SECRETS
    if unknown:
        raise ValueError(f"unknown Viya secrets: {', '.join(sorted(unknown))}; known: {', '.join(sorted(SECRETS))}")
    url = str(settings.get("url") or "")
    if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1].strip("/")) == 0:
        raise ValueError("a Viya connector needs url: http(s)://host[:port]")
    ways = [bool(secrets.get("token")), bool(settings.get("username") or secrets.get("password")),
            bool(not settings.get("username") and settings.get("client_id") and secrets.get("client_secret"))]
    if sum(ways) != 1:
        raise ValueError("give exactly one way to authenticate: a token, a username with a password, "
                         "or a client id with a client secret")
    if settings.get("username") and not secrets.get("password"):
        raise ValueError("a username needs a password (secret 'password' / --password-file)")
    if secrets.get("password") and not settings.get("username"):
        raise ValueError("a password needs a username")
    for name in ("timeout", "batch", "concurrency"):
        if name in settings:
            try:
                if float(settings[name]) <= 0:
                    raise ValueError
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a positive number") from None


def client_for(settings: dict, secrets: dict, *, policy: RetryPolicy = RetryPolicy()) -> ViyaClient:
    if secrets.get("token"):
        auth = TokenAuth(secrets["token"])
    elif settings.get("username"):
        auth = PasswordAuth(settings["username"], secrets["password"], settings.get("client_id") or "sas.cli",
                            secrets.get("client_secret", ""))
    else:
        auth = ClientCredentialsAuth(settings["client_id"], secrets["client_secret"])
    return ViyaClient(settings["url"], auth, timeout=float(settings.get("timeout") or 30),
                      verify=settings.get("verify_tls", True), policy=policy)


def build(settings: dict, secrets: dict, *, policy: RetryPolicy = RetryPolicy()) -> ViyaConnector:
    return ViyaConnector(client_for(settings, secrets, policy=policy), batch=int(settings.get("batch") or 100),
                         download_digests=bool(settings.get("download_digests")),
                         history=settings.get("history", True), workflows=settings.get("workflows", True),
                         relationships=settings.get("relationships", True), stitch=settings.get("stitch", True),
                         instance=settings.get("instance") or None, concurrency=int(settings.get("concurrency") or 4))


def stitching_copies(instance: str | None = None):
    from connectors.viya.stitching import copies

    return copies(instance)
