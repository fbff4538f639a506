"""RLIMIT_FSIZE for a provider: writes stop at the file size limit, as Linux stops them.

The kernel's rule (generic_write_check_limits, inode_newsize_ok): a write starting at or past
the limit fails with EFBIG (Python ignores the SIGXFSZ that comes with it), a write crossing
the limit is cut short at it, and truncating a file to beyond the limit fails with EFBIG. The
real limit covers only real files; the isolated guest writes to memory, so its memory file
system gets the same rule through this wrapper.
"""

from __future__ import annotations

import errno
import posix
import threading

from vfs.delegate import DelegatingFileSystem, DelegatingHandle
from vfs.errors import os_error
from vfs.openflags import O_ACCMODE
from vfs.provider import FileSystem, Handle


class FileSizeLimit(DelegatingFileSystem):
    """``inner`` with no regular file growing beyond ``limit`` bytes."""

    def __init__(self, inner: FileSystem, limit: int) -> None:
        super().__init__(inner)
        self.limit = limit
        self.exceeded = False
        """Whether a write or truncate has been refused or cut short by the limit."""
        self.lock = threading.Lock()
        """Makes an append's size check and write one step."""

    def allowed(self, position: int, count: int, path: str | None = None) -> int:
        """How many of ``count`` bytes may be written at ``position``; EFBIG if none."""
        if position >= self.limit and count:
            self.exceeded = True
            raise os_error(errno.EFBIG, path)
        if position + count > self.limit:
            self.exceeded = True
            return self.limit - position
        return count

    def check_length(self, length: int, path: str | None = None) -> None:
        """EFBIG for a truncate to beyond the limit."""
        if length > self.limit:
            self.exceeded = True
            raise os_error(errno.EFBIG, path)

    def open(self, path: str, flags: int, mode: int = 0o666) -> Handle:
        return _LimitedHandle(self.inner.open(path, flags, mode), self)

    def truncate(self, path: str, length: int) -> None:
        if length >= 0:  # a negative length is the inner provider's EINVAL
            self.check_length(length, path)
        self.inner.truncate(path, length)

    def plain_directory(self, path: str) -> bool:
        # The inner provider's names are these: its one resolution (the guest's Mount checks
        # each mount point with it; the delegate's default answer makes it look at every
        # component instead)
        return self.inner.plain_directory(path)

    def __repr__(self) -> str:
        return f"FileSizeLimit({self.inner!r}, {self.limit})"


class _LimitedHandle(DelegatingHandle):
    """A handle whose writes and truncates obey the file system's limit."""

    __slots__ = ("_limit",)

    def __init__(self, inner: Handle, limit: FileSizeLimit) -> None:
        super().__init__(inner)
        self._limit = limit

    @property
    def _writable(self) -> bool:
        """Whether the handle was opened for writing (else the inner handle's error comes
        first: EBADF for a write, EINVAL for a truncate, as the kernel checks those first)."""
        return self.flags & O_ACCMODE in (posix.O_WRONLY, posix.O_RDWR)

    def pwrite(self, data: bytes, offset: int) -> int:
        if offset < 0 or not data or not self._writable:
            return self.inner.pwrite(data, offset)
        if self.flags & posix.O_APPEND:  # pwrite on an O_APPEND file writes at the end
            with self._limit.lock:
                count = self._limit.allowed(self.inner.size(), len(data))
                return self.inner.pwrite(data[:count], offset)
        count = self._limit.allowed(offset, len(data))
        return self.inner.pwrite(data[:count], offset)

    def append(self, data: bytes) -> int:
        if not data or not self._writable:
            return self.inner.append(data)
        with self._limit.lock:
            count = self._limit.allowed(self.inner.size(), len(data))
            return self.inner.append(data[:count])

    def truncate(self, length: int) -> None:
        if length >= 0 and self._writable:
            self._limit.check_length(length)
        self.inner.truncate(length)
