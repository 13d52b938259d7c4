"""The shape of the code that reviews hold us to, checked so that it cannot drift.

- no import cycle between jdzhi's modules, counting imports inside functions too (they must not be
  a way to hide one);
- no module of jdzhi over 500 lines and no function over 80;
- no private module of a dependency imported (``typer._click``, ``reportlab.pdfbase._...``);
- a public module (no ``_`` in its path) of the library packages declares ``__all__``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "jdzhi"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules() -> Iterator[tuple[str, Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path, ast.parse(path.read_text(encoding="utf-8"))


def _imported(name: str, path: Path, tree: ast.Module) -> Iterator[str]:
    """Every module this one imports, wherever the import statement stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _import_graph() -> dict[str, set[str]]:
    modules = {name: (path, tree) for name, path, tree in _modules()}
    graph: dict[str, set[str]] = {}
    for name, (path, tree) in modules.items():
        targets = {target for target in _imported(name, path, tree) if target in modules}
        # importing a package's submodule runs the package first, but a package importing its
        # own submodules is how packages are built, not a cycle
        graph[name] = {target for target in targets if target != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_jdzhi_modules() -> None:
    graph = _import_graph()
    # a package's __init__ re-exporting its submodules is not a cycle with them
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_over_500_lines_and_no_function_over_80() -> None:
    too_long = []
    for name, path, tree in _modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{name}: {lines} lines")
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert too_long == []


def test_no_private_module_of_a_dependency_is_imported() -> None:
    private = []
    for name, path, tree in _modules():
        for target in set(_imported(name, path, tree)):
            if target.startswith("jdzhi") or target.startswith("_"):
                continue
            if any(part.startswith("_") and not part.startswith("__")
                   for part in target.split(".")[:-1] + target.split(".")[-1:]
                   if part):
                private.append(f"{name} imports {target}")
    assert private == []


def test_public_library_modules_declare_all() -> None:
    missing = []
    for name, _path, tree in _modules():
        _, _, rest = name.partition(".")
        if not rest or any(part.startswith("_") for part in name.split(".")):
            continue
        if rest.split(".")[0] not in {"registry", "trace", "similarity"}:
            continue
        declares = any(
            isinstance(node, ast.Assign | ast.AnnAssign)
            and any(isinstance(t, ast.Name) and t.id == "__all__"
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target]))
            for node in tree.body
        )
        if not declares:
            missing.append(name)
    assert missing == []
