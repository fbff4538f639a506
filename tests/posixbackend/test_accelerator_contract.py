"""The C accelerator's contract (posixbackend/emulated/accelerator_contract.py): the slots its C
source reads, the ``__accelerated_slots__`` the classes declare and the ``SLOT_READS`` the built
modules export all agree; a class that breaks it leaves the accelerator out, with a logged gap,
and the Python code serves in its place."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

import compat
from posixbackend.emulated import accelerator, accelerator_contract
from posixbackend.emulated.accelerator_contract import DECLARATION, Breach, breaches

ROOT = Path(__file__).resolve().parents[2]
C_SOURCES = {
    "posixbackend._speedups": (ROOT / "posixbackend" / "_speedups.c", accelerator.SPEEDUPS_CLASSES),
    "posixbackend._direntry": (ROOT / "posixbackend" / "_direntry.c", accelerator.DIRENTRY_CLASSES),
}
# one row of a C module's SlotRead table: READ(role, "slot", layout field)
C_READ = re.compile(r'\bREAD\((\w+), "([^"]+)", \w+\)')


def source_reads(path: Path) -> dict[str, tuple[str, ...]]:
    """The slots a C source's SlotRead tables name, by role, in table order."""
    reads: dict[str, tuple[str, ...]] = {}
    for role, slot in C_READ.findall(path.read_text()):
        reads[role] = (*reads.get(role, ()), slot)
    return reads


def c_reads_by_class() -> dict[str, set[str]]:
    """What the C sources read, as {dotted class: slots}."""
    by_class: dict[str, set[str]] = {}
    for path, classes in C_SOURCES.values():
        for role, slots in source_reads(path).items():
            cls = classes[role]
            by_class.setdefault(f"{cls.__module__}.{cls.__qualname__}", set()).update(slots)
    return by_class


def declarations() -> dict[str, set[str]]:
    """Every ``__accelerated_slots__`` in the project's sources, as {dotted class: slots}:
    found by reading the files, so a declaration on a class the C code never reads shows."""
    found: dict[str, set[str]] = {}
    for package in ("posixbackend", "vfs", "compat"):
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.ClassDef):
                    continue
                for statement in node.body:
                    if isinstance(statement, ast.Assign):
                        targets, value = statement.targets, statement.value
                    elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
                        targets, value = [statement.target], statement.value
                    else:
                        continue
                    if any(isinstance(t, ast.Name) and t.id == DECLARATION for t in targets):
                        found[f"{module}.{node.name}"] = set(ast.literal_eval(value))
    return found


def test_the_c_sources_read_slots_of_every_class_given_to_them() -> None:
    for path, classes in C_SOURCES.values():
        reads = source_reads(path)
        assert reads, path  # the pattern still finds the tables
        assert set(reads) == set(classes), path


def test_the_declarations_name_exactly_the_slots_the_c_code_reads() -> None:
    # both ways: every slot read is declared on its class, every declared slot is read
    assert declarations() == c_reads_by_class()


def test_the_declared_names_are_slots_of_their_classes() -> None:
    for module_name, (path, classes) in C_SOURCES.items():
        assert breaches(module_name, source_reads(path), classes) == []


@pytest.mark.parametrize("module_name", sorted(C_SOURCES))
def test_a_built_module_exports_what_its_source_reads_and_is_used(module_name: str) -> None:
    if importlib.util.find_spec(module_name) is None:
        pytest.skip(f"{module_name} is not built")
    module = importlib.import_module(module_name)
    path, _ = C_SOURCES[module_name]
    assert source_reads(path) == module.SLOT_READS
    # a built module that keeps its contract serves (no silent fallback in this tree)
    loaded = accelerator._speedups if module_name.endswith("_speedups") else accelerator._direntry
    assert loaded is module


class Node:
    __slots__ = ("mode", "size")
    __accelerated_slots__ = ("mode",)


class Leaf(Node):
    __slots__ = ("data",)
    __accelerated_slots__ = ("data",)
    renamed = property(lambda self: 0)


def test_a_consistent_contract_has_no_breach() -> None:
    classes = {"node": Node, "leaf": Leaf}
    assert breaches("m", {"node": ("mode",), "leaf": ("data",)}, classes) == []


def test_each_kind_of_breach_names_the_class_and_the_slot() -> None:
    classes = {"node": Node, "leaf": Leaf}
    node, leaf = f"{__name__}.Node", f"{__name__}.Leaf"
    found = breaches(
        "m", {"node": ("mode", "size", "gone"), "leaf": ("renamed",), "other": ("x",)}, classes
    )
    assert found == [
        Breach("m", node, "size", f"not in its {DECLARATION}"),
        Breach("m", node, "gone", f"not in its {DECLARATION}"),
        Breach("m", node, "gone", "not a __slots__ member"),
        Breach("m", leaf, "renamed", f"not in its {DECLARATION}"),
        Breach("m", leaf, "renamed", "not a __slots__ member"),
        Breach("m", "other", "x", "no class given for it"),
    ]
    # a subclass's declaration is its own: the base's slots are not declared for it
    assert breaches("m", {"leaf": ("mode",)}, classes) == [
        Breach("m", leaf, "mode", f"not in its {DECLARATION}")
    ]
    assert found[2].describe() == f"{node}.gone: not a __slots__ member (m)"


def test_a_module_built_from_an_older_source_breaks_the_contract(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the gap's hits go to a registry of this test's own (the default one is the process's)
    registry = compat.Registry(logger_root="tests.posixbackend.accelerator_contract")
    gap = accelerator_contract.CONTRACT_BROKEN
    own = registry.declare(
        id=gap.id,
        function=gap.function,
        aspect=gap.aspect,
        level=gap.level,
        explanation=gap.explanation,
    )
    monkeypatch.setattr(accelerator_contract, "CONTRACT_BROKEN", own)
    assert not accelerator_contract.check(ModuleType("posixbackend._stale"), {})
    entry = registry.report().get(gap.id)
    assert entry is not None
    assert entry.count == 1
    assert dict(entry.examples[0]) == {
        "slot": "posixbackend._stale.SLOT_READS",
        "problem": "posixbackend._stale.SLOT_READS: missing: rebuild it (posixbackend._stale)",
    }


# A child that imports posixbackend with one class changed the way a newcomer might change it:
# ``old`` renamed to ``new`` throughout its module's source (the declaration included), the C
# extension left as built. It prints what served and the gap's report.
CHILD = textwrap.dedent(
    """
    import importlib.abc, importlib.machinery, importlib.util, json, os, sys

    target, old, new = sys.argv[1:4]

    class Renaming(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path=None, target_module=None):
            if name != target:
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)  # the real file
            self.origin = spec.origin
            return importlib.util.spec_from_loader(name, self, origin=spec.origin)

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            with open(self.origin, encoding="utf-8") as file:
                source = file.read()
            assert old in source
            module.__file__ = self.origin
            exec(compile(source.replace(old, new), self.origin, "exec"), module.__dict__)

    finder = Renaming()
    sys.meta_path.insert(0, finder)
    try:
        import posixbackend.switch  # (a bare import posixbackend imports nothing yet)
    finally:
        sys.meta_path.remove(finder)
    import compat
    from posixbackend.emulated import accelerator
    from vfs.memory import MemoryFileSystem

    with posixbackend.backend("managed", file_system=MemoryFileSystem(), cwd="/"):
        emulated = posixbackend.current_emulated()
        os.mkdir("/work")
        with open("/work/a.txt", "w") as file:
            file.write("hello, world")
        fd = os.open("/work/a.txt", os.O_RDONLY)
        first = os.read(fd, 5)
        os.lseek(fd, 7, os.SEEK_SET)
        rest = os.read(fd, 100)
        os.close(fd)
        with open("/work/a.txt", "rb") as file:
            whole = file.read()
            raw_bases = [cls.__name__ for cls in type(file.raw).__mro__]
        names = sorted((entry.name, entry.is_file(), type(entry).__module__)
                       for entry in os.scandir("/work"))
        size = os.stat("/work/a.txt").st_size
    gap = compat.report().get("posixbackend.accelerator.contract_broken")
    print(json.dumps({
        "available": accelerator.AVAILABLE,
        "missing": accelerator.MISSING,
        "direntry": accelerator._direntry is not None,
        "accelerated": emulated.accelerated,
        "raw_bases": raw_bases,
        "results": [first.decode(), rest.decode(), whole.decode(), names, size],
        "gap": gap.as_dict() if gap else None,
    }))
    """
)


def run_broken(target: str, old: str, new: str) -> tuple[dict[str, object], str]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, target, old, new],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout)
    return answer, result.stderr


def expected_results(scandir_module: str) -> list[object]:
    return ["hello", "world", "hello, world", [["a.txt", True, scandir_module]], 12]


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
def test_a_renamed_slot_leaves_the_accelerator_out_with_a_gap() -> None:
    # FdTable._hint, read by offset in _speedups.c, renamed in fdtable.py (declaration too)
    answer, stderr = run_broken("posixbackend.emulated.fdtable", "_hint", "_free_hint")
    assert answer["available"] is False
    assert answer["accelerated"] is False
    assert "does not match the classes it reads" in str(answer["missing"])
    assert answer["direntry"] is True  # _direntry reads only Inode, which still matches
    assert answer["results"] == expected_results("posixbackend.emulated.direntry")
    raw_bases = answer["raw_bases"]
    assert isinstance(raw_bases, list)
    assert "RawFileBase" not in raw_bases  # open()'s raw file: RawFile's Python methods
    assert "RawFile" in raw_bases
    gap = answer["gap"]
    assert isinstance(gap, dict)
    assert gap["count"] == 2
    slots = {example["slot"] for example in gap["examples"]}
    assert slots == {"posixbackend.emulated.fdtable.FdTable._hint"}
    problems = sorted(example["problem"] for example in gap["examples"])
    assert problems == [
        "posixbackend.emulated.fdtable.FdTable._hint: not a __slots__ member "
        "(posixbackend._speedups)",
        "posixbackend.emulated.fdtable.FdTable._hint: not in its __accelerated_slots__ "
        "(posixbackend._speedups)",
    ]
    assert "FdTable._hint" in stderr  # logged (WARNING reaches stderr without configuration)


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
def test_a_renamed_method_the_c_code_calls_leaves_the_accelerator_out_with_a_gap() -> None:
    # RawFile._finish_open, taken by name in configure_raw_file (not a slot)
    answer, stderr = run_broken("posixbackend.emulated.fileio", "_finish_open", "_complete_open")
    assert answer["available"] is False
    assert answer["accelerated"] is False
    assert answer["results"] == expected_results("posixbackend.emulated.direntry")
    gap = answer["gap"]
    assert isinstance(gap, dict)
    assert gap["count"] == 1
    assert "_finish_open" in gap["examples"][0]["problem"]
    assert "_finish_open" in stderr
