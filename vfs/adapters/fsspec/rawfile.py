"""A raw binary file over a provider handle, for the fsspec file system that shows providers.

fsspec users expect a seekable binary file from ``open``; providers offer positionless
``pread``/``pwrite``. :class:`ProviderRawFile` keeps the position and is wrapped in the
standard buffered classes, so fsspec's text mode and compression work over it unchanged.
"""

from __future__ import annotations

import io
import os
import posix
from typing import IO, TYPE_CHECKING

from vfs.provider import Handle

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

_FLAGS = {
    "r": posix.O_RDONLY,
    "w": posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC,
    "a": posix.O_WRONLY | posix.O_CREAT | posix.O_APPEND,
    "x": posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL,
}


def open_flags(mode: str) -> int:
    """The ``os.open`` flags of a binary file mode such as ``rb``, ``r+b``, ``ab`` or ``xb``."""
    kinds = [c for c in mode if c in _FLAGS]
    if len(kinds) != 1 or set(mode) - set("rwaxb+") or "b" not in mode:
        raise ValueError(f"invalid binary mode: {mode!r}")
    flags = _FLAGS[kinds[0]]
    if "+" in mode:
        flags = (flags & ~(posix.O_WRONLY | posix.O_RDONLY)) | posix.O_RDWR
    return flags


class ProviderRawFile(io.RawIOBase):
    """An unbuffered binary file with its own position over ``handle`` (closed with it)."""

    def __init__(self, handle: Handle, name: str, mode: str) -> None:
        super().__init__()
        self._handle = handle
        self.name = name
        self.mode = mode
        self._position = 0
        access = handle.flags & 3
        self._readable = access in (posix.O_RDONLY, posix.O_RDWR)
        self._writable = access in (posix.O_WRONLY, posix.O_RDWR)
        self._append = bool(handle.flags & posix.O_APPEND)
        if self._append:
            self._position = handle.size()

    def readable(self) -> bool:
        return self._readable

    def writable(self) -> bool:
        return self._writable

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._check_closed()
        if not self._readable:
            raise io.UnsupportedOperation("File not open for reading")
        with memoryview(buffer) as view:
            data = self._handle.pread(view.nbytes, self._position)
            view[: len(data)] = data
        self._position += len(data)
        return len(data)

    def write(self, data: ReadableBuffer) -> int:
        self._check_closed()
        if not self._writable:
            raise io.UnsupportedOperation("File not open for writing")
        payload = bytes(data)
        if self._append:
            self._position = self._handle.append(payload)
        else:
            self._position += self._handle.pwrite(payload, self._position)
        return len(payload)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._check_closed()
        if whence == os.SEEK_SET:
            base = 0
        elif whence == os.SEEK_CUR:
            base = self._position
        elif whence == os.SEEK_END:
            base = self._handle.size()
        else:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if base + offset < 0:
            raise OSError(22, "Invalid argument")
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        self._check_closed()
        return self._position

    def truncate(self, size: int | None = None) -> int:
        self._check_closed()
        length = self._position if size is None else size
        self._handle.truncate(length)
        return length

    def flush(self) -> None:
        self._check_closed()

    def close(self) -> None:
        if not self.closed:
            try:
                super().close()
            finally:
                self._handle.close()

    def _check_closed(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")


def buffered(raw: ProviderRawFile, buffer_size: int) -> IO[bytes]:
    """The standard buffered file over ``raw`` that suits its access mode."""
    if raw.readable() and raw.writable():
        return io.BufferedRandom(raw, buffer_size)
    if raw.writable():
        return io.BufferedWriter(raw, buffer_size)
    return io.BufferedReader(raw, buffer_size)
