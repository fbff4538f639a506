"""Declaring gaps: validation, duplicates, the read-only view, lookups."""

from __future__ import annotations

import importlib
import sys
import threading
import types
from pathlib import Path

import attrs
import pytest

import compat
from tests.compat.helpers import Capture, declare


def test_declare_returns_a_frozen_record(registry: compat.Registry) -> None:
    gap = registry.declare(
        id="os.access.effective_ids",
        function="os.access",
        aspect="effective_ids",
        level="fine",
        explanation="effective ids are not supported",
    )
    assert (gap.id, gap.function, gap.aspect) == (
        "os.access.effective_ids",
        "os.access",
        "effective_ids",
    )
    assert gap.level is compat.Level.FINE
    assert gap.explanation == "effective ids are not supported"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        gap.level = compat.Level.SEVERE  # type: ignore[misc]


def test_gap_levels_accept_python_names_and_numbers(registry: compat.Registry) -> None:
    assert declare(registry, "a", level="ERROR").level is compat.Level.SEVERE
    assert declare(registry, "b", level=15).level is compat.Level.CONFIG
    assert declare(registry, "c", level=compat.Level.FINEST).level is compat.Level.FINEST


def test_declaring_an_id_twice_names_the_id(registry: compat.Registry) -> None:
    declare(registry, "os.umask.fixed")
    with pytest.raises(compat.DuplicateGapError, match=r"'os\.umask\.fixed'"):
        declare(registry, "os.umask.fixed", aspect="other")
    assert len(registry.view()) == 1


def test_duplicate_is_a_value_error(registry: compat.Registry) -> None:
    declare(registry, "x")
    with pytest.raises(ValueError, match="already declared"):
        declare(registry, "x", explanation="another reason")


def test_the_same_declaration_again_returns_the_first_gap(registry: compat.Registry) -> None:
    first = declare(registry, "x")
    assert declare(registry, "x") is first
    assert len(registry.view()) == 1


def test_a_module_whose_first_import_was_interrupted_imports_again(
    registry: compat.Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A library module declares its gaps at import; a Ctrl-C or a time limit can land after
    # the declaration and before the import finishes, and the retry must not fail for ever.
    holder = types.SimpleNamespace(registry=registry, interrupt=True)
    monkeypatch.setitem(sys.modules, "_gap_holder", holder)
    (tmp_path / "_declaring_module.py").write_text(
        "import _gap_holder\n"
        "GAP = _gap_holder.registry.declare(id='m.gap', function='m.f', aspect='a',\n"
        "                                   level='fine', explanation='e')\n"
        "if _gap_holder.interrupt:\n"
        "    raise KeyboardInterrupt\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "_declaring_module", raising=False)
    with pytest.raises(KeyboardInterrupt):
        importlib.import_module("_declaring_module")
    holder.interrupt = False
    module = importlib.import_module("_declaring_module")

    assert module.GAP is registry.require("m.gap")
    monkeypatch.delitem(sys.modules, "_declaring_module")


def test_registries_are_independent(registry: compat.Registry) -> None:
    other = compat.Registry(logger_root="tests.compat.other")
    declare(registry, "same.id")
    declare(other, "same.id")
    assert registry.view().require("same.id") is not other.view().require("same.id")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("gap_id", ""),
        ("gap_id", "has space"),
        ("gap_id", ".starts.with.dot"),
        ("function", "access"),
        ("function", "os."),
        ("function", "os access"),
        ("function", "1os.access"),
        ("aspect", ""),
        ("aspect", "  "),
        ("aspect", "two\nlines"),
        ("explanation", ""),
        ("explanation", "first line\nsecond line"),
        ("explanation", "carriage\rreturn"),
        ("level", "OFF"),
        ("level", "ALL"),
        ("level", 0),
        ("level", 12),
        ("level", "LOUD"),
        ("level", None),
    ],
)
def test_bad_declarations_raise_value_error(
    registry: compat.Registry, field: str, value: object
) -> None:
    with pytest.raises(ValueError, match=r"invalid|must be"):
        declare(registry, **{field: value})  # type: ignore[arg-type]
    assert len(registry.view()) == 0


@pytest.mark.parametrize("field", ["gap_id", "function", "aspect", "explanation"])
def test_non_text_fields_raise_type_error(registry: compat.Registry, field: str) -> None:
    with pytest.raises(TypeError):
        declare(registry, **{field: 42})  # type: ignore[arg-type]


def test_view_iterates_in_declaration_order(registry: compat.Registry) -> None:
    ids = ["os.umask", "io.open", "os.access"]
    for gap_id in ids:
        declare(registry, gap_id)
    view = registry.view()
    assert [gap.id for gap in view] == ids
    assert len(view) == 3


def test_view_is_live_and_read_only(registry: compat.Registry) -> None:
    view = registry.view()
    assert len(view) == 0
    gap = declare(registry)
    assert gap in view
    assert gap.id in view
    assert "missing" not in view
    assert 42 not in view
    assert not hasattr(view, "declare")
    with pytest.raises(AttributeError):
        view.extra = 1  # type: ignore[attr-defined]


def test_a_gap_of_another_registry_is_not_in_the_view(registry: compat.Registry) -> None:
    declare(registry, "shared")
    stranger = declare(compat.Registry(logger_root="tests.compat.stranger"), "shared")
    assert stranger not in registry.view()


def test_get_returns_none_and_require_raises_lookup_error(registry: compat.Registry) -> None:
    view = registry.view()
    assert view.get("missing") is None
    with pytest.raises(compat.UnknownGapError, match="'missing'") as raised:
        view.require("missing")
    assert isinstance(raised.value, LookupError)
    assert not isinstance(raised.value, KeyError)


def test_gap_module_names_the_logger(registry: compat.Registry, captured: Capture) -> None:
    cases = {
        "os.access": f"{registry.root_logger.name}.os",
        "io.open": f"{registry.root_logger.name}.io",
        "os.path.exists": f"{registry.root_logger.name}.os.path",
    }
    for number, (function, logger) in enumerate(cases.items()):
        declare(registry, f"gap{number}", function=function).hit()
        assert captured.records[-1].name == logger


def test_default_logger_hierarchy_is_python_compatibility() -> None:
    registry = compat.Registry()
    assert registry.root_logger.name == "python.compatibility"
    handler = Capture()
    registry.root_logger.addHandler(handler)
    try:
        registry.configure(level=compat.Level.ALL)
        declare(registry, "any", function="os.access").hit()
    finally:
        registry.root_logger.removeHandler(handler)
    assert [record.name for record in handler.records] == ["python.compatibility.os"]


def test_bad_logger_root_is_rejected() -> None:
    with pytest.raises(ValueError, match="logger root"):
        compat.Registry(logger_root="")
    with pytest.raises(ValueError, match="logger root"):
        compat.Registry(logger_root="has space")


def test_concurrent_declarations_of_one_id_let_exactly_one_win(registry: compat.Registry) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def contender() -> None:
        barrier.wait()
        try:
            declare(registry, "contested", explanation=f"reason {threading.get_ident()}")
        except compat.DuplicateGapError:
            outcomes.append("duplicate")
        else:
            outcomes.append("declared")

    threads = [threading.Thread(target=contender) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["declared"] + ["duplicate"] * 7
    assert len(registry.view()) == 1
