"""EmulatedBackend: the "java" POSIX backend, assembled from its function groups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from posixbackend.emulated.directories import DirectoryFunctions
from posixbackend.emulated.files import FileFunctions
from posixbackend.emulated.paths import PathFunctions
from posixbackend.emulated.pipe_functions import PipeFunctions
from posixbackend.emulated.process import ProcessFunctions

SUPPORTS_FD = ("chdir", "chmod", "chown", "listdir", "pathconf", "scandir", "stat", "statvfs",
               "truncate", "utime")  # fmt: skip
SUPPORTS_DIR_FD = ("access", "chmod", "chown", "link", "mkdir", "mkfifo", "mknod", "open",
                   "readlink", "rename", "rmdir", "stat", "symlink", "unlink", "utime")  # fmt: skip
SUPPORTS_FOLLOW_SYMLINKS = ("access", "chown", "link", "stat", "utime")


class EmulatedBackend(
    FileFunctions, PathFunctions, DirectoryFunctions, PipeFunctions, ProcessFunctions
):
    """An emulated POSIX process over a file system provider (GraalPy's "java" backend).

    Its methods have the names, signatures and errors of the ``os`` functions they stand for;
    ``supports_fd``, ``supports_dir_fd``, ``supports_follow_symlinks`` and
    ``supports_effective_ids`` say which of them accept what, as the ``os`` sets do.

    ``file_system`` defaults to a new MemoryFileSystem; ``cwd`` must be an existing directory
    of it; ``umask`` starts at 0o022 whatever the process's is; file times are truncated to
    ``time_resolution_ns`` (a second, as GraalPy's Java backend guarantees); ``identity``
    defaults to the provider's (or this process's); ``environ`` to a copy of the process's.
    """

    name = "java"

    @property
    def supports_fd(self) -> set[Callable[..., Any]]:
        """The functions that accept an open descriptor as their path."""
        return {getattr(self, name) for name in SUPPORTS_FD}

    @property
    def supports_dir_fd(self) -> set[Callable[..., Any]]:
        """The functions that accept ``dir_fd``."""
        return {getattr(self, name) for name in SUPPORTS_DIR_FD}

    @property
    def supports_follow_symlinks(self) -> set[Callable[..., Any]]:
        """The functions that accept ``follow_symlinks=False``."""
        return {getattr(self, name) for name in SUPPORTS_FOLLOW_SYMLINKS}

    @property
    def supports_effective_ids(self) -> set[Callable[..., Any]]:
        """None: os.access(effective_ids=True) is a gap of the emulated backend."""
        return set()

    def __repr__(self) -> str:
        return f"<EmulatedBackend fs={self._fs!r} cwd={self._cwd!r}>"
