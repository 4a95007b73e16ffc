"""The layers of docs/architecture.md, read from the code: every import (module level or inside a function:
a deferred import is still a dependency) of every module of ours must go in an allowed direction, and the
packages must form no cycle. Parsed with ast, so nothing is imported or run."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Package -> the packages of ours it may import (besides itself).
ALLOWED = {
    "common": set(),
    "lineage": {"common"},
    "governance": {"lineage", "common"},
    "connectors": {"governance", "lineage", "common"},
    "dashboard": {"connectors", "governance", "lineage", "common"},
}
# The project's wiring (settings, URL map, WSGI and Celery entry points) lives in the governance package but
# assembles every app, as any Django project module does: it may import them all.
PROJECT_MODULES = {"governance.settings", "governance.urls", "governance.wsgi", "governance.celery"}
# Known exceptions, each to be removed by the change named beside it (a stale entry fails the test too).
EXEMPT: set[tuple[str, str]] = set()
# Not shipped: the tests, the benchmarks and the development package (test doubles, demo generators, load_demo),
# which may import anything and which no product package imports (test_no_product_imports_devtools.py).
NOT_PRODUCT = {"tests", "bench", "devtools"}


def _packages() -> set[str]:
    return {p.parent.name for p in ROOT.glob("*/__init__.py")} - NOT_PRODUCT


def _modules():
    for package in sorted(_packages()):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield (".".join(parts[:-1]) if parts[-1] == "__init__" else ".".join(parts)), path


def _imports(module: str, path: Path) -> set[str]:
    """Absolute names of the modules `path` imports (relative imports resolved against `module`)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                found.add(".".join([*base, node.module] if node.module else base))
            else:
                found.add(node.module)
    return found


def _package_edges() -> dict[tuple[str, str], list[str]]:
    """(importer package, imported package) -> the importing modules, for imports between our packages,
    leaving out the project's wiring and the EXEMPT pairs."""
    ours = _packages()
    edges: dict[tuple[str, str], list[str]] = {}
    used_exemptions = set()
    for module, path in _modules():
        if module in PROJECT_MODULES:
            continue
        source = module.split(".")[0]
        for imported in _imports(module, path):
            target = imported.split(".")[0]
            if target not in ours or target == source:
                continue
            if (module, target) in EXEMPT:
                used_exemptions.add((module, target))
                continue
            edges.setdefault((source, target), []).append(f"{module} imports {imported}")
    assert EXEMPT - used_exemptions == set(), "exempted imports that no longer exist: remove them from EXEMPT"
    return edges


def test_every_package_has_a_layer():
    assert _packages() - ALLOWED.keys() == set(), "a new top-level package needs its place in ALLOWED"


def test_imports_go_in_the_allowed_directions():
    wrong = sorted(line for (source, target), lines in _package_edges().items()
                   if target not in ALLOWED.get(source, set()) for line in lines)
    assert wrong == []


def test_no_cycle_between_packages():
    graph: dict[str, set[str]] = {}
    for source, target in _package_edges():
        graph.setdefault(source, set()).add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert sorted(p for p in graph if reaches(p, p, {p})) == []


def test_the_check_sees_a_wrong_direction(tmp_path, monkeypatch):
    """The parser finds deferred and relative imports, so the test above can fail."""
    module = tmp_path / "lineage" / "sub" / "thing.py"
    module.parent.mkdir(parents=True)
    module.write_text("def f():\n    from governance.audit import recorder\nfrom ..kinds import NodeKind\n")
    assert _imports("lineage.sub.thing", module) == {"governance.audit", "lineage.kinds"}
    init = tmp_path / "lineage" / "sub" / "__init__.py"
    init.write_text("from . import thing\nfrom .. import store\n")
    assert _imports("lineage.sub", init) == {"lineage.sub", "lineage"}
