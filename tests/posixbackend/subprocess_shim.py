"""The real ``subprocess`` module driven against an EmulatedBackend, for tests only.

``subprocess_on(backend)`` points subprocess's module globals (``os``, ``io``, ``_fork_exec``,
its waitpid and its selector) at stand-ins that forward descriptor and process calls to the
backend, for the duration of a ``with`` block. The project's own switch comes later; this is
the smallest thing that lets Popen, run and communicate run unmodified on emulated descriptors.
"""

from __future__ import annotations

import contextlib
import io
import os
import selectors
import subprocess
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from posixbackend.emulated import EmulatedBackend
from posixbackend.emulated.descriptions import PipeDescription
from posixbackend.emulated.fileio import make_open
from posixbackend.emulated.pipes import PipeEnd, PipeReader, wait_ready

FORWARDED = frozenset(
    [
        "pipe",
        "pipe2",
        "close",
        "dup",
        "dup2",
        "read",
        "write",
        "open",
        "lseek",
        "fstat",
        "isatty",
        "get_inheritable",
        "set_inheritable",
        "get_blocking",
        "set_blocking",
        "waitpid",
        "wait",
        "kill",
        "killpg",
        "posix_spawn",
        "posix_spawnp",
        "system",
        "environ",
        "getcwd",
        "getcwdb",
    ]
)
"""What subprocess (and os.popen) may call on ``os`` that must reach the backend."""


class BackendOs:
    """``os`` as subprocess sees it: the backend's descriptor and process functions, the real
    module for everything else (constants, os.path, fsencode, wait status macros...)."""

    def __init__(self, backend: EmulatedBackend) -> None:
        self._backend = backend
        self.path = os.path

    def __getattr__(self, name: str) -> Any:
        if name in FORWARDED:
            return getattr(self._backend, name)
        return getattr(os, name)

    def get_exec_path(self, env: Mapping[Any, Any] | None = None) -> list[str]:
        """The search path of ``env``, or of the backend's environment."""
        return os.get_exec_path(self._backend.environ if env is None else env)  # type: ignore[arg-type]


class BackendIo:
    """``io`` with ``open`` over the backend's descriptors."""

    def __init__(self, backend: EmulatedBackend) -> None:
        self.open = make_open(backend)

    def __getattr__(self, name: str) -> Any:
        return getattr(io, name)


def selector_for(backend: EmulatedBackend) -> type[selectors.BaseSelector]:
    """A selector class over the backend's pipe descriptors (what communicate() waits on)."""

    class PipeSelector(selectors._BaseSelectorImpl):
        def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
            ends: dict[int, PipeEnd] = {}
            for key in self.get_map().values():
                description = backend._table.files.get(key.fd)
                assert isinstance(description, PipeDescription), "only pipes are selected"
                ends[key.fd] = description.end
            wait = None if timeout is None else max(timeout, 0.0)
            ready = wait_ready(list(ends.values()), wait)
            found = []
            for key in self.get_map().values():
                end = ends[key.fd]
                if end in ready:
                    reading = isinstance(end, PipeReader)
                    event = selectors.EVENT_READ if reading else selectors.EVENT_WRITE
                    found.append((key, event & key.events))
            return found

    return PipeSelector


@contextlib.contextmanager
def subprocess_on(backend: EmulatedBackend) -> Iterator[None]:
    """Run subprocess (and os.popen, which uses it) on ``backend`` inside the block."""
    module: Any = subprocess
    patches: dict[str, Any] = {
        "os": BackendOs(backend),
        "io": BackendIo(backend),
        "_fork_exec": backend.fork_exec,
        "_PopenSelector": selector_for(backend),
    }
    saved = {name: getattr(module, name) for name in patches}
    poll = module.Popen._internal_poll
    saved_defaults = poll.__defaults__
    if sys.version_info >= (3, 13):
        del_safe = module._del_safe
        saved_waitpid = del_safe.waitpid
        del_safe.waitpid = backend.waitpid
    else:
        patches["_waitpid"] = backend.waitpid
        saved["_waitpid"] = module._waitpid
        defaults = list(saved_defaults)
        defaults[1] = backend.waitpid  # _internal_poll(self, _deadstate, _waitpid, ...)
        poll.__defaults__ = tuple(defaults)
    for name, value in patches.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)
        poll.__defaults__ = saved_defaults
        if sys.version_info >= (3, 13):
            del_safe.waitpid = saved_waitpid
