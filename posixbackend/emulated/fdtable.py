"""The file descriptor table of the emulated backend: small integers to open file descriptions.

New descriptors take the lowest free number, as POSIX requires. Each entry also carries the
close-on-exec flag (Python's "inheritable" is its negation). The table is shared by all threads
of the backend, so every change takes its lock; lookups are single dictionary reads.
"""

from __future__ import annotations

import errno
import threading

from posixbackend.emulated.descriptions import Description
from vfs.errors import os_error

FD_MAX = (1 << 31) - 1


class FdTable:
    """Descriptor numbers, their descriptions and close-on-exec flags."""

    __slots__ = ("_cloexec", "_hint", "_lock", "files")

    def __init__(self) -> None:
        self.files: dict[int, Description] = {}
        """fd -> description; read without the lock (one dict lookup is atomic)."""
        self._cloexec: set[int] = set()
        self._hint = 0
        """Every descriptor below this one is in use (so a search for a free one starts here)."""
        self._lock = threading.Lock()

    def get(self, fd: int) -> Description:
        """The description ``fd`` refers to, or EBADF."""
        description = self.files.get(fd)
        if description is None:
            raise os_error(errno.EBADF)
        return description

    def install(self, description: Description, *, cloexec: bool = True, lowest: int = 0) -> int:
        """Give ``description`` (already counted for this descriptor) the lowest free fd."""
        with self._lock:
            fd = self._lowest_free(lowest)
            self._put(fd, description, cloexec)
            return fd

    def install_at(self, fd: int, description: Description, *, cloexec: bool) -> None:
        """Put ``description`` at ``fd`` (which must be free); used to set up standard fds."""
        with self._lock:
            if fd in self.files:
                raise os_error(errno.EBUSY)
            self._put(fd, description, cloexec)

    def dup(self, fd: int, *, cloexec: bool = True, lowest: int = 0) -> int:
        """A new descriptor for the description ``fd`` refers to."""
        with self._lock:
            description = self.get(fd)
            new = self._lowest_free(lowest)
            description.refs += 1
            self._put(new, description, cloexec)
            return new

    def dup2(self, fd: int, fd2: int, *, cloexec: bool) -> int:
        """Make ``fd2`` refer to what ``fd`` refers to, closing what ``fd2`` held first."""
        if fd2 < 0 or fd2 > FD_MAX:
            raise os_error(errno.EBADF)
        with self._lock:
            description = self.get(fd)
            if fd == fd2:
                return fd2
            replaced = self.files.get(fd2)
            description.refs += 1
            self._put(fd2, description, cloexec)
            release = replaced is not None and self._unref(replaced)
        if release:
            assert replaced is not None
            replaced.release()
        return fd2

    def close(self, fd: int) -> None:
        """Close ``fd``; its description is released when no descriptor refers to it any more."""
        with self._lock:
            description = self.files.pop(fd, None)
            if description is None:
                raise os_error(errno.EBADF)
            self._cloexec.discard(fd)
            self._hint = min(self._hint, fd)
            release = self._unref(description)
        if release:
            description.release()

    def close_range(self, low: int, high: int) -> None:
        """Close every open descriptor in [low, high), ignoring the free ones."""
        for fd in sorted(fd for fd in list(self.files) if low <= fd < high):
            try:
                self.close(fd)
            except OSError:  # closed by another thread meanwhile: nothing left to do
                continue

    def is_cloexec(self, fd: int) -> bool:
        self.get(fd)
        return fd in self._cloexec

    def set_cloexec(self, fd: int, cloexec: bool) -> None:
        with self._lock:
            self.get(fd)
            if cloexec:
                self._cloexec.add(fd)
            else:
                self._cloexec.discard(fd)

    def open_fds(self) -> list[int]:
        """The open descriptors, in order."""
        return sorted(self.files)

    def _lowest_free(self, lowest: int) -> int:
        """The lowest free descriptor >= ``lowest``; the caller holds the lock."""
        files = self.files
        fd = lowest if lowest > self._hint else self._hint
        while fd in files:
            fd += 1
        if lowest <= self._hint:
            self._hint = fd
        if fd > FD_MAX:
            raise os_error(errno.EMFILE)
        return fd

    def _put(self, fd: int, description: Description, cloexec: bool) -> None:
        self.files[fd] = description
        if cloexec:
            self._cloexec.add(fd)
        else:
            self._cloexec.discard(fd)

    @staticmethod
    def _unref(description: Description) -> bool:
        """Count one descriptor less; whether that was the last (the caller holds the lock)."""
        description.refs -= 1
        return description.refs == 0
