"""Running a provider's own code natively when it calls Python's os (adapters do).

A PyFilesystem2 OSFS or an fsspec LocalFileSystem calls ``os.stat`` and ``open``; served from
a managed block, those calls would come back to the block's backend, and so to the provider
itself. :func:`native_calls` wraps such a provider (one whose ``uses_python_os`` is true) so
that each of its calls, and each call on its handles, runs with the native backend active.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from posixbackend.permissions.current import POLICY
from posixbackend.switch.active import ACTIVE
from vfs import FileSystem, Handle
from vfs.delegate import DelegatingFileSystem, DelegatingHandle

T = TypeVar("T")


def run_natively(call: Callable[..., T], *args: Any) -> T:
    """``call(*args)`` with the native backend serving os meanwhile, unrestricted: the
    provider's own code is the library's, not the guest's."""
    token = ACTIVE.set(None)
    policy_token = POLICY.set(None)
    try:
        return call(*args)
    finally:
        POLICY.reset(policy_token)
        ACTIVE.reset(token)


def _natively(name: str) -> Callable[..., Any]:
    """A method that runs ``self.inner.<name>`` natively."""

    def method(self: Any, *args: Any) -> Any:
        return run_natively(getattr(self.inner, name), *args)

    method.__name__ = method.__qualname__ = name
    return method


class NativeHandle(DelegatingHandle):
    """A handle whose every operation runs natively."""

    __slots__ = ()


class NativeCallsFileSystem(DelegatingFileSystem):
    """A provider whose every operation (and its handles') runs natively."""

    def open(self, path: str, flags: int, mode: int = 0o666) -> Handle:
        return NativeHandle(run_natively(self.inner.open, path, flags, mode))


for _name in (
    "pread", "pwrite", "append", "size", "truncate", "sync", "close", "stat", "chmod", "chown",
    "utime", "listdir", "scandir", "statvfs", "seek_data",
):  # fmt: skip
    setattr(NativeHandle, _name, functools.wraps(getattr(Handle, _name))(_natively(_name)))
for _name in (
    "stat", "listdir", "scandir", "mkdir", "rmdir", "unlink", "rename", "symlink", "readlink",
    "link", "chmod", "chown", "utime", "truncate", "access", "statvfs", "close",
):  # fmt: skip
    setattr(
        NativeCallsFileSystem, _name, functools.wraps(getattr(FileSystem, _name))(_natively(_name))
    )


def native_calls(file_system: FileSystem) -> FileSystem:
    """``file_system``, wrapped when its code calls Python's os (else unchanged)."""
    return NativeCallsFileSystem(file_system) if file_system.uses_python_os else file_system
