"""Finding where user code hit a gap: the first frame outside the library's own packages.

A frame is *internal* when its code file lives under one of the internal paths: the directories
of the packages ``posixbackend``, ``vfs`` and ``compat`` (found without importing them), plus any
path or module added with :meth:`InternalFrames.add_path` / :meth:`InternalFrames.add_module`.
The answer is cached per code file name, so walking the stack costs one dict lookup per frame.
"""

from __future__ import annotations

import importlib.util
import os
import posix
import stat
import threading
from collections.abc import Iterable
from types import FrameType
from typing import Final

import attrs

__all__ = ["DEFAULT_PACKAGES", "CallSite", "InternalFrames", "module_paths"]

_MAX_LINKS: Final = 40
DEFAULT_PACKAGES: Final = ("posixbackend", "vfs", "compat")
"""The packages whose frames are never reported as call sites."""


@attrs.frozen
class CallSite:
    """A place in user code: file, line and function name."""

    file: str
    line: int
    function: str

    @classmethod
    def from_frame(cls, frame: FrameType) -> CallSite:
        """Describe the line a frame is currently executing."""
        return cls(frame.f_code.co_filename, frame.f_lineno or 0, frame.f_code.co_name)

    def __str__(self) -> str:
        return f"{self.file}:{self.line} in {self.function}"


def module_paths(name: str) -> tuple[str, ...]:
    """Return a module's directories (package) or file (module) without importing it.

    Returns ``()`` when the module cannot be found. Dotted names import their parent package,
    as ``importlib.util.find_spec`` does.
    """
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return ()
    if spec is None:
        return ()
    if spec.submodule_search_locations is not None:
        return tuple(spec.submodule_search_locations)
    if spec.has_location and spec.origin is not None:
        return (spec.origin,)
    return ()


def _canonical(path: str | os.PathLike[str]) -> str:
    """Return the form paths are compared in: absolute, symlinks resolved, case-normalised."""
    return os.path.normcase(host_realpath(os.fspath(path)))


def host_realpath(path: str) -> str:
    """os.path.realpath on the host's file system, through the real ``posix`` module only.

    Call sites are classified while an emulated backend may be serving ``os``: going through
    ``os.path`` would ask the emulated file system about the library's own files (and recurse
    into the backend that reported the gap). Components that do not exist stay as they are.
    """
    if not path.startswith("/"):
        path = posix.getcwd() + "/" + path
    done = ""
    pending = [part for part in path.split("/") if part]
    pending.reverse()
    links = 0
    while pending:
        part = pending.pop()
        if part == ".":
            continue
        if part == "..":
            done = done.rpartition("/")[0]
            continue
        candidate = done + "/" + part
        try:
            is_link = stat.S_ISLNK(posix.lstat(candidate).st_mode)
        except OSError:
            is_link = False
        if not is_link or links >= _MAX_LINKS:
            done = candidate
            continue
        links += 1
        target = posix.readlink(candidate)
        if target.startswith("/"):
            done = ""
        parts = [part for part in target.split("/") if part]
        parts.reverse()
        pending.extend(parts)
    return done or "/"


def _is_pseudo_file(filename: str) -> bool:
    """Tell whether a code file name is a placeholder such as ``<string>`` or ``<frozen os>``."""
    return filename.startswith("<") and filename.endswith(">")


def _is_at_or_under(path: str, root: str) -> bool:
    """Tell whether canonical ``path`` is ``root`` itself or inside it."""
    prefix = root if root.endswith(os.sep) else root + os.sep
    return path == root or path.startswith(prefix)


class InternalFrames:
    """Decides which frames belong to the library, and finds the first one that does not."""

    def __init__(self, packages: Iterable[str] = DEFAULT_PACKAGES) -> None:
        self._packages = tuple(packages)
        # Re-entrant: a signal handler or trace function in this thread may hit a gap (and
        # classify a frame) while the thread is classifying one; it must not wait for itself.
        self._lock = threading.RLock()
        self._package_paths: tuple[str, ...] | None = None
        self._extra_paths: dict[str, str] = {}
        self._module_paths: dict[str, tuple[str, ...]] = {}
        #: Code file name -> internal?  Replaced (never cleared in place) when paths change.
        self.cache: dict[str, bool] = {}

    def find(self, frame: FrameType | None) -> FrameType | None:
        """Return the first frame, from ``frame`` outwards, that is not internal (or None)."""
        cache = self.cache
        while frame is not None:
            internal = cache.get(frame.f_code.co_filename)
            if internal is None:
                internal = self.classify(frame.f_code.co_filename)
            if not internal:
                return frame
            frame = frame.f_back
        return None

    def classify(self, filename: str) -> bool:
        """Tell whether a code file is internal, and remember the answer."""
        with self._lock:
            internal = self._is_under_internal_path(filename)
            self.cache[filename] = internal
            return internal

    def paths(self) -> frozenset[str]:
        """Return every internal path, in canonical form."""
        with self._lock:
            return frozenset(self._all_paths())

    def add_path(self, path: str | os.PathLike[str]) -> None:
        """Treat frames whose code lives at or under ``path`` as internal."""
        with self._lock:
            self._extra_paths[os.fspath(path)] = _canonical(path)
            self.cache = {}

    def remove_path(self, path: str | os.PathLike[str]) -> None:
        """Undo :meth:`add_path`; a path that was never added is ignored."""
        with self._lock:
            if self._extra_paths.pop(os.fspath(path), None) is not None:
                self.cache = {}

    def add_module(self, name: str) -> None:
        """Treat frames of a module (or every module of a package) as internal.

        Raises ``ModuleNotFoundError`` when the module cannot be found.
        """
        paths = module_paths(name)
        if not paths:
            raise ModuleNotFoundError(f"cannot find module {name!r} to mark as internal", name=name)
        with self._lock:
            self._module_paths[name] = tuple(_canonical(path) for path in paths)
            self.cache = {}

    def remove_module(self, name: str) -> None:
        """Undo :meth:`add_module`; a module that was never added is ignored."""
        with self._lock:
            if self._module_paths.pop(name, None) is not None:
                self.cache = {}

    def _all_paths(self) -> list[str]:
        """List the canonical internal paths; the caller holds the lock."""
        if self._package_paths is None:
            found = (path for package in self._packages for path in module_paths(package))
            self._package_paths = tuple(_canonical(path) for path in found)
        paths = [*self._package_paths, *self._extra_paths.values()]
        for module in self._module_paths.values():
            paths.extend(module)
        return paths

    def _is_under_internal_path(self, filename: str) -> bool:
        """Compare one code file against the internal paths; the caller holds the lock."""
        if _is_pseudo_file(filename):
            return False
        path = _canonical(filename)
        return any(_is_at_or_under(path, root) for root in self._all_paths())
