"""A raw binary file over a provider handle, for the adapters that show providers to others.

PyFilesystem2's ``openbin`` and fsspec's ``open`` hand out seekable binary files; a provider's
handle is positionless (``pread``/``pwrite``). :class:`HandleFile` keeps the position and is
wrapped in the io module's own buffered classes (:func:`buffered`), as ``open`` would do.
"""

from __future__ import annotations

import io
import posix
from typing import TYPE_CHECKING

from vfs.provider import Handle

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer


class HandleFile(io.RawIOBase):
    """An unbuffered binary file with a position of its own over ``handle`` (closed with it).

    Readable, writable and appending follow the flags the handle was opened with; an appending
    file starts at the end, as Python's own files do.
    """

    def __init__(self, handle: Handle, name: str, mode: str) -> None:
        super().__init__()
        self._handle = handle
        self.name = name
        self.mode = mode
        access = handle.flags & 3
        self._readable = access in (posix.O_RDONLY, posix.O_RDWR)
        self._writable = access in (posix.O_WRONLY, posix.O_RDWR)
        self._append = bool(handle.flags & posix.O_APPEND)
        self._position = handle.size() if self._append else 0

    def readable(self) -> bool:
        return self._readable

    def writable(self) -> bool:
        return self._writable

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._check(self._readable, "reading")
        with memoryview(buffer) as view, view.cast("B") as bytes_view:
            data = self._handle.pread(len(bytes_view), self._position)
            bytes_view[: len(data)] = data
        self._position += len(data)
        return len(data)

    def readall(self) -> bytes:
        self._check(self._readable, "reading")
        data = self._handle.pread(max(self._handle.size() - self._position, 0), self._position)
        self._position += len(data)
        return data

    def write(self, data: ReadableBuffer) -> int:
        self._check(self._writable, "writing")
        payload = bytes(data)
        if self._append:
            self._position = self._handle.append(payload)
        else:
            self._position += self._handle.pwrite(payload, self._position)
        return len(payload)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check(True, "")
        if whence == io.SEEK_SET:
            base = 0
        elif whence == io.SEEK_CUR:
            base = self._position
        elif whence == io.SEEK_END:
            base = self._handle.size()
        else:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if base + offset < 0:
            raise OSError(22, "Invalid argument")
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        self._check(True, "")
        return self._position

    def truncate(self, size: int | None = None) -> int:
        self._check(self._writable, "writing")
        length = self._position if size is None else size
        self._handle.truncate(length)
        return length

    def close(self) -> None:
        if not self.closed:
            try:
                super().close()
            finally:
                self._handle.close()

    def _check(self, allowed: bool, purpose: str) -> None:
        """ValueError on a closed file, UnsupportedOperation when not open for ``purpose``."""
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        if not allowed:
            raise io.UnsupportedOperation(f"File not open for {purpose}")


def buffered(raw: HandleFile, buffering: int = -1) -> io.RawIOBase | io.BufferedIOBase:
    """What ``open`` gives for ``buffering``: ``raw`` itself for 0, else the buffered class that
    suits its access (the default size for a negative or 1)."""
    if buffering == 0:
        return raw
    size = buffering if buffering > 1 else io.DEFAULT_BUFFER_SIZE
    if raw.readable() and raw.writable():
        return io.BufferedRandom(raw, size)
    if raw.writable():
        return io.BufferedWriter(raw, size)
    return io.BufferedReader(raw, size)
