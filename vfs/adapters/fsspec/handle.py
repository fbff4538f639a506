"""Open files of the fsspec adapter: POSIX random access over stores that write whole files.

Most fsspec files can only be written front to back, and what is written lands on close. So
the adapter keeps one :class:`OpenFile` per open store key, shared by every handle on it:
reads go to the store by byte range until someone writes; the first write loads the whole
content into a buffer that all handles then read and write (so they see each other's writes
at once, as on Linux), and the buffer is written back with ``pipe_file`` on fsync and when a
writing handle closes.
"""

from __future__ import annotations

import errno
import posix
from typing import TYPE_CHECKING

import compat
from vfs.adapters.fsspec.attributes import Attributes
from vfs.errors import os_error
from vfs.openflags import O_ACCMODE
from vfs.provider import DirEntryInfo, Handle

if TYPE_CHECKING:
    from vfs.adapters.fsspec.provider import FsspecProvider

WRITE_BACK = compat.declare(
    id="vfs.fsspec.write_back",
    function="os.write",
    aspect="when writes reach the store",
    level=compat.Level.FINE,
    explanation="writes to an fsspec store are buffered whole by the adapter and reach the "
    "store on fsync or close; other users of the store see them only then",
)

_READS = (posix.O_RDONLY, posix.O_RDWR)
_WRITES = (posix.O_WRONLY, posix.O_RDWR)


class OpenFile:
    """The content of one regular file while the adapter has it open (under the adapter lock).

    ``key`` is where the file lives in the store (None once unlinked: its content is then held
    here only); ``data`` is None until a write, a truncation or an unlink loads it.
    """

    __slots__ = ("attributes", "data", "dirty", "handles", "key")

    def __init__(self, key: str, attributes: Attributes) -> None:
        self.key: str | None = key
        self.attributes = attributes
        self.data: bytearray | None = None
        self.dirty = False
        self.handles = 0


class FsspecHandle(Handle):
    """A handle on a file or directory of an :class:`FsspecProvider`.

    Directories have no :class:`OpenFile`; they remember their store key (kept up to date by
    renames) to list it. O_PATH handles only answer fstat.
    """

    __slots__ = ("__weakref__", "_closed", "_dir_key", "_file", "_fs", "_opened_as", "flags")

    def __init__(
        self,
        fs: FsspecProvider,
        path: str,
        flags: int,
        file: OpenFile | None,
        dir_key: str | None,
    ) -> None:
        self._fs = fs
        self._opened_as = path
        self.flags = flags
        self._file = file
        self._dir_key = dir_key
        self._closed = False
        if file is not None:
            file.handles += 1

    @property
    def path(self) -> str:
        return self._opened_as

    @property
    def closed(self) -> bool:
        return self._closed

    def _open(self) -> None:
        if self._closed or self.flags & posix.O_PATH:
            raise os_error(errno.EBADF)

    def _regular(self, allowed: tuple[int, ...]) -> OpenFile:
        """The open regular file, if this handle's access mode is one of ``allowed``."""
        self._open()
        if self.flags & O_ACCMODE not in allowed:
            raise os_error(errno.EBADF)
        if self._file is None:
            raise os_error(errno.EISDIR)
        return self._file

    def pread(self, n: int, offset: int) -> bytes:
        file = self._regular(_READS)
        if n < 0 or offset < 0:
            raise os_error(errno.EINVAL)
        with self._fs._lock:
            return self._fs._read(file, n, offset)

    def pwrite(self, data: bytes, offset: int) -> int:
        file = self._regular(_WRITES)
        if offset < 0:
            raise os_error(errno.EINVAL)
        with self._fs._lock:
            buffer = self._fs._load(file)
            if self.flags & posix.O_APPEND:  # pwrite(2) on Linux: O_APPEND wins
                offset = len(buffer)
            self._splice(file, buffer, bytes(data), offset)
        return len(data)

    def append(self, data: bytes) -> int:
        file = self._regular(_WRITES)
        with self._fs._lock:
            buffer = self._fs._load(file)
            offset = len(buffer)
            self._splice(file, buffer, bytes(data), offset)
            return offset + len(data)

    @staticmethod
    def _splice(file: OpenFile, buffer: bytearray, data: bytes, offset: int) -> None:
        """Write ``data`` at ``offset`` into the buffer, zero-filling a gap."""
        if not data:
            return
        WRITE_BACK.hit(path=file.key)
        if offset > len(buffer):
            buffer.extend(bytes(offset - len(buffer)))
        buffer[offset : offset + len(data)] = data
        file.dirty = True
        file.attributes.modified()

    def size(self) -> int:
        self._open()
        if self._file is None:
            return 4096
        with self._fs._lock:
            return self._fs._size(self._file)

    def truncate(self, length: int) -> None:
        if self._closed:
            raise os_error(errno.EBADF)
        file = self._file
        if file is None or self.flags & O_ACCMODE not in _WRITES or length < 0:
            raise os_error(errno.EINVAL)
        with self._fs._lock:
            self._fs._resize(file, length)

    def sync(self) -> None:
        self._open()
        if self._file is not None:
            with self._fs._lock:
                self._fs._write_back(self._file, self._opened_as)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        file = self._file
        if file is not None:
            with self._fs._lock:
                self._fs._release(file, self._opened_as)

    def stat(self) -> posix.stat_result:
        if self._closed:
            raise os_error(errno.EBADF)
        with self._fs._lock:
            if self._file is not None:
                return self._fs._file_stat(self._file)
            assert self._dir_key is not None
            return self._fs._key_stat(self._dir_key, self._opened_as)

    def _attributes(self) -> Attributes:
        self._open()
        if self._file is not None:
            return self._file.attributes
        assert self._dir_key is not None
        return self._fs._attributes.get(self._dir_key)

    def chmod(self, mode: int) -> None:
        with self._fs._lock:
            self._fs._chmod(self._attributes(), mode, None)

    def chown(self, uid: int, gid: int) -> None:
        with self._fs._lock:
            self._fs._chown(self._attributes(), uid, gid, None, self._file is None)

    def utime(self, ns: tuple[int, int] | None = None) -> None:
        with self._fs._lock:
            self._fs._utime(self._attributes(), ns, None)

    def _directory(self) -> str:
        self._open()
        if self._dir_key is None:
            raise os_error(errno.ENOTDIR)
        return self._dir_key

    def listdir(self) -> list[str]:
        key = self._directory()
        with self._fs._lock:
            return [entry.name for entry in self._fs._entries(key, self._opened_as)]

    def scandir(self) -> list[DirEntryInfo]:
        key = self._directory()
        with self._fs._lock:
            return self._fs._entries(key, self._opened_as)

    def statvfs(self) -> posix.statvfs_result:
        if self._closed:
            raise os_error(errno.EBADF)
        return self._fs._statvfs()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"flags={self.flags:#o}"
        return f"<FsspecHandle {self._opened_as!r} {state}>"


__all__ = ["WRITE_BACK", "FsspecHandle", "OpenFile"]
