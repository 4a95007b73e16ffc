"""The test tree's own rules (docs/architecture.md): tests grouped by area in tests/<area>/, shared helpers
in tests/support/, and no test module importing another (a fixture or helper used twice moves to
tests/support/, so deleting or renaming one test file never breaks another)."""
import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _test_modules():
    return sorted(p for p in TESTS.rglob("test_*.py") if "support" not in p.parts)


def _imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_test_module_imports_another():
    offenders = {}
    for path in _test_modules():
        bad = sorted(m for m in _imported_modules(path) if m.startswith("tests.") and
                     any(part.startswith("test_") for part in m.split(".")))
        if bad:
            offenders[str(path.relative_to(TESTS))] = bad
    assert offenders == {}


def test_test_modules_live_in_an_area_folder():
    assert [str(p.relative_to(TESTS)) for p in _test_modules() if p.parent == TESTS] == []
    for path in _test_modules():
        assert (path.parent / "__init__.py").exists(), f"{path.parent} needs an __init__.py (unique module names)"
