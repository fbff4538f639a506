"""File work through a serving backend object (an emulated backend or its guard).

The loaders call the backend they were found on directly, not the ``os`` stand-ins, so they
keep reading the virtual file system after the block that imported them has ended.
"""

from __future__ import annotations

import os
import posix
import stat
from typing import Any

from vfs.makedirs import make_directories
from vfs.provider import write_all

READ_FLAGS = posix.O_RDONLY | posix.O_CLOEXEC
CHUNK = 1 << 20


def read_file(served: Any, path: str | bytes) -> bytes:
    """The whole content of ``path``: a provider handle with no descriptor where the name
    needs no conversion (the loaders' own paths; os.open's errors, refused by a guard as
    os.open is), else through a descriptor as os.open and os.read would."""
    if type(path) is str and path and path.isascii() and "\x00" not in path:
        handle = served.open_handle(path, READ_FLAGS)
        try:
            chunks: list[bytes] = []
            offset = 0
            while True:
                chunk: bytes = handle.pread(CHUNK, offset)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
                offset += len(chunk)
        finally:
            handle.close()
    fd = served.open(path, READ_FLAGS)
    try:
        chunks = []
        while True:
            chunk = served.read(fd, CHUNK)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        served.close(fd)


def status(served: Any, path: str) -> os.stat_result | None:
    """The status of ``path`` (following links), None where stat would fail: the backend's
    probe, which builds no error for a missing name (a guard refuses it as it refuses stat)."""
    try:
        found: os.stat_result | None = served.probe(path)
    except (OSError, ValueError):
        return None
    return found


def kind_of(served: Any, path: str) -> int | None:
    """The file type bits of ``path`` (following links), None when it cannot be stat'ed."""
    st = status(served, path)
    return None if st is None else stat.S_IFMT(st.st_mode)


def is_directory(served: Any, path: str) -> bool:
    return kind_of(served, path) == stat.S_IFDIR


def is_file(served: Any, path: str) -> bool:
    return kind_of(served, path) == stat.S_IFREG


def write_atomic(served: Any, path: str, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` as the import system does: aside (created exclusively with
    ``mode & 0o666`` less the umask), then renamed in place, so a reader never sees a partial
    file. A plain name goes through a provider handle with no descriptor (as
    :func:`read_file` reads), any other through a descriptor as os.open would."""
    aside = f"{path}.{id(path)}"
    flags = posix.O_EXCL | posix.O_CREAT | posix.O_WRONLY | posix.O_CLOEXEC
    plain = type(path) is str and path and path.isascii() and "\x00" not in path
    # (chosen before the open: nothing that calls stands between it and the try below)
    write, close = (_write_handle, _close_handle) if plain else (_write_fd, _close_fd)
    opened = (served.open_handle if plain else served.open)(aside, flags, mode & 0o666)
    try:
        try:
            write(served, opened, data)
        finally:
            close(served, opened)
        served.replace(aside, path)
    except BaseException:
        _remove(served, aside)
        raise


def _write_handle(served: Any, handle: Any, data: bytes) -> None:
    write_all(handle, data, 0)  # a short write (the file system full) is ENOSPC


def _close_handle(served: Any, handle: Any) -> None:
    handle.close()


def _write_fd(served: Any, fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[served.write(fd, view) :]


def _close_fd(served: Any, fd: int) -> None:
    served.close(fd)


def _remove(served: Any, aside: str) -> None:
    """Remove a bytecode file written aside, if it is still there (a failed write's)."""
    try:
        served.unlink(aside)
    except OSError:
        pass  # the aside file may not exist any more: the error that matters is raised


def make_parents(served: Any, directory: str) -> None:
    """Create the missing directories of ``directory`` (mode 0o777 less the umask), as the
    import system does for ``__pycache__``."""
    make_directories(served, directory, 0o777)
