"""The package's module-level API and its place as the bottom layer."""

from __future__ import annotations

import ast
import logging
import re
import sys
from pathlib import Path

import pytest

import compat
from tests.compat import fakelib
from tests.compat.helpers import declare, run_python

COMPAT_DIRECTORY = Path(compat.__file__).resolve().parent


@pytest.fixture
def isolated_default(registry: compat.Registry, monkeypatch: pytest.MonkeyPatch) -> compat.Registry:
    """Make the module-level functions act on a throwaway registry."""
    monkeypatch.setattr(compat, "_default", registry)
    return registry


def test_module_functions_act_on_the_default_registry(isolated_default: compat.Registry) -> None:
    assert compat.default_registry() is isolated_default
    gap = compat.declare(
        id="api.gap", function="os.open", aspect="api", level="FINE", explanation="via the api"
    )
    assert compat.registry().require("api.gap") is gap
    assert [g.id for g in compat.registry()] == ["api.gap"]
    gap.hit(fd=1)
    compat.hit("api.gap", fd=2)
    compat.hit(gap)
    entry = compat.report().get("api.gap")
    assert entry is not None
    assert entry.count == 3
    assert entry.first_site is not None
    assert entry.first_site.function == "test_module_functions_act_on_the_default_registry"
    compat.reset()
    assert compat.report().gaps == ()
    assert len(compat.registry()) == 1


def test_module_configure(isolated_default: compat.Registry) -> None:
    compat.configure(level="FINER", dedupe="gap")
    assert isolated_default.root_logger.level == compat.Level.FINER
    assert isolated_default.dedupe is compat.Dedupe.GAP
    with pytest.raises(ValueError, match="invalid log level"):
        compat.configure(level=-5)


def _site_function_of_one_hit(gap: compat.Gap) -> str | None:
    compat.reset()
    fakelib.open_file(gap, "/x")
    entry = compat.report().get(gap.id)
    assert entry is not None
    return entry.first_site.function if entry.first_site else None


def test_module_internal_paths(isolated_default: compat.Registry) -> None:
    gap = declare(isolated_default)
    here = "_site_function_of_one_hit"
    compat.add_internal_path(fakelib.DIRECTORY)
    assert _site_function_of_one_hit(gap) == here
    compat.remove_internal_path(fakelib.DIRECTORY)
    assert _site_function_of_one_hit(gap) == "_check"
    compat.add_internal_module("tests.compat.fakelib")
    assert _site_function_of_one_hit(gap) == here
    compat.remove_internal_module("tests.compat.fakelib")
    assert _site_function_of_one_hit(gap) == "_check"


def test_default_registry_configure_sets_python_compatibility(
    default_registry: compat.Registry,
) -> None:
    compat.configure(level="FINE")
    assert logging.getLogger("python.compatibility").level == logging.DEBUG
    assert default_registry.root_logger is logging.getLogger("python.compatibility")


def test_importing_compat_imports_only_the_standard_library_and_attrs() -> None:
    code = (
        "import sys; before = set(sys.modules); import compat, compat.docs; "
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    top_level = {name.partition(".")[0] for name in result.stdout.split()}
    foreign = top_level - set(sys.stdlib_module_names) - {"attrs", "attr", "compat"}
    assert foreign == set()
    assert "posixbackend" not in top_level
    assert "vfs" not in top_level


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(COMPAT_DIRECTORY.glob("*.py")), ids=lambda p: p.name)
def test_no_compat_module_imports_the_layers_above(path: Path) -> None:
    for name in _imported_modules(path):
        assert name.partition(".")[0] not in {"posixbackend", "vfs"}, f"{path.name}: {name}"


def test_public_names_exist() -> None:
    for name in compat.__all__:
        assert hasattr(compat, name), name


def test_the_surface_is_what_the_docs_name() -> None:
    """``__all__`` holds what users call; every ``compat.NAME`` the user docs show is in it."""
    root = COMPAT_DIRECTORY.parent
    docs = [root / "README.md", *root.glob("*/README.md"), *root.glob("*/*.md")]
    named = {
        match
        for doc in docs
        if doc.is_file()
        for match in re.findall(r"\bcompat\.([A-Za-z_]\w*)", doc.read_text(encoding="utf-8"))
    }
    modules = {path.stem for path in COMPAT_DIRECTORY.glob("*.py")} - {"__init__"}
    assert named - modules <= set(compat.__all__)
    assert len(compat.__all__) <= 12  # the few things a user calls, not every helper
