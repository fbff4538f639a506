"""One scenario on real ``os`` and on an EmulatedBackend in this process, side by side.

A scenario takes a :class:`Side` and calls ``os`` functions through :meth:`Side.call`, which
records each outcome: a result (bytes, counts, selected stat fields) or an error (its class
and errno, or its class and message when it is not an OSError). The native side works in a
temporary directory of the host, the emulated side in one of its own, seen as ``/`` by the
backend; every descriptor either side opened is closed afterwards. The two logs must agree,
except where a scenario marks a step with ``gap=`` (the emulated side must hit that gap there).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import compat
from posixbackend.emulated import EmulatedBackend
from vfs import HostFileSystem, Identity, MemoryFileSystem

FD_FUNCTIONS = frozenset({"open", "dup", "eventfd", "memfd_create"})
"""Functions whose result is a new descriptor (never logged: numbers differ between sides)."""


def hits(gap: str) -> int:
    """How often ``gap`` has been hit in this process so far."""
    entry = compat.report().get(gap)
    return entry.count if entry is not None else 0


def outcome(call: Callable[[], Any]) -> Any:
    """What a call did, in a form both sides can be compared by."""
    try:
        result = call()
    except OSError as error:
        return (type(error).__name__, error.errno)
    except (TypeError, ValueError, OverflowError, BufferError, NotImplementedError) as error:
        return (type(error).__name__, str(error))
    return ("ok", plain(result))


def plain(result: Any) -> Any:
    """Results without what legitimately differs between the sides."""
    if isinstance(result, os.stat_result):
        return (stat.S_IFMT(result.st_mode), stat.S_IMODE(result.st_mode), result.st_size)
    if isinstance(result, (bytearray, memoryview)):
        return bytes(result)
    return result


class Side:
    """One side of a comparison: an ``os``-like object and the directory it works in."""

    def __init__(self, os_module: Any, root: str, *, emulated: bool) -> None:
        self.os = os_module
        self.root = root
        self.emulated = emulated
        self.log: list[tuple[str, Any]] = []
        self._fds: list[int] = []

    def path(self, name: str) -> str:
        """The path of ``name`` in this side's directory."""
        return self.root.rstrip("/") + "/" + name

    def fd(self, name: str, /, *args: Any, **kwargs: Any) -> int:
        """Call a function that must give a new descriptor (closed at the end)."""
        fd: int = getattr(self.os, name)(*args, **kwargs)
        self._fds.append(fd)
        return fd

    def pipe(self, flags: int = 0) -> tuple[int, int]:
        """A new pipe (closed at the end)."""
        ends: tuple[int, int] = self.os.pipe2(flags) if flags else self.os.pipe()
        self._fds.extend(ends)
        return ends

    def file(self, name: str, data: bytes = b"", flags: int = os.O_RDWR) -> int:
        """A new file holding ``data``, open with ``flags`` (the offset at 0)."""
        path = self.path(name)
        fd = self.os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            self.os.write(fd, data)
        finally:
            self.os.close(fd)
        return self.fd("open", path, flags)

    def call(self, name: str, /, *args: Any, gap: str | None = None, **kwargs: Any) -> Any:
        """Call ``os.<name>``, log its outcome, and return its result (None if it failed).
        With ``gap``, the step's outcome is not compared, and the emulated side must hit it."""
        function = getattr(self.os, name)
        before = hits(gap) if gap else 0
        result: list[Any] = []

        def run() -> Any:
            value = function(*args, **kwargs)
            result.append(value)
            return value

        seen = outcome(run)
        if name in FD_FUNCTIONS and seen[0] == "ok":
            self._fds.append(seen[1])
            seen = ("ok", "fd")
        if gap is not None:
            if self.emulated:
                assert hits(gap) > before, f"{name}{args!r} should hit {gap}"
            seen = ("gap", gap)
        self.log.append((f"{name}{_short(args, kwargs)}", seen))
        return result[0] if result else None

    def note(self, label: str, value: Any) -> None:
        """Log a value the scenario computed."""
        self.log.append((label, plain(value)))

    def close_all(self) -> None:
        for fd in self._fds:
            try:
                self.os.close(fd)
            except OSError:
                continue
        self._fds.clear()


def _short(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    text = ", ".join([*(repr(a)[:40] for a in args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    return f"({text})"


PROVIDERS = ("host", "memory", "memory-pure")
"""Emulated sides: over a host directory, in memory, and in memory without the C accelerator."""


def make_sides(tmp_path: Path, provider: str) -> tuple[Side, Side]:
    """A native side in ``tmp_path/native``, an emulated one over ``provider``."""
    native_root = tmp_path / "native"
    native_root.mkdir()
    native = Side(os, str(native_root), emulated=False)
    if provider == "host":
        host_root = tmp_path / "emulated"
        host_root.mkdir()
        backend = EmulatedBackend(HostFileSystem(host_root), identity=Identity.current())
    else:
        backend = EmulatedBackend(
            MemoryFileSystem(identity=Identity.current()), accelerated=provider == "memory"
        )
    emulated = Side(backend, "/", emulated=True)
    return native, emulated


@contextlib.contextmanager
def opened_sides(tmp_path: Path, provider: str) -> Iterator[tuple[Side, Side]]:
    """:func:`make_sides`, with everything the sides opened closed afterwards."""
    native, emulated = make_sides(tmp_path, provider)
    try:
        yield native, emulated
    finally:
        native.close_all()
        emulated.close_all()
        emulated.os.file_system.close()


@pytest.fixture(params=PROVIDERS)
def sides(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Side, Side]]:
    """(native, emulated) over each provider; everything they opened is closed afterwards."""
    with opened_sides(tmp_path, request.param) as pair:
        yield pair


def compare(scenario: Callable[[Side], None], pair: tuple[Side, Side]) -> None:
    """Run ``scenario`` on both sides; their logs must be equal, step by step."""
    native, emulated = pair
    scenario(native)
    scenario(emulated)
    assert native.log, "the scenario recorded nothing"
    problems = [
        f"#{index} {want[0]}: native {want[1]!r}, emulated {got[1]!r}"
        for index, (want, got) in enumerate(zip(native.log, emulated.log, strict=True))
        if want[1] != got[1]
    ]
    assert not problems, "\n".join(problems)
