"""Registry plugin for `mlflow` connectors (see connectors/registry.py), and the write-back approvals use.

Settings: tracking_uri (http(s)://host:port of the tracking server, which also serves its registry),
instance (names the server in node ids; default host:port), batch, page_size, timeout, histories (read
each changed run's metric step history: default on), retry_* like the other connectors. Secret: token (a
bearer token, sent as MLflow's own client sends MLFLOW_TRACKING_TOKEN).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings as django_settings

from connectors.retry import RetryPolicy

SETTINGS = {"tracking_uri", "instance", "batch", "page_size", "timeout", "histories", "retry_attempts",
            "retry_base_delay", "retry_max_delay"}
SECRETS = {"token"}
# How the dashboard draws this platform's nodes (dashboard/graph_style.py): colour and border style.
NODE_STYLE = ("#6a1b9a", "dotted")
LABEL = "MLflow"


def add_arguments(parser) -> None:
    parser.add_argument("--tracking-uri", help="MLflow tracking server, e.g. http://mlflow.example:5000")
    parser.add_argument("--token", help="bearer token for the tracking server (or env MLFLOW_TRACKING_TOKEN)")
    parser.add_argument("--instance", help="name of this MLflow server in node ids (default: its host:port)")
    parser.add_argument("--no-histories", action="store_true", help="do not read metric step histories")


def validate(settings: dict, secrets: dict) -> None:
    unknown = set(settings) - SETTINGS
    if unknown:
        raise ValueError(f"unknown MLflow settings: {', '.join(sorted(unknown))}; known: {', '.join(sorted(SETTINGS))}")
    unknown = set(secrets) - SECRETS
    if unknown:
        raise ValueError(f"unknown MLflow secrets: {', '.join(sorted(unknown))}; known: {', '.join(sorted(SECRETS))}")
    uri = str(settings.get("tracking_uri") or "")
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"an MLflow connector needs tracking_uri: http(s)://host[:port], not {uri!r}")
    for name in ("batch", "page_size", "timeout", "retry_attempts"):
        if name in settings:
            try:
                if float(settings[name]) <= 0:
                    raise ValueError
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a positive number, not {settings[name]!r}") from None
    if "instance" in settings and not isinstance(settings["instance"], str):
        raise ValueError("instance must be a string")


def build(settings: dict, secrets: dict, **kwargs):
    from connectors.mlflow.client import MlflowReader
    from connectors.mlflow.harvest import MlflowConnector

    policy = RetryPolicy(attempts=int(settings.get("retry_attempts", 5)),
                         base_delay=float(settings.get("retry_base_delay", 0.5)),
                         max_delay=float(settings.get("retry_max_delay", 30.0)))
    reader = MlflowReader(settings["tracking_uri"], token=secrets.get("token", ""),
                          timeout=float(settings.get("timeout", 30)), policy=policy,
                          page_size=int(settings.get("page_size", 1000)))
    return MlflowConnector(reader, instance=settings.get("instance") or None, batch=int(settings.get("batch", 200)),
                           histories=bool(settings.get("histories", True)), **kwargs)


def from_options(options):
    opts = options if isinstance(options, dict) else vars(options)
    settings = {"tracking_uri": opts.get("tracking_uri"), "instance": opts.get("instance")}
    if opts.get("no_histories"):
        settings["histories"] = False
    settings = {k: v for k, v in settings.items() if v not in (None, "")}
    token = opts.get("token") or django_settings.MLFLOW_TRACKING_TOKEN
    secrets = {"token": token} if token else {}
    validate(settings, secrets)
    return build(settings, secrets)


def from_config(config):
    settings, secrets = dict(config.settings or {}), dict(config.secrets or {})
    validate(settings, secrets)
    return build(settings, secrets)


def execute_promotion(config, model_version_node, action: dict, **kwargs) -> dict:
    from connectors.mlflow.writeback import execute_promotion as execute

    return execute(config, model_version_node, action, **kwargs)


def stitching_index():
    from connectors.mlflow.stitching import MlflowOriginals

    return MlflowOriginals()


def stitching_copies(instance: str | None = None):
    from connectors.mlflow.stitching import copies

    return copies(instance)
