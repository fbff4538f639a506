"""An open file of the host file system: a real file descriptor."""

from __future__ import annotations

import errno
import posix
import stat

import compat
from vfs.errors import os_error
from vfs.host.nodes import HostNode, directory_node
from vfs.provider import DirEntryInfo, Handle

OPEN_INTERRUPTED = compat.declare(
    id="vfs.host.open_interrupted",
    function="os.open",
    aspect="an asynchronous exception inside the host provider's open",
    level=compat.Level.FINE,
    explanation="a KeyboardInterrupt or time limit delivered inside the host provider's open "
    "after the kernel opened the file, before a HostHandle holds the descriptor, leaves that "
    "real descriptor open until the process ends (no emulated descriptor, and the file "
    "itself is as open(2) left it); Linux returns the descriptor",
)


class HostHandle(Handle):
    """A real file descriptor used as a random-access channel (pread/pwrite, never its offset).

    Errors are the kernel's own. A handle opened with O_APPEND appends on every write, as
    pwrite(2) does on Linux.
    """

    __slots__ = ("_directory", "_fd", "_path", "flags")

    def __init__(self, fd: int, flags: int, path: str) -> None:
        self._fd = fd
        self.flags = flags
        self._path = path
        self._directory: HostNode | bool | None = None
        """The node of an open directory, False for anything else, None until asked."""

    @property
    def path(self) -> str:
        return self._path

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def directory(self) -> HostNode | None:
        found = self._directory
        if found is None:
            fd = self._live()
            found = self._directory = (
                directory_node(fd, False) if stat.S_ISDIR(posix.fstat(fd).st_mode) else False
            )
        return found if isinstance(found, HostNode) else None

    @property
    def fd(self) -> int:
        """The host file descriptor (-1 once closed)."""
        return self._fd

    def _live(self) -> int:
        fd = self._fd
        if fd < 0:
            raise os_error(errno.EBADF)
        return fd

    def pread(self, n: int, offset: int) -> bytes:
        return posix.pread(self._live(), n, offset)

    def pwrite(self, data: bytes, offset: int) -> int:
        return _write_all_at(self._live(), memoryview(data).cast("B"), offset)

    def append(self, data: bytes) -> int:
        fd = self._live()
        view = memoryview(data).cast("B")
        if not self.flags & posix.O_APPEND:
            end = posix.fstat(fd).st_size
            return end + _write_all_at(fd, view, end)
        done = posix.write(fd, view)  # at least one call, so that errors show even for b""
        while done < len(view):
            done += posix.write(fd, view[done:])
        return posix.lseek(fd, 0, 1)

    def size(self) -> int:
        return posix.fstat(self._live()).st_size

    def truncate(self, length: int) -> None:
        posix.ftruncate(self._live(), length)

    def sync(self) -> None:
        posix.fsync(self._live())

    def close(self) -> None:
        fd = self._fd
        if fd >= 0:
            self._fd = -1
            posix.close(fd)

    def stat(self) -> posix.stat_result:
        return posix.fstat(self._live())

    def chmod(self, mode: int) -> None:
        posix.fchmod(self._live(), mode)

    def chown(self, uid: int, gid: int) -> None:
        posix.fchown(self._live(), uid, gid)

    def utime(self, ns: tuple[int, int] | None = None) -> None:
        if ns is None:
            posix.utime(self._live())
        else:
            posix.utime(self._live(), ns=ns)

    def listdir(self) -> list[str]:
        return posix.listdir(self._live())

    def scandir(self) -> list[DirEntryInfo]:
        with posix.scandir(self._live()) as entries:
            return [entry_info(entry) for entry in entries]

    def statvfs(self) -> posix.statvfs_result:
        return posix.fstatvfs(self._live())

    def allocate(self, offset: int, length: int) -> None:
        """The kernel's own posix_fallocate."""
        posix.posix_fallocate(self._live(), offset, length)

    def seek_data(self, offset: int, whence: int) -> int:
        """The kernel's own SEEK_DATA/SEEK_HOLE (the fd's offset is not used for anything)."""
        return posix.lseek(self._live(), offset, whence)

    def mappable(self) -> int:
        """A duplicate of the handle's own descriptor: the same open file, so the same access
        (the kernel judges the mapping); its offset is not used for anything."""
        return posix.dup(self._live())

    def __del__(self) -> None:
        try:
            fd = self._fd
        except AttributeError:  # __init__ was interrupted before it stored the descriptor
            return
        if fd >= 0:
            self.close()

    def __repr__(self) -> str:
        return f"<HostHandle {self._path!r} fd={self._fd}>"


def _write_all_at(fd: int, view: memoryview, offset: int) -> int:
    """pwrite until all of ``view`` is written (a regular file takes it in one call, mostly)."""
    done = posix.pwrite(fd, view, offset)
    while done < len(view):
        done += posix.pwrite(fd, view[done:], offset + done)
    return len(view)


def entry_info(entry: posix.DirEntry[str]) -> DirEntryInfo:
    """A DirEntryInfo from an ``os.DirEntry``, using d_type and stat'ing only when it is unknown."""
    if entry.is_symlink():
        kind = stat.S_IFLNK
    elif entry.is_dir(follow_symlinks=False):
        kind = stat.S_IFDIR
    elif entry.is_file(follow_symlinks=False):
        kind = stat.S_IFREG
    else:
        kind = stat.S_IFMT(entry.stat(follow_symlinks=False).st_mode)
    return DirEntryInfo(entry.name, kind, entry.inode())
