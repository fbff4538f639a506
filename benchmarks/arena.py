"""Where the contenders of a group run: the same absolute path on native tmpfs, in a managed
MemoryFileSystem and in pyfakefs's fake file system, so that one function using the real names
(``os.stat``, ``open``, ``shutil``...) measures all three; PyFilesystem2 gets a ``MemoryFS``
and is driven through its own API.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

from benchmarks.harness import MANAGED, NATIVE, PYFAKEFS
from posixbackend import backend
from vfs import Identity, MemoryFileSystem
from vfs.adapters.fs2_import import import_fs


def mount_type(path: str) -> str:
    """The file system type of the mount holding ``path`` (from /proc/mounts)."""
    path = os.path.realpath(path)
    best, kind = "", "unknown"
    with open("/proc/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            point = fields[1]
            inside = path == point or path.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best):
                best, kind = point, fields[2]
    return kind


def tmpfs_directory() -> str:
    """A tmpfs directory for the native side: the temporary directory if it is on tmpfs,
    else /dev/shm; an error naming both if neither is."""
    for candidate in (tempfile.gettempdir(), "/dev/shm"):
        if os.path.isdir(candidate) and mount_type(candidate) == "tmpfs":
            return candidate
    raise RuntimeError(
        f"no tmpfs for the native side: {tempfile.gettempdir()} is "
        f"{mount_type(tempfile.gettempdir())} and /dev/shm is not tmpfs (set TMPDIR to a tmpfs)"
    )


class Arena:
    """The native directory, the managed file system and the (paused) pyfakefs patcher of one
    group, all showing ``root``. Create it before the first managed block of the process, so
    that pyfakefs saves the real functions, not the backend's stand-ins."""

    def __init__(self, *, pyfakefs: bool = True) -> None:
        self.root = tempfile.mkdtemp(prefix="bench-", dir=tmpfs_directory())
        self.file_system = MemoryFileSystem(identity=Identity.root())
        self.patcher: Any = None
        if pyfakefs:
            from pyfakefs.fake_filesystem_unittest import Patcher

            self.patcher = Patcher()
            self.patcher.setUp()
            self.patcher.pause()
        for side in self.sides:
            with self.inside(side):
                os.makedirs(self.root, exist_ok=True)
                with open(os.path.join(self.root, ".side"), "w") as marker:
                    marker.write(side)
        self.check()

    @property
    def sides(self) -> tuple[str, ...]:
        """The contenders served through the real names."""
        return (NATIVE, MANAGED, PYFAKEFS) if self.patcher is not None else (NATIVE, MANAGED)

    @contextlib.contextmanager
    def inside(self, side: str) -> Iterator[None]:
        """Run the body with the real names serving ``side``."""
        if side == NATIVE:
            yield
        elif side == MANAGED:
            with backend("managed", file_system=self.file_system):
                yield
        elif side == PYFAKEFS and self.patcher is not None:
            self.patcher.resume()
            try:
                yield
            finally:
                self.patcher.pause()
        else:
            raise ValueError(f"no side {side!r} in this arena")

    def check(self) -> None:
        """Each side sees its own marker: a patch that did not take would otherwise measure
        the wrong file system without a word."""
        for side in self.sides:
            with self.inside(side), open(os.path.join(self.root, ".side")) as marker:
                seen = marker.read()
            if seen != side:
                raise RuntimeError(f"the {side} side reads {seen!r}'s files: not isolated")

    def close(self) -> None:
        if self.patcher is not None:
            self.patcher.tearDown()
            self.patcher = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Arena:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def memory_fs() -> Any:
    """A fresh PyFilesystem2 MemoryFS."""
    import_fs()
    from fs.memoryfs import MemoryFS

    return MemoryFS()
