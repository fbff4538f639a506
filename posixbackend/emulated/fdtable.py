"""The file descriptor table of the emulated backend: small integers to open file descriptions.

New descriptors take the lowest free number, as POSIX requires. Each entry also carries the
close-on-exec flag (Python's "inheritable" is its negation). The table is shared by all threads
of the backend, so every change takes its lock; lookups are single dictionary reads.
"""

from __future__ import annotations

import errno
import resource

from posixbackend.emulated.descriptions import Description
from vfs.errors import os_error
from vfs.ownedlock import OwnedLock

FD_MAX = (1 << 31) - 1


def open_files_limit() -> int:
    """The process's RLIMIT_NOFILE soft limit: descriptors are numbered below it."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return FD_MAX + 1 if soft == resource.RLIM_INFINITY else min(soft, FD_MAX + 1)


class FdTable:
    """Descriptor numbers, their descriptions and close-on-exec flags."""

    __slots__ = ("_hint", "_inheritable", "files", "limit", "lock")
    # read by offset in posixbackend's C code
    __accelerated_slots__ = ("_hint", "_inheritable", "files", "limit", "lock")

    def __init__(self, limit: int | None = None) -> None:
        self.limit = open_files_limit() if limit is None else limit
        """Descriptors are below this number (EMFILE when none is left, as RLIMIT_NOFILE)."""
        self.files: dict[int, Description] = {}
        """fd -> description; read without the lock (one dict lookup is atomic)."""
        self._inheritable: set[int] = set()
        """The descriptors without close-on-exec (few: Python makes new ones non-inheritable)."""
        self._hint = 0
        """Every descriptor below this one is in use (so a search for a free one starts here)."""
        self.lock = OwnedLock()
        """Guards every change; hold it for compound steps (see hold and cloexec_fds). Its
        holder's own thread is refused (re-entry from a tracer or signal handler, see
        vfs/ownedlock.py) instead of waiting for itself."""

    def get(self, fd: int) -> Description:
        """The description ``fd`` refers to, or EBADF."""
        description = self.files.get(fd)
        if description is None:
            raise os_error(errno.EBADF)
        return description

    def install(self, description: Description, *, cloexec: bool = True, lowest: int = 0) -> int:
        """Give ``description`` (already counted for this descriptor) the lowest free fd."""
        with self.lock:
            files = self.files
            if lowest:
                fd = self._lowest_free(lowest)
            else:  # the common case, inline: start at the hint, everything below is taken
                fd = self._hint
                while fd in files:
                    fd += 1
                if fd >= self.limit:
                    raise os_error(errno.EMFILE)
                self._hint = fd + 1
            files[fd] = description
            if not cloexec:
                self._inheritable.add(fd)
        return fd

    def has_free(self) -> bool:
        """Whether a descriptor is free now (open(2) reserves one before it creates a file)."""
        files = self.files
        fd = self._hint
        while fd in files:
            fd += 1
        return fd < self.limit

    def install_at(self, fd: int, description: Description, *, cloexec: bool) -> None:
        """Put ``description`` at ``fd`` (which must be free); used to set up standard fds."""
        with self.lock:
            if fd in self.files:
                raise os_error(errno.EBUSY)
            self._put(fd, description, cloexec)

    def dup(self, fd: int, *, cloexec: bool = True, lowest: int = 0) -> int:
        """A new descriptor for the description ``fd`` refers to."""
        with self.lock:
            description = self.get(fd)
            new = self._lowest_free(lowest)
            description.refs += 1
            self._put(new, description, cloexec)
            return new

    def dup2(self, fd: int, fd2: int, *, cloexec: bool) -> int:
        """Make ``fd2`` refer to what ``fd`` refers to, closing what ``fd2`` held first.

        With ``cloexec`` this is dup3(2), which refuses ``fd == fd2`` (EINVAL) before anything.
        """
        if cloexec and fd == fd2:
            raise os_error(errno.EINVAL)
        if fd2 < 0 or fd2 >= self.limit:
            raise os_error(errno.EBADF)
        with self.lock:
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
        with self.lock:
            description = self.files.pop(fd, None)
            if description is None:
                raise os_error(errno.EBADF)
            if self._inheritable:
                self._inheritable.discard(fd)
            if fd < self._hint:  # noqa: PLR1730 - cheaper than min() on this hot path
                self._hint = fd
            description.refs -= 1
            last = not description.refs
        if last:
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
        return fd not in self._inheritable

    def set_cloexec(self, fd: int, cloexec: bool) -> None:
        with self.lock:
            self.get(fd)
            if cloexec:
                self._inheritable.discard(fd)
            else:
                self._inheritable.add(fd)

    def hold(self, description: Description) -> None:
        """Count one more reference to ``description`` (the caller holds ``lock``): a child's
        copy of the table, say, until it has its own descriptors."""
        description.refs += 1

    def drop(self, description: Description) -> None:
        """Let go of one reference taken with :meth:`hold`; release it if that was the last."""
        with self.lock:
            description.refs -= 1
            last = not description.refs
        if last:
            description.release()

    def cloexec_fds(self) -> set[int]:
        """The descriptors closed on exec (the caller holds ``lock`` for a consistent view)."""
        return self.files.keys() - self._inheritable

    def open_fds(self) -> list[int]:
        """The open descriptors, in order."""
        return sorted(self.files)

    def _lowest_free(self, lowest: int) -> int:
        """The lowest free descriptor >= ``lowest``; the caller holds the lock and takes it."""
        files = self.files
        hint = self._hint
        fd = lowest if lowest > hint else hint
        while fd in files:
            fd += 1
        if fd >= self.limit:
            raise os_error(errno.EMFILE)
        if lowest <= hint:
            self._hint = fd + 1  # everything below fd was in use, and fd is about to be
        return fd

    def _put(self, fd: int, description: Description, cloexec: bool) -> None:
        self.files[fd] = description
        if cloexec:
            self._inheritable.discard(fd)
        else:
            self._inheritable.add(fd)

    @staticmethod
    def _unref(description: Description) -> bool:
        """Count one descriptor less; whether that was the last (the caller holds the lock)."""
        description.refs -= 1
        return description.refs == 0
