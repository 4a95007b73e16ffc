"""Test doubles, demo generators and bench helpers live in devtools/, outside the product (issue 15): the
product's packages never import it, and the wheel built from pyproject.toml does not ship it. A product
module that imported devtools would work in a checkout and fail only once installed from the wheel."""
import ast
import importlib.util
import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["common", "governance", "lineage", "connectors", "dashboard"]


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, with the line: `import a.b`, `from a import b` (as `a.b`), and
    `importlib.import_module("a.b")` / `__import__("a.b")` with a literal name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def _product_files():
    return sorted(p for package in PRODUCT for p in (ROOT / package).rglob("*.py"))


def test_the_scan_sees_the_product_and_recognises_an_import_of_devtools(tmp_path):
    assert len(_product_files()) > 100
    probe = tmp_path / "probe.py"
    probe.write_text("import devtools.viya\nfrom devtools.kubeflow import demo\n"
                     "import importlib\nimportlib.import_module('devtools.dashboard')\n")
    assert [name for _, name in _imports(probe) if name.split(".")[0] == "devtools"] == [
        "devtools.viya", "devtools.kubeflow", "devtools.kubeflow.demo", "devtools.dashboard"]


def test_no_product_module_imports_devtools():
    offenders = [f"{path.relative_to(ROOT)}:{line} imports {name}"
                 for path in _product_files() for line, name in _imports(path)
                 if name.split(".")[0] == "devtools"]
    assert offenders == []


def test_the_wheel_leaves_devtools_tests_and_bench_out():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    shipped = find_packages(where=str(ROOT), include=include)
    assert "devtools" in find_packages(where=str(ROOT)), "the scan must see devtools to prove it is left out"
    assert {"governance", "lineage", "connectors", "dashboard", "common"} <= set(shipped)
    assert [p for p in shipped if p.split(".")[0] in ("devtools", "tests", "bench")] == []


def test_devtools_is_importable_and_installed_where_the_tests_run():
    from django.apps import apps

    assert importlib.util.find_spec("devtools") is not None
    assert apps.is_installed("devtools")
