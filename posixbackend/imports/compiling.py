"""``py_compile.compile`` and ``importlib.util.spec_from_file_location`` on the emulated backend.

Both use the import system's own file helpers, which read and write the real disk. On the
emulated backend, ``py_compile.compile`` runs as CPython wrote it, with only its file helpers
(the source loader, ``_calc_mode``, ``_write_atomic``) bound to the serving backend -- so
``compileall``, which calls it, works too; ``spec_from_file_location`` without a loader picks
the loader bound to the serving backend for the file's suffix, as importlib would pick its own.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import posixpath
import py_compile
import sys
import types
from typing import Any

import compat
from posixbackend.imports import _sources as sources
from posixbackend.imports import served as files
from posixbackend.imports._finder import LOADERS
from posixbackend.imports._loaders import VirtualSourceLoader
from posixbackend.switch.active import get_active
from posixbackend.switch.libraries import SwitchedFunction

PY_COMPILE_MAIN = compat.declare(
    id="imports.py_compile_main",
    function="py_compile.main",
    aspect="python -m py_compile",
    level=compat.Level.INFO,
    explanation="run as a program (python -m py_compile, runpy), py_compile is a second copy "
    "of the module whose compile is CPython's own: on the emulated backend it reads and "
    "writes the host's files; py_compile.compile and compileall (also as programs) serve the "
    "backend's",
)
_external: Any = sys.modules["importlib._bootstrap_external"]
NATIVE_COMPILE = py_compile.compile
NATIVE_SPEC_FROM_FILE_LOCATION = _external.spec_from_file_location
POPULATE: Any = _external._POPULATE


class _View:
    """A module seen with some names bound to the serving backend, the rest its own."""

    def __init__(self, module: Any, **bound: Any) -> None:
        self._module = module
        self.__dict__.update(bound)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def _absolute(served: Any, path: Any) -> str:
    text = os.fsdecode(os.fspath(path))
    return text if text.startswith("/") else posixpath.join(served.getcwd(), text)


def compile_emulated(*args: Any, **kwargs: Any) -> Any:
    """``py_compile.compile`` with its file helpers on the serving backend."""
    served = get_active()

    def loader(fullname: str, path: str) -> VirtualSourceLoader:
        return VirtualSourceLoader(fullname, path, served)

    def calc_mode(path: str) -> int:
        try:
            return int(served.stat(path).st_mode) | 0o200
        except OSError:
            return 0o666

    def write_atomic(path: str, data: bytes, mode: int = 0o666) -> None:
        files.write_atomic(served, path, data, mode)

    view = _View(
        importlib,
        machinery=_View(importlib.machinery, SourceFileLoader=loader),
        util=importlib.util,
        _bootstrap_external=_View(_external, _calc_mode=calc_mode, _write_atomic=write_atomic),
    )
    namespace = dict(vars(py_compile))
    namespace["importlib"] = view
    native = NATIVE_COMPILE
    rebound = types.FunctionType(
        native.__code__, namespace, native.__name__, native.__defaults__, native.__closure__
    )
    rebound.__kwdefaults__ = native.__kwdefaults__
    return rebound(*args, **kwargs)


def spec_from_file_location_emulated(
    name: str,
    location: Any = None,
    *,
    loader: Any = None,
    submodule_search_locations: Any = POPULATE,
) -> Any:
    """``spec_from_file_location``: without a loader, the serving backend's loader for the
    file's suffix (none for an unknown suffix, as importlib)."""
    if location is not None and loader is None:
        served = get_active()
        path = _absolute(served, location)
        for suffix, loader_class in LOADERS:
            if path.endswith(suffix):
                loader = loader_class(name, path, served)
                location = path
                break
        else:
            return None
    return NATIVE_SPEC_FROM_FILE_LOCATION(
        name, location, loader=loader, submodule_search_locations=submodule_search_locations
    )


def stand_ins() -> list[tuple[Any, str, Any]]:
    """(namespace, name, stand-in) for py_compile, importlib.util and linecache."""
    return [
        *sources.stand_ins(),
        (py_compile, "compile",
         SwitchedFunction("py_compile", "compile", NATIVE_COMPILE, compile_emulated)),
        (importlib.util, "spec_from_file_location",
         SwitchedFunction("importlib.util", "spec_from_file_location",
                          NATIVE_SPEC_FROM_FILE_LOCATION, spec_from_file_location_emulated)),
    ]  # fmt: skip
