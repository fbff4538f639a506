"""The module graph of posixbackend, vfs and compat: no runtime import cycle, and the layers.

Which imports count for a cycle: those that run when a module is first imported, that is
every import statement at module level (in ``try``/``if``/``with`` blocks and class bodies
too), and, for ``import a.b.c``, the packages ``a`` and ``a.b`` whose ``__init__`` runs first.
Not counted: the body of ``if TYPE_CHECKING:`` (never runs) and imports inside functions,
which run when the function is called, after every module has finished loading, and are the
project's deliberate lazy loads (the isolated mode, SQLite's bridge...). A cycle of
module-level imports works only by the order modules happen to load in, and breaks with a
half-initialised module when another entry point loads them first.

The layers (DESIGN.md: imports point down) are checked on every import, function-local ones
included: vfs never imports posixbackend (compat's own rule is tests/compat/test_api.py's),
and the four knots issue 22 untied stay untied.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("posixbackend", "vfs", "compat")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.stmt) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(body: list[ast.stmt], *, in_functions: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements of ``body`` that run on import (and, ``in_functions``, the ones
    in functions too); never those of an ``if TYPE_CHECKING:`` block."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node):
            yield from _imports(node.orelse, in_functions=in_functions)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if in_functions:
                yield from _imports(node.body, in_functions=True)
        else:
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list):
                    statements = [s for s in inner if isinstance(s, ast.stmt)]
                    for handler in inner:
                        if isinstance(handler, ast.ExceptHandler):
                            statements.extend(handler.body)
                    yield from _imports(statements, in_functions=in_functions)


def _known(name: str) -> str | None:
    """The project module ``name`` is (or is inside: a C extension counts as its package)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    names = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        names = [f"{base}.{alias.name}" for alias in node.names] + [base]
    targets = set()
    for name in names:
        known = _known(name)
        if known is None:
            continue
        parts = known.split(".")
        for end in range(1, len(parts) + 1):  # the packages on the way run first
            target = ".".join(parts[:end])
            if target != module and not module.startswith(target + "."):
                targets.add(target)
    return targets


def imports_of(module: str, *, in_functions: bool) -> set[str]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    return {
        target
        for node in _imports(tree.body, in_functions=in_functions)
        for target in _targets(module, node)
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start, first in graph.items():
        if start in index:
            continue
        work = [(start, iter(sorted(first)))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_no_runtime_import_cycle() -> None:
    graph = {module: imports_of(module, in_functions=False) for module in MODULES}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_vfs_never_imports_posixbackend() -> None:
    for module in MODULES:
        if module.split(".")[0] == "vfs":
            above = {t for t in imports_of(module, in_functions=True) if t.startswith("posix")}
            assert not above, f"{module} imports {sorted(above)}"


KNOTS = [
    # (importer prefix, what it must not import, where the thing lives now)
    ("posixbackend.switch.", "posixbackend.switch.block", "current_emulated: switch/guard.py"),
    ("posixbackend.emulated.core", "posixbackend.emulated.files", "_accelerate: backend.py"),
    ("posixbackend.emulated.core", "posixbackend.emulated.fcntlcalls", "_accelerate: backend.py"),
    ("posixbackend.isolation.", "posixbackend.launcher.main", "usage_error: launcher/options"),
    ("posixbackend.permissions.", "posixbackend.switch", "default_file_system: defaultfs.py"),
]


@pytest.mark.parametrize(("importer", "imported", "moved"), KNOTS)
def test_the_untied_knots_stay_untied(importer: str, imported: str, moved: str) -> None:
    for module in MODULES:
        if module.startswith(importer) and module != "posixbackend.switch":
            targets = imports_of(module, in_functions=True)
            assert imported not in targets, f"{module} imports {imported} ({moved})"
