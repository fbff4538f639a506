"""An open file or directory of a wrapped PyFilesystem2 FS: pread/pwrite over a file object.

PyFilesystem2 opens files as Python binary file objects with a position of their own; the
handle keeps none (offsets live above it), so every read or write seeks first, under the
handle's lock. Writes are flushed at once (and files are opened unbuffered where the FS honours
``buffering=0``), so another handle on the same file sees them, as on Linux. Appends take the
provider's lock so that two handles appending to one file do not interleave within a write.
"""

from __future__ import annotations

import errno
import io
import posix
import threading
from typing import IO, TYPE_CHECKING

from vfs.adapters.pyfilesystem.errors import os_error_from
from vfs.adapters.pyfilesystem.library import fs_errors
from vfs.errors import os_error
from vfs.openflags import O_ACCMODE
from vfs.provider import DirEntryInfo, Handle

if TYPE_CHECKING:
    from vfs.adapters.pyfilesystem.provider import PyFilesystemProvider

READ, WRITE = 1, 2
"""What a handle may do, from its access mode."""
ZERO_CHUNK = 1 << 16
"""Bytes of zeros written at a time when a file must grow and the FS cannot extend it."""


def access_of(flags: int) -> int:
    """READ and/or WRITE for an open(2) access mode (none for O_PATH or mode 3)."""
    if flags & posix.O_PATH:
        return 0
    return {posix.O_RDONLY: READ, posix.O_WRONLY: WRITE, posix.O_RDWR: READ | WRITE}.get(
        flags & O_ACCMODE, 0
    )


class PyFilesystemHandle(Handle):
    """A channel to one resource of a :class:`PyFilesystemProvider`.

    ``file`` is the FS's binary file object for a regular file opened to read or write, None
    for a directory, an O_PATH handle or access mode 3. The resource is followed across renames
    by its inode number; once its name is gone, status comes from what the handle last knew.
    """

    __slots__ = (
        "_closed", "_fs", "_ino", "_is_dir", "_last_path", "_last_stat", "_lock", "file", "flags"
    )  # fmt: skip

    def __init__(
        self,
        fs: PyFilesystemProvider,
        ino: int,
        flags: int,
        opened_as: str,
        *,
        file: IO[bytes] | None,
        is_dir: bool,
    ) -> None:
        self._fs = fs
        self._ino = ino
        self.flags = flags
        self._last_path = opened_as
        self.file = file
        self._is_dir = is_dir
        self._lock = threading.Lock()
        self._closed = False
        self._last_stat: posix.stat_result | None = None

    # -- where the resource is -------------------------------------------------------------

    @property
    def path(self) -> str:
        return self._fs.inodes.path_of(self._ino) or self._last_path

    @property
    def closed(self) -> bool:
        return self._closed

    def _current(self) -> str | None:
        """The resource's normalised path on the wrapped FS, or None once its name is gone."""
        return self._fs.inodes.path_of(self._ino)

    def _usable(self) -> None:
        if self._closed or self.flags & posix.O_PATH:
            raise os_error(errno.EBADF)

    def _file(self, needed: int) -> IO[bytes]:
        """The file object, if this handle may read (or write) it; else Linux's errno."""
        if self._closed or not access_of(self.flags) & needed:
            raise os_error(errno.EBADF)
        if self._is_dir:
            raise os_error(errno.EISDIR)
        if self.file is None:
            raise os_error(errno.EBADF)
        return self.file

    # -- data ---------------------------------------------------------------------------------

    def pread(self, n: int, offset: int) -> bytes:
        file = self._file(READ)
        if n < 0 or offset < 0:
            raise os_error(errno.EINVAL)
        chunks: list[bytes] = []
        with self._lock, self._translated():
            file.seek(offset)
            while n > 0:
                chunk = file.read(n)
                if not chunk:
                    break
                chunks.append(chunk)
                n -= len(chunk)
        return b"".join(chunks)

    def pwrite(self, data: bytes, offset: int) -> int:
        file = self._file(WRITE)
        if offset < 0:
            raise os_error(errno.EINVAL)
        if self.flags & posix.O_APPEND:  # as pwrite(2) on Linux: O_APPEND wins over offset
            self.append(data)
            return len(data)
        with self._lock, self._translated():
            self._write_at(file, bytes(data), offset)
        return len(data)

    def append(self, data: bytes) -> int:
        file = self._file(WRITE)
        with self._fs.append_lock, self._lock, self._translated():
            offset = file.seek(0, io.SEEK_END)
            self._write_at(file, bytes(data), offset)
        return offset + len(data)

    def _write_at(self, file: IO[bytes], data: bytes, offset: int) -> None:
        """Write all of ``data`` at ``offset``, zero-filling a gap past the end (lock held)."""
        if not data:
            return  # an empty write changes nothing, not even the size
        end = file.seek(0, io.SEEK_END)
        if offset > end:
            self._zero_fill(file, end, offset)
        file.seek(offset)
        view = memoryview(data)
        while view:
            written = file.write(view)
            view = view[written if written is not None else 0 :]
        file.flush()

    @staticmethod
    def _zero_fill(file: IO[bytes], start: int, stop: int) -> None:
        """Write zeros from ``start`` to ``stop`` (file objects need not extend on seek)."""
        file.seek(start)
        while start < stop:
            chunk = min(ZERO_CHUNK, stop - start)
            file.write(bytes(chunk))
            start += chunk

    def size(self) -> int:
        self._usable()
        file = self.file
        if file is None:
            return self.stat().st_size
        with self._lock, self._translated():
            return file.seek(0, io.SEEK_END)

    def truncate(self, length: int) -> None:
        if self._closed:
            raise os_error(errno.EBADF)
        if length < 0 or self._is_dir or not access_of(self.flags) & WRITE or self.file is None:
            raise os_error(errno.EINVAL)
        file = self.file
        with self._lock, self._translated():
            file.truncate(length)
            end = file.seek(0, io.SEEK_END)
            if end < length:  # io.BytesIO and friends only cut, never extend
                self._zero_fill(file, end, length)
            file.flush()

    def sync(self) -> None:
        self._usable()
        file = self.file
        if file is None:
            return
        with self._lock, self._translated():
            file.flush()
            try:
                descriptor = file.fileno()
            except (OSError, io.UnsupportedOperation, AttributeError):
                return  # no host file below: flushing to the FS is all there is
            posix.fsync(descriptor)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            file, self.file = self.file, None
            if file is not None:
                with self._translated():
                    file.close()

    # -- metadata -----------------------------------------------------------------------------

    def stat(self) -> posix.stat_result:
        if self._closed:
            raise os_error(errno.EBADF)
        current = self._current()
        if current is not None:
            try:
                self._last_stat = self._fs.stat_resource(current, self._ino)
                return self._last_stat
            except FileNotFoundError:
                pass  # removed behind the adapter's back: report it as unlinked
        return self._fs.orphan_stat(self._ino, self._is_dir, self._orphan_size(), self._last_stat)

    def _orphan_size(self) -> int:
        file = self.file
        if file is None:
            return 0
        with self._lock, self._translated():
            return file.seek(0, io.SEEK_END)

    def _named(self) -> str:
        """The current path, for calls that need the resource to still have a name."""
        self._usable()
        current = self._current()
        if current is None:
            raise os_error(errno.ENOENT)
        return current

    def chmod(self, mode: int) -> None:
        self._fs.chmod(self._named(), mode)

    def chown(self, uid: int, gid: int) -> None:
        self._fs.chown(self._named(), uid, gid)

    def utime(self, ns: tuple[int, int] | None = None) -> None:
        self._fs.utime(self._named(), ns)

    def listdir(self) -> list[str]:
        return [entry.name for entry in self.scandir()]

    def scandir(self) -> list[DirEntryInfo]:
        self._usable()
        if not self._is_dir:
            raise os_error(errno.ENOTDIR)
        current = self._current()
        if current is None:
            return []  # a removed directory reads as empty, as on Linux
        return self._fs.scandir(current)

    def statvfs(self) -> posix.statvfs_result:
        if self._closed:
            raise os_error(errno.EBADF)
        return self._fs.statvfs("/")

    def _translated(self) -> _Translated:
        return _Translated(self.path)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"flags={self.flags:#o}"
        return f"<PyFilesystemHandle {self.path!r} ino={self._ino} {state}>"


class _Translated:
    """Turns what a foreign file object raises into the OSError Linux gives, without a name."""

    __slots__ = ("_path",)

    def __init__(self, path: str) -> None:
        self._path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        if error is None:
            return
        if isinstance(error, io.UnsupportedOperation):
            raise os_error(errno.EBADF) from error
        if isinstance(error, fs_errors.FSError):
            code = os_error_from(error, self._path).errno
            raise os_error(code if code is not None else errno.EIO) from error
        if isinstance(error, ValueError):
            raise os_error(errno.EBADF) from error
