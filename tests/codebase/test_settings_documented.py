"""Settings declared once: what governance/settings.py reads from the environment (its env_*("NAME") calls,
parsed with ast) is exactly what docs/settings.md lists, secrets also come from NAME_FILE, and product code
reads settings, not the environment."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "governance" / "settings.py"
TABLE = ROOT / "docs" / "settings.md"
PRODUCT = ("common", "lineage", "governance", "connectors", "dashboard")
# Modules that may read the environment themselves, and why.
READS_ENVIRONMENT = {
    "common/env.py": "the typed readers governance/settings.py uses",
    "governance/wsgi.py": "points Django at its settings (DJANGO_SETTINGS_MODULE), as Django's template does",
    "governance/celery.py": "the same for Celery's entry point",
    "governance/audit/offline_verify.py": "a standalone verifier, run without Django (AUDIT_HMAC_KEY)",
    "governance/archive/verify.py": "a standalone verifier, run without Django (AUDIT_HMAC_KEY, ARCHIVE_ZIP_*)",
    "connectors/mlflow/client.py": "hands MLflow's client its credentials the way it reads them (its own env)",
    "connectors/viya/client.py": "honours requests' own CA bundle variables when building its session",
}


def _env_calls(path: Path) -> dict[str, set[str]]:
    """reader name (env_str, env_secret, ...) -> the variable names it is called with."""
    calls: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("env_")
                and node.args and isinstance(node.args[0], ast.Constant)):
            calls.setdefault(node.func.id, set()).add(node.args[0].value)
    return calls


def _documented(text: str) -> set[str]:
    """The names in backticks in the first cell of every table row."""
    names = set()
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            first = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", first))
    return names


def test_every_setting_read_is_documented_and_every_documented_one_is_read():
    read = set().union(*_env_calls(SETTINGS).values())
    documented = _documented(TABLE.read_text())
    assert {"undocumented": sorted(read - documented), "stale": sorted(documented - read)} == \
        {"undocumented": [], "stale": []}


def test_secrets_say_they_can_come_from_a_file():
    secrets = _env_calls(SETTINGS).get("env_secret", set())
    assert {"SECRET_KEY", "AUDIT_HMAC_KEY", "CONNECTOR_SECRET_KEY"} <= secrets
    text = TABLE.read_text()
    assert sorted(name for name in secrets if f"`{name}_FILE`" not in text) == []


def test_the_table_parser_sees_rows(tmp_path):
    doc = "| variable | default | meaning |\n|---|---|---|\n| `A_B`, `CC` | `DEFAULT` | uses `NOT_ME` |\n"
    assert _documented(doc) == {"A_B", "CC"}
    settings = tmp_path / "s.py"
    settings.write_text('X = env_int("X_ONE", 1)\nY = env_secret("Y_TWO")\nZ = os.environ.get("Z")\n')
    assert _env_calls(settings) == {"env_int": {"X_ONE"}, "env_secret": {"Y_TWO"}}


def _environment_reads(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"} and \
                isinstance(node.value, ast.Name) and node.value.id == "os":
            lines.append(node.lineno)
    return lines


def test_product_code_reads_settings_not_the_environment():
    offenders = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "governance/settings.py" or rel in READS_ENVIRONMENT:
                continue
            offenders += [f"{rel}:{line}" for line in _environment_reads(path)]
    assert offenders == []


def test_settings_module_does_not_look_for_a_test_runner():
    text = SETTINGS.read_text()
    assert "pytest" not in text and "sys.modules" not in text
