"""The provider interface: what every file system behind the emulated backend implements.

Modelled on GraalVM's polyglot ``FileSystem`` but in POSIX words. A provider takes absolute str
paths (it never sees a file descriptor number or a current directory), resolves them with
POSIX semantics (``..`` after a symbolic link, trailing slashes, ELOOP after 40 links), applies
no umask (``mode`` arrives final), and fails with the OSError subclass, errno and file names
that Linux gives for the same call.
"""

from __future__ import annotations

import abc
import errno
import posix
import stat as _stat
from typing import Self

import attrs

import compat
from vfs.errors import os_error

SEEK_DATA, SEEK_HOLE = 3, 4
HOLES_NOT_TRACKED = compat.declare(
    id="vfs.holes",
    function="os.lseek",
    aspect="SEEK_DATA and SEEK_HOLE",
    level=compat.Level.FINE,
    explanation="a provider that does not track holes reports data everywhere: SEEK_HOLE "
    "finds only the end of the file (as Linux does for such file systems)",
)

SPACE_NOT_RESERVED = compat.declare(
    id="vfs.fallocate",
    function="os.posix_fallocate",
    aspect="reserving space",
    level=compat.Level.FINE,
    explanation="a provider that does not track allocation (and a wrapper that limits how far "
    "files grow) only extends the file: nothing is reserved, so a later write may still fail "
    "with ENOSPC",
)

ENTRY_TYPES = (
    _stat.S_IFREG,
    _stat.S_IFDIR,
    _stat.S_IFLNK,
    _stat.S_IFIFO,
    _stat.S_IFSOCK,
    _stat.S_IFCHR,
    _stat.S_IFBLK,
)


@attrs.frozen(slots=True)
class DirEntryInfo:
    """One directory entry as readdir reports it: its name, file type (``stat.S_IF*``), inode."""

    name: str
    type: int
    inode: int

    @property
    def is_dir(self) -> bool:
        """Whether the entry itself (not a link target) is a directory."""
        return self.type == _stat.S_IFDIR

    @property
    def is_symlink(self) -> bool:
        """Whether the entry is a symbolic link."""
        return self.type == _stat.S_IFLNK


class Handle(abc.ABC):
    """An open file or directory: a random-access channel with no offset of its own.

    Offsets, O_APPEND positioning and file descriptor numbers live above, in the backend's
    open file descriptions. ``flags`` are the ``os.O_*`` flags the handle was opened with.
    """

    __slots__ = ()
    flags: int

    @property
    @abc.abstractmethod
    def path(self) -> str:
        """The path this handle was opened by (for a directory: where it is now, if it can tell)."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""

    @abc.abstractmethod
    def pread(self, n: int, offset: int) -> bytes:
        """Read up to ``n`` bytes at ``offset``; fewer at end of file, ``b''`` past it."""

    @abc.abstractmethod
    def pwrite(self, data: bytes, offset: int) -> int:
        """Write ``data`` at ``offset`` (a gap before it reads as zeros) and return how many
        bytes went in: all, unless the file system fills up first, when it may be fewer, as
        write(2) gives (ENOSPC if none). :func:`write_all` makes a short write an error."""

    @abc.abstractmethod
    def append(self, data: bytes) -> int:
        """Write all of ``data`` at the current end of file atomically (or nothing: ENOSPC when
        it does not all fit); return the offset after it."""

    @abc.abstractmethod
    def size(self) -> int:
        """The file's current size in bytes."""

    @abc.abstractmethod
    def truncate(self, length: int) -> None:
        """Cut or extend the file to ``length`` bytes (ftruncate)."""

    @abc.abstractmethod
    def sync(self) -> None:
        """Flush the file's data and metadata to its storage (fsync)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the handle; closing twice is harmless."""

    @abc.abstractmethod
    def stat(self) -> posix.stat_result:
        """The open file's status (fstat), even after its last name was removed."""

    @abc.abstractmethod
    def chmod(self, mode: int) -> None:
        """Change the open file's permission bits (fchmod)."""

    @abc.abstractmethod
    def chown(self, uid: int, gid: int) -> None:
        """Change the open file's owner and group; -1 leaves one unchanged (fchown)."""

    @abc.abstractmethod
    def utime(self, ns: tuple[int, int] | None = None) -> None:
        """Set access and modification times in ns, or both to now when ``ns`` is None."""

    @abc.abstractmethod
    def listdir(self) -> list[str]:
        """Names in the open directory, without ``.`` and ``..``."""

    @abc.abstractmethod
    def scandir(self) -> list[DirEntryInfo]:
        """Entries of the open directory with their types and inode numbers."""

    @abc.abstractmethod
    def statvfs(self) -> posix.statvfs_result:
        """Status of the file system holding the open file (fstatvfs)."""

    def allocate(self, offset: int, length: int) -> None:
        """posix_fallocate: allocate [offset, offset + length), growing the file to its end
        if it is shorter; ENOSPC, with nothing changed, when the space is not there.

        The default suits providers that do not track allocation: it only extends the file
        (through :meth:`truncate`, so a wrapper's rules on growth apply) and reserves nothing.
        """
        SPACE_NOT_RESERVED.hit()
        if self.size() < offset + length:
            self.truncate(offset + length)

    def seek_data(self, offset: int, whence: int) -> int:
        """lseek's SEEK_DATA/SEEK_HOLE: where the next data (or hole) starts from ``offset``.

        The default suits files without holes: data everywhere, one hole at the end of file,
        ENXIO at or past it (what Linux answers for file systems that do not track holes).
        """
        HOLES_NOT_TRACKED.hit()
        size = self.size()
        if offset < 0 or offset >= size:
            raise os_error(errno.ENXIO)
        return offset if whence == SEEK_DATA else size

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def write_all(handle: Handle, data: bytes, offset: int) -> None:
    """Write all of ``data`` at ``offset``, or raise: what a short write (a file system
    filling up) left out is written again, which then fails with ENOSPC if it still does not
    fit."""
    while data:
        written = handle.pwrite(data, offset)
        if not 0 < written <= len(data):
            raise os_error(errno.ENOSPC, handle.path)
        data, offset = data[written:], offset + written


class FileSystem(abc.ABC):
    """A file system provider: POSIX operations on absolute paths.

    Every method raises the OSError Linux raises for the same call, naming the path(s) as the
    caller gave them; a path that is not a str is a TypeError, one with a NUL a ValueError.
    """

    @abc.abstractmethod
    def stat(self, path: str, follow_symlinks: bool = True) -> posix.stat_result:
        """The status of ``path`` (of the link itself when ``follow_symlinks`` is false)."""

    @abc.abstractmethod
    def open(self, path: str, flags: int, mode: int = 0o666) -> Handle:
        """Open (and with O_CREAT perhaps create, with exactly ``mode``) a file or directory."""

    @abc.abstractmethod
    def listdir(self, path: str) -> list[str]:
        """Names in the directory ``path``, without ``.`` and ``..``, in no particular order."""

    @abc.abstractmethod
    def scandir(self, path: str) -> list[DirEntryInfo]:
        """Entries of the directory ``path`` with their types and inode numbers."""

    @abc.abstractmethod
    def mkdir(self, path: str, mode: int = 0o777) -> None:
        """Create a directory with permission bits ``mode``."""

    @abc.abstractmethod
    def rmdir(self, path: str) -> None:
        """Remove an empty directory."""

    @abc.abstractmethod
    def unlink(self, path: str) -> None:
        """Remove a name that is not a directory."""

    @abc.abstractmethod
    def rename(self, src: str, dst: str) -> None:
        """POSIX rename: atomically replaces a file or an empty directory at ``dst``."""

    @abc.abstractmethod
    def symlink(self, target: str, path: str) -> None:
        """Create a symbolic link at ``path`` whose content is ``target``."""

    @abc.abstractmethod
    def readlink(self, path: str) -> str:
        """The content of the symbolic link ``path``."""

    @abc.abstractmethod
    def link(self, src: str, dst: str, follow_symlinks: bool = True) -> None:
        """Create the hard link ``dst`` to ``src`` (to a link's target when following)."""

    @abc.abstractmethod
    def chmod(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        """Set permission bits; EOPNOTSUPP for a symbolic link itself, as Linux."""

    @abc.abstractmethod
    def chown(self, path: str, uid: int, gid: int, follow_symlinks: bool = True) -> None:
        """Set owner and group; -1 leaves one unchanged."""

    @abc.abstractmethod
    def utime(
        self, path: str, ns: tuple[int, int] | None = None, follow_symlinks: bool = True
    ) -> None:
        """Set (atime, mtime) in nanoseconds, or both to now when ``ns`` is None."""

    @abc.abstractmethod
    def truncate(self, path: str, length: int) -> None:
        """Cut or extend the regular file ``path`` to ``length`` bytes."""

    @abc.abstractmethod
    def access(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        """Check ``mode`` (``os.F_OK`` or a mix of R_OK/W_OK/X_OK); raise EACCES when denied."""

    @abc.abstractmethod
    def statvfs(self, path: str) -> posix.statvfs_result:
        """Status of the file system holding ``path``."""

    @property
    def uses_python_os(self) -> bool:
        """Whether this provider's code calls Python's ``os``, ``io`` or ``open`` (a foreign
        library does) rather than only the real ``posix`` module. A switch that serves ``os``
        from this very provider must then run its calls natively, or they would come back."""
        return False

    def close(self) -> None:  # noqa: B027 - a hook with nothing to do for most providers
        """Release what the provider holds (host directory handles...); the default holds none."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
