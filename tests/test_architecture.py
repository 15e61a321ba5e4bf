"""The package's import graph, read from the source with `ast` (module-level and function-level imports alike):
no import cycle between hub2lite modules, and no module imports another module's underscore names (private
*modules* such as `_files.py` are fine; `from .x import _name` is not). Low modules import no higher one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "hub2lite"
#: Modules every other module may build on; they import no hub2lite module outside this set.
LOW = {"hub2lite.errors", "hub2lite.specs", "hub2lite._files", "hub2lite.tflite_file", "hub2lite._converter",
       "hub2lite.report.format"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _base(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = importer.split(".")
    package = parts if _is_package(importer) else parts[:-1]
    package = package[:len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def _type_only(tree: ast.AST) -> set[int]:
    """ids of the import statements under `if TYPE_CHECKING:` (never executed)."""
    return {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for stmt in node.body for n in ast.walk(stmt)}


def _imports(name: str, *, runtime: bool = False) -> list[tuple[str, str | None, int]]:
    """(imported hub2lite module, imported name or None, line) for every import statement in the module;
    `runtime`: without those under `if TYPE_CHECKING:`."""
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    skip = _type_only(tree) if runtime else set()
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names if a.name.split(".")[0] == "hub2lite"]
        elif isinstance(node, ast.ImportFrom):
            base = _base(name, node)
            if base.split(".")[0] != "hub2lite":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub, None, node.lineno) if sub in MODULES else (base, alias.name, node.lineno))
    return found


def _graph(*, runtime: bool = False) -> dict[str, set[str]]:
    return {name: {target for target, _, _ in _imports(name, runtime=runtime) if target in MODULES and target != name}
            for name in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_reader_sees_function_level_and_relative_imports():
    imports = _imports("hub2lite.cli")
    assert any(t.startswith("hub2lite.commands") for t, _, _ in imports)  # imported inside functions
    assert ("hub2lite.report.analysis" in _graph()["hub2lite.sweep"])  # `from .report.analysis import` in a function
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert "hub2lite.load" in _graph()["hub2lite._converter"]  # `if TYPE_CHECKING:` import of EntryPoint
    assert "hub2lite.load" not in _graph(runtime=True)["hub2lite._converter"]


def test_no_import_cycles():
    """Type-only imports count too: a cycle through annotations still ties two modules together."""
    cycles = _cycles(_graph())
    assert not cycles, "import cycles between hub2lite modules: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_module_imports_another_modules_private_names():
    bad = [f"{MODULES[name].relative_to(PACKAGE.parent)}:{line} imports {target}.{imported}"
           for name in MODULES for target, imported, line in _imports(name)
           if imported and imported.startswith("_") and not imported.startswith("__") and target != name]
    assert not bad, "private names imported across modules:\n" + "\n".join(bad)


@pytest.mark.parametrize("low", sorted(LOW & set(MODULES)))
def test_low_modules_import_no_higher_module(low):
    """At run time: a low module may name a higher module's type in an annotation (`if TYPE_CHECKING:`)."""
    higher = sorted(t for t in _graph(runtime=True)[low] if t not in LOW)
    assert not higher, f"{low} imports {higher}"


def test_reports_depend_on_no_stage():
    """report/ formats results: it imports nothing of hub2lite outside itself (no TensorFlow, no stages)."""
    outside = {f"{name} imports {target}" for name in MODULES if name.startswith("hub2lite.report")
               for target in _graph()[name] if not target.startswith("hub2lite.report")}
    assert not outside, sorted(outside)
