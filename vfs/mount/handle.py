"""Handles from a mounted provider: fstat reports the mount's device, paths the namespace's."""

from __future__ import annotations

import posix
from collections.abc import Callable

from vfs.delegate import DelegatingHandle
from vfs.mount.nodes import MountNode
from vfs.mount.table import Mounted
from vfs.provider import Handle


class MountedHandle(DelegatingHandle):
    """A provider's handle seen through a Mount."""

    __slots__ = ("_directory", "_forget", "_inner_path", "_mounted", "_path")

    def __init__(
        self, inner: Handle, mounted: Mounted, path: str, forget: Callable[[], None]
    ) -> None:
        super().__init__(inner)
        self._mounted = mounted
        self._path = path
        self._inner_path = inner.path
        self._forget = forget
        self._directory: MountNode | None = None
        """The directory reference, made once: one object per open directory, which the
        Mount's cache of relative resolutions knows it by."""

    @property
    def path(self) -> str:
        """The path it was opened by; for a directory the provider saw move, where it is now."""
        inner = self.inner.path
        return self._path if inner == self._inner_path else self._mounted.outer(inner)

    def directory(self) -> object | None:
        directory = self._directory
        if directory is None:
            inner = self.inner.directory()
            if inner is None:
                return None
            directory = self._directory = MountNode(self._mounted, inner)
        return directory

    def stat(self) -> posix.stat_result:
        return self._mounted.remap(self.inner.stat())

    def allocate(self, offset: int, length: int) -> None:
        self.inner.allocate(offset, length)

    def chmod(self, mode: int) -> None:
        try:
            self.inner.chmod(mode)
        finally:
            self._forget()

    def chown(self, uid: int, gid: int) -> None:
        try:
            self.inner.chown(uid, gid)
        finally:
            self._forget()
