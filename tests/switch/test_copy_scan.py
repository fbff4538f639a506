"""The copy scan's filter in C (``posixbackend._standin.copy_candidates``) against the Python
one (``installation._may_hold``) and the exact scan (``Installation._copies``): on generated
modules it keeps every module the Python filter keeps and every module the exact scan finds a
copy in, and, on modules without odd values, gives exactly the Python filter's answer."""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posixbackend.switch import installation
from posixbackend.switch.installation import Installation
from tests.switch.test_c_standins import NEEDS_C_STAND_INS

pytestmark = NEEDS_C_STAND_INS

MODULE = "generated_module"
FOREIGN = "somewhere_else"


def _wanted(number: int) -> Callable[[], int]:
    def wanted() -> int:
        return number

    wanted.__module__ = FOREIGN
    return wanted


WANTED = [_wanted(number) for number in range(3)]
TABLE: dict[int, tuple[Any, Any]] = {id(w): (w, _wanted(-1)) for w in WANTED}
OTHER = _wanted(99)  # never wanted


class Hostile:
    """A value whose comparison, hashing and unknown attributes raise."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("__eq__")

    def __hash__(self) -> int:
        raise RuntimeError("__hash__")

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"__getattr__ {name}")


class ModuleName:
    """A non-str ``__module__`` that says it equals every name, or none."""

    def __init__(self, equal: bool) -> None:
        self.equal = equal

    def __eq__(self, other: object) -> bool:
        return self.equal

    __hash__ = object.__hash__


class KeywordDict(dict):  # type: ignore[type-arg]
    """A dict subclass as a function's ``__kwdefaults__``."""


class OddStatic(staticmethod):  # type: ignore[type-arg]
    """A staticmethod subclass."""


# (value, odd): odd values are those the C filter may keep where Python's would not
held = st.sampled_from([*WANTED, OTHER, 1, "text", None])


@st.composite
def functions(draw: st.DrawFn, owner: str | None = None) -> tuple[Any, bool]:
    def function(a: Any = None, *, b: Any = None) -> None:
        """A function defined by the generated module (or elsewhere)."""

    function.__module__ = owner or draw(st.sampled_from([MODULE, FOREIGN]))
    function.__defaults__ = tuple(draw(st.lists(held, max_size=3))) or None
    keywords = draw(st.dictionaries(st.sampled_from("bcd"), held, max_size=2))
    odd = draw(st.booleans()) and bool(keywords)
    function.__kwdefaults__ = KeywordDict(keywords) if odd else (keywords or None)
    return function, odd


@st.composite
def members(draw: st.DrawFn) -> tuple[Any, bool]:
    kind = draw(st.sampled_from(["value", "function", "static", "class", "odd static"]))
    if kind == "value":
        return draw(st.one_of(held, st.builds(Hostile))), False
    function, odd = draw(functions())
    inner: Any = draw(st.one_of(held, st.just(function)))
    if kind == "static":
        return staticmethod(inner), odd
    if kind == "class":
        return classmethod(function), odd
    if kind == "odd static":
        return OddStatic(inner), True
    return function, odd


@st.composite
def classes(draw: st.DrawFn) -> tuple[Any, bool]:
    drawn = draw(st.dictionaries(st.sampled_from(["m1", "m2", "m3", "m4"]), members(), max_size=4))
    cls = type("Generated", (), {name: member for name, (member, _) in drawn.items()})
    odd = any(member_odd for _, member_odd in drawn.values())
    owner = draw(st.sampled_from(["own", "foreign", "equal", "unequal"]))
    if owner == "own":
        cls.__module__ = MODULE
    elif owner == "foreign":
        cls.__module__ = FOREIGN
    else:
        cls.__module__ = ModuleName(owner == "equal")  # type: ignore[assignment]
        odd = True
    return cls, odd


@st.composite
def modules(draw: st.DrawFn) -> tuple[types.ModuleType, bool]:
    module = types.ModuleType(MODULE)
    values = draw(
        st.dictionaries(
            st.sampled_from([f"n{i}" for i in range(6)]),
            st.one_of(held.map(lambda v: (v, False)), st.builds(Hostile).map(lambda v: (v, False)),
                      functions(), classes(), st.just((dict, False)), st.just((os, False))),
            max_size=5,
        )
    )  # fmt: skip
    odd = False
    for name, (value, value_odd) in values.items():
        setattr(module, name, value)
        odd |= value_odd
    return module, odd


def _python_keeps(name: str, module: Any) -> bool:
    return installation._may_hold(name, module, TABLE.keys())


def _c_keeps(name: str, module: Any) -> bool:
    from posixbackend import _standin

    return bool(_standin.copy_candidates([(name, module)], TABLE))


def _exact_finds(name: str, module: Any, monkeypatch: pytest.MonkeyPatch) -> bool:
    with monkeypatch.context() as patch:  # the exact scan alone, on every module
        patch.setattr(installation, "_COPY_CANDIDATES", lambda modules, table: modules)
        return bool(list(Installation._copies(TABLE, [(name, module)])))


@settings(max_examples=400, deadline=None)
@given(modules())
def test_same_answer_as_python(drawn: tuple[types.ModuleType, bool]) -> None:
    module, odd = drawn
    python, c = _python_keeps(MODULE, module), _c_keeps(MODULE, module)
    assert c or not python
    if not odd:
        assert c == python


@settings(max_examples=300, deadline=None)
@given(modules())
def test_never_drops_a_module_holding_a_copy(drawn: tuple[types.ModuleType, bool]) -> None:
    module, _ = drawn
    with pytest.MonkeyPatch.context() as monkeypatch:
        found = _exact_finds(MODULE, module, monkeypatch)
    assert _c_keeps(MODULE, module) or not found


def test_loaded_modules_same_answer() -> None:
    """Every module of this process: the same answer for the real os functions."""
    table = {id(v): (v, v) for v in vars(os).values() if callable(v)}
    scanned = [(n, m) for n, m in list(sys.modules.items()) if installation._scanned(n, m)]
    python = [
        (n, m) for n, m in scanned
        # a ModuleType subclass (pygments' lazy _automodule) is kept unjudged by the C filter
        if type(m) is not types.ModuleType or installation._may_hold(n, m, table.keys())
    ]  # fmt: skip
    from posixbackend import _standin

    assert _standin.copy_candidates(scanned, table) == python
    assert python  # tempfile, shutil... hold copies: the comparison is not empty


def test_odd_entries_are_kept_for_the_exact_scan() -> None:
    """A name that is not a str, a module that is not a plain module: kept, not judged."""

    class Lazy(types.ModuleType):
        pass

    from posixbackend import _standin

    plain = types.ModuleType("plain")
    entries: Any = [(1, plain), ("lazy", Lazy("lazy")), ("plain", plain)]
    assert _standin.copy_candidates(entries, TABLE) == entries[:2]


def test_wrong_arguments() -> None:
    from posixbackend import _standin

    candidates: Any = _standin.copy_candidates  # called with what its types refuse
    with pytest.raises(TypeError):
        candidates([("x", types.ModuleType("x"))], {"not an id": 1})
    with pytest.raises(TypeError):
        candidates([("x",)], {})
    with pytest.raises(TypeError):
        candidates((), {})


def test_python_fallback_used_without_c(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the C filter the scan keeps what _may_hold keeps."""
    module = types.ModuleType(MODULE)
    module.copy = WANTED[0]  # type: ignore[attr-defined]
    plain = types.ModuleType("plain")
    monkeypatch.setattr(installation, "_COPY_CANDIDATES", None)
    entries = [(MODULE, module), ("plain", plain)]
    assert installation._candidates(TABLE, entries) == entries[:1]
