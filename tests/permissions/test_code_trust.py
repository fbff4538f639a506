"""Library trust is by code object identity, in the code's own globals, and only the library
makes closures of its code: a frame running the library's code in the guest's globals, or an
equal copy of it, is the guest's (the escapes are in escapes.py; these are the pieces)."""

from __future__ import annotations

import errno
import marshal
import sys
import types
from typing import Any

import attrs
import pytest

from posixbackend import Permissions, backend
from posixbackend.emulated import _directories
from posixbackend.permissions.trusted import LIBRARY, TRUSTED, caller
from posixbackend.switch.standins import StandIn

REPR = StandIn.__repr__
"""An entry point's function: ``repr(self._native)`` in its module's globals."""
MAKER = _directories._stat_in_directory
"""An entry point making a closure (``stat_in_directory``, over ``backend`` and ``fd``)."""
CLOSURE = next(c for c in MAKER.__code__.co_consts if isinstance(c, types.CodeType))


def frame_of(function: Any) -> types.FrameType:
    """The frame ``function`` (StandIn.__repr__'s code) runs in, taken as it calls repr()."""
    taken: list[types.FrameType] = []

    class Native:
        def __repr__(self) -> str:
            taken.append(sys._getframe(1))
            return ""

    function(types.SimpleNamespace(_native=Native()))
    return taken[0]


def with_builtins(code: types.CodeType, namespace: dict[str, Any]) -> types.FunctionType:
    """A function of ``code`` in ``namespace``, whose repr() is the real one."""
    return types.FunctionType(code, {**namespace, "__builtins__": __builtins__})


def test_the_entry_points_own_frame_is_the_librarys() -> None:
    assert caller(frame_of(REPR)) == LIBRARY


def test_the_same_code_in_the_guests_globals_is_the_guests() -> None:
    assert caller(frame_of(with_builtins(REPR.__code__, {}))) is None


def test_an_equal_copy_in_the_librarys_globals_is_the_guests() -> None:
    for copy in (REPR.__code__.replace(co_filename="<guest>"),
                 marshal.loads(marshal.dumps(REPR.__code__))):  # fmt: skip
        assert copy == REPR.__code__ and copy is not REPR.__code__
        assert caller(frame_of(types.FunctionType(copy, REPR.__globals__))) is None


def test_the_library_registers_the_copies_it_makes() -> None:
    copy = marshal.loads(marshal.dumps(MAKER.__code__))  # nested code copied too
    nested = next(c for c in copy.co_consts if isinstance(c, types.CodeType))
    assert not TRUSTED.trusts(copy) and not TRUSTED.trusts(nested)
    TRUSTED.replace_code(MAKER.__code__, copy)
    assert TRUSTED.trusts(copy) and TRUSTED.trusts(nested)
    repr_copy = REPR.__code__.replace(co_filename="<copy>")
    TRUSTED.replace_code(REPR.__code__, repr_copy)
    assert caller(frame_of(types.FunctionType(repr_copy, REPR.__globals__))) == LIBRARY
    assert caller(frame_of(with_builtins(repr_copy, {}))) is None  # still in its globals only


def test_only_equal_copies_of_trusted_code_are_registered() -> None:
    with pytest.raises(ValueError, match="not an equal copy"):
        TRUSTED.replace_code(REPR.__code__, CLOSURE)
    own = (lambda: None).__code__
    with pytest.raises(ValueError, match="not trusted code"):
        TRUSTED.replace_code(own, own.replace(co_filename="<copy>"))


def cells() -> tuple[types.CellType, ...]:
    return tuple(types.CellType(None) for _ in CLOSURE.co_freevars)


def guest_closure() -> types.FunctionType:
    """A closure of the guest's own over as many cells as the library's CLOSURE."""
    backend_, fd = None, None
    return lambda name, follow: (backend_, fd)  # type: ignore[return-value]


WAYS = {
    "function.__new__": lambda: types.FunctionType(CLOSURE, MAKER.__globals__, "s", None, cells()),
    "exec": lambda: exec(CLOSURE, MAKER.__globals__, closure=cells()),
    "object.__setattr__": lambda: setattr(guest_closure(), "__code__", CLOSURE),
}
"""The ways to run the library's closure code with cells of one's own (by the event raised)."""


@pytest.mark.parametrize("event", WAYS)
def test_closures_of_the_librarys_code_are_the_librarys_to_make(event: str) -> None:
    with backend("managed", permissions=Permissions.sandbox()), pytest.raises(
        PermissionError
    ) as raised:
        WAYS[event]()
    assert raised.value.errno == errno.EPERM
    assert str(raised.value) == (
        f"[Errno 1] {event} of the library's code {CLOSURE.co_qualname} is not permitted: "
        "grant allow_native_access"
    )


@pytest.mark.parametrize("event", ["function.__new__", "object.__setattr__"])
def test_closures_of_the_librarys_code_with_native_access(event: str) -> None:
    granted = attrs.evolve(Permissions.sandbox(), allow_native_access=True)
    with backend("managed", permissions=granted):
        made = WAYS[event]()
    assert made is None or made.__code__ is CLOSURE


def test_the_guests_own_closures_and_code_are_its_own() -> None:
    own = guest_closure()
    with backend("managed", permissions=Permissions.sandbox()):
        made = types.FunctionType(own.__code__, {}, "made", None, own.__closure__)
        made.__code__ = (lambda name, follow: (own, made)).__code__
        namespace: dict[str, Any] = {}
        exec("def f():\n    return 7", namespace)  # a module's code: no cells to choose
        assert namespace["f"]() == 7
        copy = types.FunctionType(REPR.__code__, REPR.__globals__)  # no cells: no choice
    assert made("n", True) == (None, None)  # its own cells, whatever code it runs
    assert caller(frame_of(copy)) == LIBRARY  # the very code, in its module's globals
