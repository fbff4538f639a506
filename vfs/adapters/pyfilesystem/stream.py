"""A Python raw binary file over a vfs handle, to be buffered by the io module's own classes.

PyFilesystem2's ``openbin`` returns an ordinary binary file object; this raw file keeps the
position a vfs handle does not (the handle only does pread/pwrite), and :func:`open_stream`
wraps it in ``io.BufferedReader``/``BufferedWriter``/``BufferedRandom`` as ``open`` would.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from vfs.adapters.pyfilesystem.library import Mode
from vfs.provider import Handle

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer


class HandleIO(io.RawIOBase):
    """An unbuffered binary file at a position of its own over ``handle``."""

    def __init__(self, handle: Handle, name: str, mode: Mode) -> None:
        super().__init__()
        self._handle = handle
        self._position = 0
        self._reading = mode.reading
        self._writing = mode.writing
        self._appending = mode.appending
        if self._appending:  # an append-mode file starts at the end, as PyFilesystem2's own do
            self._position = handle.size()
        self.name = name
        self.mode = mode.to_platform_bin()

    def readable(self) -> bool:
        return self._reading

    def writable(self) -> bool:
        return self._writing

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._check_open()
        if not self._reading:
            raise io.UnsupportedOperation("File not open for reading")
        view = memoryview(buffer).cast("B")
        data = self._handle.pread(len(view), self._position)
        view[: len(data)] = data
        self._position += len(data)
        return len(data)

    def readall(self) -> bytes:
        self._check_open()
        if not self._reading:
            raise io.UnsupportedOperation("File not open for reading")
        data = self._handle.pread(max(self._handle.size() - self._position, 0), self._position)
        self._position += len(data)
        return data

    def write(self, data: ReadableBuffer) -> int:
        self._check_open()
        if not self._writing:
            raise io.UnsupportedOperation("File not open for writing")
        payload = bytes(data)
        if self._appending:
            self._position = self._handle.append(payload)
        else:
            self._handle.pwrite(payload, self._position)
            self._position += len(payload)
        return len(payload)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
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
        self._check_open()
        return self._position

    def truncate(self, size: int | None = None) -> int:
        self._check_open()
        if not self._writing:
            raise io.UnsupportedOperation("File not open for writing")
        size = self._position if size is None else size
        self._handle.truncate(size)
        return size

    def close(self) -> None:
        if not self.closed:
            try:
                super().close()
            finally:
                self._handle.close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")


def open_stream(
    handle: Handle, name: str, mode: Mode, buffering: int
) -> io.RawIOBase | io.BufferedIOBase:
    """The file object ``open(name, mode, buffering)`` would give, over ``handle``."""
    raw = HandleIO(handle, name, mode)
    if buffering == 0:
        return raw
    size = buffering if buffering > 1 else io.DEFAULT_BUFFER_SIZE
    if mode.reading and mode.writing:
        return io.BufferedRandom(raw, size)
    if mode.writing:
        return io.BufferedWriter(raw, size)
    return io.BufferedReader(raw, size)
