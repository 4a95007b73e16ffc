"""Typed readers for settings taken from environment variables (healthchecks style), used only by
governance/settings.py: every setting is declared there once, and docs/settings.md lists them all
(tests/codebase/test_settings_documented.py parses the calls below to check that table).

Kept tiny on purpose: a setting that is misspelt in the environment should fail loudly at start-up,
not be silently read as a default.
"""
import json
import os
from pathlib import Path


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_secret(name: str, default: str = "") -> str:
    """A secret from the file named by NAME_FILE (as container platforms mount secrets: Docker and
    Kubernetes secrets, systemd credentials), else from NAME. Setting both is refused: which one wins
    would be a guess. The file's trailing newline is not part of the secret."""
    path = os.environ.get(name + "_FILE", "")
    if path and os.environ.get(name):
        raise ValueError(f"{name} and {name}_FILE are both set: set one")
    if path:
        try:
            return Path(path).read_text().rstrip("\r\n")
        except OSError as exc:
            raise ValueError(f"{name}_FILE={path!r} cannot be read: {exc.strerror}") from None
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean (use true/false)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_json(name: str, default: dict | None = None) -> dict:
    """A JSON object, e.g. CELERY_BROKER_TRANSPORT_OPTIONS='{"visibility_timeout": 7200}'."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return dict(default or {})
    try:
        value = json.loads(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not JSON") from None
    if not isinstance(value, dict):
        raise ValueError(f"{name}={raw!r} is not a JSON object")
    return value
