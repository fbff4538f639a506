"""Running a provider's own code natively when it calls Python's os (adapters do).

A PyFilesystem2 OSFS or an fsspec LocalFileSystem calls ``os.stat`` and ``open``; served from
a managed block, those calls would come back to the block's backend, and so to the provider
itself. :func:`native_calls` wraps such a provider (one whose ``uses_python_os`` is true) so
that each of its calls, and each call on its handles, runs with the native backend active.

That is a way to the host's files, so only for providers the embedder made: one wrapped
outside any restricting block (or in one that grants allow_io='all') is *blessed*, and its
calls run natively and unrestricted even on a thread a restricting block anchored; a block
that asks for another one under restricting permissions is refused.
"""

from __future__ import annotations

import errno
import functools
import sys
from collections.abc import Callable
from typing import Any, Final, TypeVar

import compat
from posixbackend.permissions import anchors
from posixbackend.permissions.current import POLICY, get_policy
from posixbackend.permissions.policy import Access
from posixbackend.permissions.trusted import LIBRARY, caller
from posixbackend.switch.active import ACTIVE
from vfs import FileSystem, Handle
from vfs.delegate import DelegatingFileSystem, DelegatingHandle
from vfs.walk import Nodes

T = TypeVar("T")

# Bound at import, before any guest runs: a guest can replace builtins.getattr or
# functools.partial, and a blessed call must not take what to run unrestricted from them.
_GETATTR: Final = getattr
_CALLABLE: Final = callable
_PARTIAL: Final = functools.partial
_FRAME: Final = sys._getframe

PROVIDER_CODE = compat.declare(
    id="switch.blessed_provider_code",
    function="posixbackend.backend",
    aspect="providers that call Python's os, under restricting permissions",
    level=compat.Level.INFO,
    explanation="a provider that calls Python's os (PyFilesystem2, fsspec, pyfakefs), made "
    "outside the block, runs its own code natively and unrestricted; that code finds os, io "
    "and its own modules' functions as it runs, and a guest in the block can replace them: "
    "serve such providers to cooperating code only (the launcher serves none, and --sandbox "
    "and the isolated mode confine whatever runs)",
)


def run_unrestricted(call: Callable[..., T], *args: Any) -> T:
    """``call(*args)`` natively and unrestricted, also on an anchored thread: for the
    library's own work (a blessed provider's calls, the launcher's clean-up at exit).
    PermissionError for any other caller where permissions restrict: a guest's own code, or
    library code it called directly (as the audit hook judges callers)."""
    if get_policy() is not None and caller(_FRAME(1)) != LIBRARY:
        raise PermissionError(
            errno.EPERM,
            "run_unrestricted is the library's own: code that did not enter the library "
            "through one of its entry points cannot lift the permissions in force",
        )
    token = ACTIVE.set(None)
    policy_token = POLICY.set(None)
    anchor = anchors.push(None, None) if anchors.anchor_of_caller() is not None else None
    try:
        return call(*args)
    finally:
        if anchor is not None:
            anchors.pop(anchor)
        POLICY.reset(policy_token)
        ACTIVE.reset(token)


def _natively(name: str) -> Callable[..., Any]:
    """A method that runs ``self.inner.<name>`` natively when ``self`` is blessed (made where
    host access was allowed), else under whatever serves the caller."""

    def method(self: Any, *args: Any) -> Any:
        call = _GETATTR(self.inner, name)
        if self.blessed:
            return run_unrestricted(call, *args)
        return call(*args)

    method.__name__ = method.__qualname__ = name
    return method


class NativeHandle(DelegatingHandle):
    """A handle whose every operation runs natively (when its file system is blessed)."""

    __slots__ = ("blessed",)

    def __init__(self, inner: Handle, blessed: bool) -> None:
        super().__init__(inner)
        self.blessed = blessed


class NativeNodes:
    """The inner provider's walk nodes (:class:`vfs.walk.Nodes`), each question answered
    natively when ``blessed``: a Mount walks across the provider through these."""

    __slots__ = ("_blessed", "_inner")

    def __init__(self, inner: Nodes[Any, Any], blessed: bool) -> None:
        self._inner = inner
        self._blessed = blessed

    @property
    def releases(self) -> bool:
        return bool(_GETATTR(self._inner, "releases", False))

    def __getattr__(self, name: str) -> Any:
        found = _GETATTR(self._inner, name)
        if not self._blessed or not _CALLABLE(found):
            return found
        return _PARTIAL(run_unrestricted, found)


class NativeCallsFileSystem(DelegatingFileSystem):
    """A provider whose every operation (and its handles') runs natively; made by
    :func:`native_calls`, which blesses it where host access is allowed. Directory
    references and the at-forms are the inner provider's own (so it holds its directories
    itself, as it would unwrapped)."""

    def __init__(self, inner: FileSystem, *, blessed: bool = False) -> None:
        super().__init__(inner)
        self.blessed = blessed
        self._native_nodes: NativeNodes | None = None

    def open(self, path: str, flags: int, mode: int = 0o666) -> Handle:
        open_inner = self.inner.open
        if self.blessed:
            return NativeHandle(run_unrestricted(open_inner, path, flags, mode), True)
        return NativeHandle(open_inner(path, flags, mode), False)

    def open_at(self, at: object | None, path: str, flags: int, mode: int = 0o666) -> Handle:
        open_inner = self.inner.open_at
        if self.blessed:
            return NativeHandle(run_unrestricted(open_inner, at, path, flags, mode), True)
        return NativeHandle(open_inner(at, path, flags, mode), False)

    def nodes(self) -> Nodes[Any, Any]:
        nodes = self._native_nodes
        if nodes is None:
            nodes = self._native_nodes = NativeNodes(self.inner.nodes(), self.blessed)
        return nodes


for _name in (
    "pread", "pwrite", "append", "size", "truncate", "sync", "close", "stat", "chmod", "chown",
    "utime", "listdir", "scandir", "statvfs", "seek_data", "directory",
):  # fmt: skip
    setattr(NativeHandle, _name, functools.wraps(getattr(Handle, _name))(_natively(_name)))
for _name in (
    "stat", "listdir", "scandir", "mkdir", "rmdir", "unlink", "rename", "symlink", "readlink",
    "link", "chmod", "chown", "utime", "truncate", "access", "statvfs", "close",
    "directory", "hold", "where", "release", "stat_at", "listdir_at", "scandir_at", "mkdir_at",
    "rmdir_at", "unlink_at", "rename_at", "symlink_at", "readlink_at", "link_at", "chmod_at",
    "chown_at", "utime_at", "truncate_at", "access_at", "statvfs_at",
):  # fmt: skip
    setattr(
        NativeCallsFileSystem, _name, functools.wraps(getattr(FileSystem, _name))(_natively(_name))
    )


def native_calls(file_system: FileSystem) -> FileSystem:
    """``file_system``, wrapped when its code calls Python's os (else unchanged); PermissionError
    when the caller's permissions restrict file access (such a provider reaches the host)."""
    if not file_system.uses_python_os:
        return file_system
    policy = get_policy()
    if anchors.anchor_of_caller() is not None and policy is not None and (
        policy.allow_io is not Access.ALL
    ):
        raise PermissionError(
            errno.EACCES,
            f"{file_system!r} calls Python's os, which reaches the host: make it outside the "
            "restricting block (or grant allow_io='all')",
        )
    PROVIDER_CODE.hit()
    return NativeCallsFileSystem(file_system, blessed=True)

