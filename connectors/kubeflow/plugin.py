"""The Kubeflow connector as a registry plugin (see connectors/registry.py)."""
from __future__ import annotations

from urllib.parse import urlparse

from django.conf import settings as django_settings

# How the dashboard draws this platform's nodes (dashboard/graph_style.py): border colour and style.
NODE_STYLE = ("#1e88e5", "double")

MLMD_SOURCES = ("mlmd_host", "mlmd_sqlite", "mlmd_mysql_host", "mlmd_postgres_host")
SECRET_NAMES = ("kfp_token", "mlmd_password")
SETTING_NAMES = (
    "kfp_host", "namespace", "instance", "timeout", "verify_ssl", "api_page_size", "mlmd_page_size",
    "retry_attempts", "retry_base_delay", "retry_max_delay", "emit_openlineage", "mlmd_port", "mlmd_timeout", "mlmd_mysql_port",
    "mlmd_postgres_port", "mlmd_database", "mlmd_user", *MLMD_SOURCES,
)


def add_arguments(parser) -> None:
    parser.add_argument("--kfp-host", help="KFP API base URL, e.g. http://ml-pipeline.kubeflow:8888")
    parser.add_argument("--kfp-token", help="Bearer token for the KFP API (or env KFP_TOKEN)")
    parser.add_argument("--namespace", default="", help="KFP namespace (multi-user installs)")
    parser.add_argument("--instance", default="kubeflow", help="Name of this KFP install; prefixes every node id")
    parser.add_argument("--mlmd-host", help="metadata-grpc-service host (production)")
    parser.add_argument("--mlmd-port", type=int, default=8080, help="metadata-grpc-service port")
    parser.add_argument("--mlmd-sqlite", help="Path of an ML Metadata SQLite file")
    parser.add_argument("--mlmd-mysql-host", help="ML Metadata MySQL host")
    parser.add_argument("--mlmd-mysql-port", type=int, default=3306)
    parser.add_argument("--mlmd-postgres-host", help="ML Metadata PostgreSQL host")
    parser.add_argument("--mlmd-postgres-port", type=int, default=5432)
    parser.add_argument("--mlmd-database", default="metadb", help="ML Metadata database name (MySQL/PostgreSQL)")
    parser.add_argument("--mlmd-user", help="ML Metadata database user")
    parser.add_argument("--mlmd-password", help="ML Metadata database password (or env MLMD_PASSWORD)")
    parser.add_argument("--timeout", type=float, default=30.0, help="Seconds before a KFP API request times out")
    parser.add_argument("--page-size", type=int, default=100, help="KFP API page size (the server caps it at 200)")
    parser.add_argument("--mlmd-page-size", type=int, default=200, help="ML Metadata executions per page")


def _settings_from_options(options: dict) -> tuple[dict, dict]:
    settings = {
        "kfp_host": options.get("kfp_host"), "namespace": options.get("namespace") or "",
        "instance": options.get("instance") or "kubeflow", "mlmd_host": options.get("mlmd_host"),
        "mlmd_port": options.get("mlmd_port"), "mlmd_sqlite": options.get("mlmd_sqlite"),
        "mlmd_mysql_host": options.get("mlmd_mysql_host"), "mlmd_mysql_port": options.get("mlmd_mysql_port"),
        "mlmd_postgres_host": options.get("mlmd_postgres_host"),
        "mlmd_postgres_port": options.get("mlmd_postgres_port"), "mlmd_database": options.get("mlmd_database"),
        "mlmd_user": options.get("mlmd_user"), "timeout": options.get("timeout") or 30.0,
        "api_page_size": options.get("page_size") or 100, "mlmd_page_size": options.get("mlmd_page_size") or 200,
    }
    settings = {k: v for k, v in settings.items() if v not in (None, "")}
    secrets = {"kfp_token": options.get("kfp_token") or django_settings.KFP_TOKEN,
               "mlmd_password": options.get("mlmd_password") or django_settings.MLMD_PASSWORD}
    return settings, {k: v for k, v in secrets.items() if v}


def validate(settings: dict, secrets: dict) -> None:
    unknown = sorted(set(settings) - set(SETTING_NAMES))
    if unknown:
        raise ValueError(f"unknown Kubeflow settings: {', '.join(unknown)}; known: {', '.join(SETTING_NAMES)}")
    unknown = sorted(set(secrets) - set(SECRET_NAMES))
    if unknown:
        raise ValueError(f"unknown Kubeflow secrets: {', '.join(unknown)}; known: {', '.join(SECRET_NAMES)}")
    host = settings.get("kfp_host")
    sources = [k for k in MLMD_SOURCES if settings.get(k)]
    if not host and not sources:
        raise ValueError("set kfp_host (KFP API), an ML Metadata source (" + ", ".join(MLMD_SOURCES) + "), or both")
    if len(sources) > 1:
        raise ValueError(f"choose one ML Metadata source, not {', '.join(sources)}")
    if host:
        parsed = urlparse(str(host))
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"kfp_host must be an http(s) URL, not {host!r}")
    for name in ("timeout", "mlmd_port", "api_page_size", "mlmd_page_size", "retry_attempts"):
        if name in settings:
            try:
                ok = float(settings[name]) > 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(f"{name} must be a positive number, not {settings[name]!r}")
    for name in ("instance", "namespace"):
        if name in settings and not isinstance(settings[name], str):
            raise ValueError(f"{name} must be a string")


def from_options(options: dict):
    from connectors.kubeflow.connector import KubeflowConnector

    settings, secrets = _settings_from_options(options)
    validate(settings, secrets)
    return KubeflowConnector.from_settings(settings, secrets)


def from_config(config):
    from connectors.kubeflow.connector import KubeflowConnector

    settings = {"instance": config.name, **config.settings}
    secrets = config.secrets
    validate(settings, secrets)
    return KubeflowConnector.from_settings(settings, secrets)


def emit_openlineage(harvest, **kwargs) -> int:
    """Send the runs `harvest` created or changed as OpenLineage events to OPENLINEAGE_URL."""
    from connectors.kubeflow.openlineage import emit_openlineage as emit

    return emit(harvest, **kwargs)


def stitching_index():
    from connectors.kubeflow.stitching import KubeflowOriginals

    return KubeflowOriginals()


def plan_partitions(connector, cursor_before: dict, **sizes):
    from connectors.kubeflow.partitions import plan_partitions as plan

    return plan(connector, cursor_before, **sizes)


def prepare_rest_partition(connector, spec: dict) -> None:
    from connectors.kubeflow.partitions import prepare_rest

    prepare_rest(connector, spec)


def run_partition(connector, spec: dict, apply_pages, atomically, progress=None):
    from connectors.kubeflow.partitions import run_partition as run

    return run(connector, spec, apply_pages, atomically, progress)


def finish_cursor(cursor: dict, parts: dict) -> dict:
    from connectors.kubeflow.partitions import finish_cursor as finish

    return finish(cursor, parts)
