"""An open file of the overlay: a layer's handle, switched to the upper copy on copy-up.

A handle opened read-only on a lower file sees the file's new content once any other caller
copied it up (as on Linux since 4.19, where overlayfs stacks file operations): the overlay
opens the upper copy for it and the handle reads from there on. The lower handle it used is
kept open until the handle closes, so a read racing with the switch never meets a closed
handle. Changing metadata through a lower handle (fchmod, fchown, futimens) copies up first.
Directory handles list the merged directory.
"""

from __future__ import annotations

import errno
import posix
from typing import TYPE_CHECKING

from vfs.delegate import DelegatingHandle
from vfs.errors import os_error
from vfs.provider import DirEntryInfo, Handle
from vfs.walk.held import HeldPath

if TYPE_CHECKING:
    from vfs.overlay.filesystem import OverlayFileSystem


class OverlayHandle(DelegatingHandle):
    """A handle of ``overlay`` on the canonical path ``canonical``, served by ``inner``."""

    __slots__ = (
        "__weakref__", "_canonical", "_held", "_opened_as", "_overlay", "_retired", "on_upper",
    )  # fmt: skip

    def __init__(
        self,
        overlay: OverlayFileSystem,
        inner: Handle,
        opened_as: str,
        canonical: str,
        on_upper: bool,
        *,
        held: HeldPath | None = None,
    ) -> None:
        super().__init__(inner)
        self._overlay = overlay
        self._opened_as = opened_as
        self._canonical = canonical
        self._held = held
        """For a directory: where it is now (moved along by renames, None once removed)."""
        self._retired: list[Handle] = []
        self.on_upper = on_upper
        """Whether ``inner`` is a handle of the upper layer."""

    @property
    def path(self) -> str:
        return self._opened_as

    @property
    def canonical(self) -> str | None:
        """The canonical merged path of the open file: where it was opened, or for a
        directory where it is now (None once it was removed)."""
        held = self._held
        return self._canonical if held is None else held.path

    def directory(self) -> HeldPath | None:
        return self._held

    def switch(self, inner: Handle) -> None:
        """Serve this handle from the upper copy ``inner`` from now on (callers hold the lock)."""
        self._retired.append(self.inner)
        self.inner = inner
        self.on_upper = True

    def close(self) -> None:
        held = self._held
        if held is not None:
            self._overlay.release(held)
        self.inner.close()
        for old in self._retired:
            old.close()
        self._retired.clear()

    def stat(self) -> posix.stat_result:
        return self._overlay.present_handle(self)

    def chmod(self, mode: int) -> None:
        self._upper().chmod(mode)
        self._overlay.forget()

    def chown(self, uid: int, gid: int) -> None:
        self._upper().chown(uid, gid)
        self._overlay.forget()

    def allocate(self, offset: int, length: int) -> None:
        self._upper().allocate(offset, length)

    def utime(self, ns: tuple[int, int] | None = None) -> None:
        self._upper().utime(ns)
        self._overlay.forget()

    def listdir(self) -> list[str]:
        return [info.name for info in self.scandir()]

    def scandir(self) -> list[DirEntryInfo]:
        self.inner.scandir()  # the layer's own checks: EBADF, ENOTDIR; moves atime
        return self._overlay.handle_listing(self)

    def _upper(self) -> Handle:
        """The inner handle after copying the file up, for calls that change the file."""
        if self.closed or self.flags & posix.O_PATH:
            raise os_error(errno.EBADF)
        if not self.on_upper:
            self._overlay.copy_up_handle(self)
        return self.inner

    def __repr__(self) -> str:
        layer = "upper" if self.on_upper else "lower"
        return f"<OverlayHandle {self._opened_as!r} on {layer} {self.inner!r}>"
