"""Types of the C accelerator (posixbackend/_speedups.c); see emulated/accelerator.py."""

import io
import os
from collections.abc import Callable
from typing import Any

SLOT_READS: dict[str, tuple[str, ...]]
"""The slots this module reads by offset, by class role (see emulated/accelerator_contract.py)."""

def configure(
    *,
    description: type,
    file_description: type,
    fd_table: type,
    memory_handle: type,
    inode: type,
    regular_file: type,
    directory: type,
    resolver: type,
    identity: type,
    space: type,
    fast_state: tuple[int, ...],
    no_handles: object,
    open_state: int,
    reader_state: int,
    slow_flags: int,
    writer_state: int,
    max_file_size: int,
) -> None: ...

def new_raw_file(cls: type[Any], /, *args: Any) -> Any:
    """``cls(*args)``, without RawFile.__new__'s Python frame for an accelerated FileIO."""

class FastPaths:
    def __init__(
        self,
        table: Any,
        file_system: Any,
        *,
        read: Callable[..., Any],
        lseek: Callable[..., Any],
        open: Callable[..., Any],
        close: Callable[..., Any],
        stat: Callable[..., Any],
        lstat: Callable[..., Any],
        view: Callable[[os.stat_result], os.stat_result],
        resolution: int,
    ) -> None: ...
    def read(self, fd: int, length: int, /) -> bytes: ...
    def lseek(self, fd: int, position: int, whence: int, /) -> int: ...
    def open(
        self, path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None
    ) -> int: ...
    def close(self, fd: int) -> None: ...
    def stat(
        self, path: Any, *, dir_fd: int | None = None, follow_symlinks: bool = True
    ) -> os.stat_result: ...
    def lstat(self, path: Any, *, dir_fd: int | None = None) -> os.stat_result: ...

def configure_stat_view(hit: Callable[[], object], /) -> None: ...
def configure_mkdir(*, inode: type, directory: type, space: type) -> None: ...

class FastMkdir:
    """os.mkdir of a plain absolute path on the MemoryFileSystem of ``fast_paths``; ``mkdir``
    (the backend's bound Python method) serves every other case."""

    def __init__(self, fast_paths: FastPaths, mkdir: Callable[..., None]) -> None: ...
    def __call__(self, path: Any, mode: int = 0o777, *, dir_fd: int | None = None) -> None: ...
    def mkdir(self, path: Any, mode: int = 0o777, *, dir_fd: int | None = None) -> None: ...

class FastNames:
    """os.unlink, os.remove, os.rename and os.replace of a regular file's plain absolute names
    on the MemoryFileSystem of ``fast_paths``; the backend's bound Python method of each name
    serves every other case."""

    def __init__(
        self,
        fast_paths: FastPaths,
        *,
        unlink: Callable[..., None],
        remove: Callable[..., None],
        rename: Callable[..., None],
        replace: Callable[..., None],
    ) -> None: ...
    def unlink(self, path: Any, *, dir_fd: int | None = None) -> None: ...
    def remove(self, path: Any, *, dir_fd: int | None = None) -> None: ...
    def rename(
        self, src: Any, dst: Any, *, src_dir_fd: int | None = None, dst_dir_fd: int | None = None
    ) -> None: ...
    def replace(
        self, src: Any, dst: Any, *, src_dir_fd: int | None = None, dst_dir_fd: int | None = None
    ) -> None: ...

class MemoryWriter:
    def __init__(self, handle: Any) -> None: ...
    def __call__(self, data: bytes, offset: int, /) -> int: ...
    def reserve(self, size: int, /) -> bool:
        """Room for the file to grow to ``size`` bytes with no copy per write (invisible)."""

memory_writer_api_2: object
"""A capsule of MemoryWriterApi (posixbackend/_memory_writer_api.h) for the SQLite VFS (its
number moves with the structure's layout)."""

def memory_mode(file_system: Any, path: str, /) -> int:
    """Permission bits of what ``path`` names on a MemoryFileSystem, -1 missing, -2 ask it."""

def truncated_stat(result: os.stat_result, resolution: int, /) -> os.stat_result | None:
    """A copy of ``result`` with its times truncated to ``resolution`` ns (None: not here)."""

def configure_raw_file(
    *,
    raw_file: type,
    iobase_close: Callable[..., Any],
    block_size: int,
    mode_flags: tuple[int, int, int, int],
    plus_flag: int,
) -> None: ...

class RawFileBase(io.RawIOBase):
    """The C methods of an accelerated backend's FileIO (a base before RawFile)."""

class FastCopies:
    """os.sendfile from one memory file to another, and os.chmod and os.utime(ns=...) of a
    plain absolute path, on the MemoryFileSystem of ``fast_paths``; the backend's bound Python
    method of each name serves every other case."""

    def __init__(
        self,
        fast_paths: FastPaths,
        *,
        sendfile: Callable[..., int],
        chmod: Callable[..., None],
        utime: Callable[..., None],
    ) -> None: ...
    def sendfile(self, out_fd: int, in_fd: int, offset: int | None, count: int) -> int: ...
    def chmod(
        self, path: Any, mode: int, *, dir_fd: int | None = None, follow_symlinks: bool = True
    ) -> None: ...
    def utime(
        self,
        path: Any,
        times: tuple[float, float] | None = None,
        *,
        ns: tuple[int, int] = ...,
        dir_fd: int | None = None,
        follow_symlinks: bool = True,
    ) -> None: ...

class FastEntryStat:
    """The StatFunction of a backend's scans of paths: a plain absolute path's regular file or
    directory on the MemoryFileSystem of ``fast_paths`` answered as its C os.stat answers it,
    every other case by ``python`` (the backend's own StatFunction)."""

    def __init__(
        self, fast_paths: FastPaths, python: Callable[[str, bool], os.stat_result]
    ) -> None: ...
    def stat(self, entry_path: str, follow_symlinks: bool, /) -> os.stat_result: ...

class FastCopyStats:
    """os.fstat of an open memory file and os.listxattr's refusal of a plain absolute path (or
    of a DirEntry of one) on the MemoryFileSystem of ``fast_paths``, ``hit(path=...)``
    recording the gap; the backend's bound Python method of each name serves every other case."""

    def __init__(
        self,
        fast_paths: FastPaths,
        *,
        fstat: Callable[..., os.stat_result],
        listxattr: Callable[..., list[str]],
        hit: Callable[..., None],
        entry_type: type,
    ) -> None: ...
    def fstat(self, fd: int) -> os.stat_result: ...
    def listxattr(self, path: Any = None, *, follow_symlinks: bool = True) -> list[str]: ...

class FastOpen:
    """A backend's open(): a usual binary mode's call (``modes[mode]`` gives its raw mode and
    buffered class) on a str path or a DirEntry of ``entry_types`` made here, the raw file by
    ``make_raw(path, raw_mode, True, None)``; every other call (and every call from a function
    of ``pass_throughs``) by ``python``."""

    def __init__(
        self,
        python: Callable[..., Any],
        make_raw: Callable[..., Any],
        modes: dict[str, tuple[Any, str, Callable[..., Any] | None]],
        entry_types: tuple[type, ...],
        pass_throughs: list[object],
    ) -> None: ...
    def open(
        self,
        file: Any,
        mode: str = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        closefd: bool = True,
        opener: Callable[[str, int], int] | None = None,
    ) -> Any: ...
