"""DenyIOFileSystem: a provider for code that was granted no file I/O at all.

Every call fails with PermissionError and a message that names what is missing, e.g.
``[Errno 13] Permission denied: file I/O is not granted: '/etc/passwd'``. The errno is the one
Linux gives an unprivileged caller refused by permissions: EACCES, except EPERM where Linux
answers a missing *privilege* rather than a missing permission bit — chmod, chown and utime
with explicit times (the owner-only operations). Arguments the kernel rejects before any
lookup (a path that is not a str, a NUL, an overlong path, bad open flags, a negative length,
an unknown access mode, an empty link target) keep their usual error, and the file names are
those Linux would report (both for rename and link, the target and the new name for symlink).
"""

from __future__ import annotations

import errno
import posix

import compat
from vfs.arguments import check_access_mode, check_length, check_target
from vfs.limits import check_path
from vfs.openflags import check_open_flags
from vfs.provider import DirEntryInfo, FileSystem, Handle

NOT_GRANTED = "file I/O is not granted"

IO_DENIED = compat.declare(
    id="vfs.denyio",
    function="vfs.DenyIOFileSystem",
    aspect="file I/O denied",
    level=compat.Level.FINE,
    explanation="file I/O is not granted: every file operation fails with EACCES (EPERM for "
    "chmod, chown and utime with explicit times) where Linux would let root through",
)


class DenyIOFileSystem(FileSystem):
    """A file system every operation of which is refused: no file I/O is granted."""

    def __init__(self, reason: str = NOT_GRANTED) -> None:
        self.reason = reason

    def _deny(
        self, filename: object, filename2: object = None, code: int = errno.EACCES
    ) -> OSError:
        """The PermissionError for a call on ``filename`` (and ``filename2``)."""
        IO_DENIED.hit(path=filename)
        message = f"{posix.strerror(code)}: {self.reason}"
        return OSError(code, message, filename, None, filename2)

    def stat(self, path: str, follow_symlinks: bool = True) -> posix.stat_result:
        raise self._deny(check_path(path))

    def open(self, path: str, flags: int, mode: int = 0o666) -> Handle:
        check_path(path)
        check_open_flags(flags, path)
        raise self._deny(path)

    def listdir(self, path: str) -> list[str]:
        raise self._deny(check_path(path))

    def scandir(self, path: str) -> list[DirEntryInfo]:
        raise self._deny(check_path(path))

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        raise self._deny(check_path(path))

    def rmdir(self, path: str) -> None:
        raise self._deny(check_path(path))

    def unlink(self, path: str) -> None:
        raise self._deny(check_path(path))

    def rename(self, src: str, dst: str) -> None:
        raise self._deny(check_path(src, dst), check_path(dst, src))

    def symlink(self, target: str, path: str) -> None:
        target = check_target(target, path)  # symlink(2) reads the target before the path
        raise self._deny(target, check_path(path))

    def readlink(self, path: str) -> str:
        raise self._deny(check_path(path))

    def link(self, src: str, dst: str, follow_symlinks: bool = True) -> None:
        raise self._deny(check_path(src, dst), check_path(dst, src))

    def chmod(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        raise self._deny(check_path(path), code=errno.EPERM)

    def chown(self, path: str, uid: int, gid: int, follow_symlinks: bool = True) -> None:
        raise self._deny(check_path(path), code=errno.EPERM)

    def utime(
        self, path: str, ns: tuple[int, int] | None = None, follow_symlinks: bool = True
    ) -> None:
        # Setting the times to now needs write permission (EACCES); explicit times need
        # ownership (EPERM).
        raise self._deny(check_path(path), code=errno.EACCES if ns is None else errno.EPERM)

    def truncate(self, path: str, length: int) -> None:
        check_path(path)
        check_length(length, path)
        raise self._deny(path)

    def access(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        check_access_mode(mode, path)
        raise self._deny(path)

    def statvfs(self, path: str) -> posix.statvfs_result:
        raise self._deny(check_path(path))

    def __repr__(self) -> str:
        return f"<DenyIOFileSystem: {self.reason}>"
