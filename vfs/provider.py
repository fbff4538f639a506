"""The provider interface: what every file system behind the emulated backend implements.

Modelled on GraalVM's polyglot ``FileSystem`` but in POSIX words. A provider resolves paths
with POSIX semantics (``..`` after a symbolic link, trailing slashes, ELOOP after 40 links),
applies no umask (``mode`` arrives final), and fails with the OSError subclass, errno and file
names that Linux gives for the same call. It never sees a file descriptor number.

Every call exists in two forms, as Linux's system calls do: the path form (``stat(path)``)
takes an absolute path, and the at-form (``stat_at(at, path)``) a path relative to a
*directory reference* ``at`` (None: the root; an empty path: ``at`` itself, like
AT_EMPTY_PATH). A reference is the directory itself, never the path it was reached by: the
open directory of a :class:`Handle` (:meth:`Handle.directory`), or one the caller holds from
:meth:`FileSystem.directory` or :meth:`FileSystem.hold` until :meth:`FileSystem.release`.
Renaming it, or swapping a link into its old path, changes nothing for calls through it;
:meth:`FileSystem.where` says where it is now.

A provider that implements only the abstract path methods gets the at-forms done for it: its
references are canonical paths moved along by the renames made through it
(:mod:`vfs.walk.held`), a relative path's components up to its last ``..`` are walked for it
(so it is given a canonical directory), and a Mount walks it one component at a time
(:class:`vfs.walk.PathNodes`). A handle such a provider returns from another provider it
wraps is held by path too: only references it made itself reach its at-forms.
"""

from __future__ import annotations

import abc
import errno
import posix
import stat as _stat
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

import attrs

import compat
from vfs.errors import os_error
from vfs.walk.held import HeldPath, HeldPaths
from vfs.walk.namei import Walk
from vfs.walk.paths import PathNode, PathNodes, join

if TYPE_CHECKING:
    from vfs.walk.nodes import Nodes

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

NOT_MAPPABLE = compat.declare(
    id="vfs.not_mappable",
    function="mmap.mmap",
    aspect="mapping a file of a provider without real descriptors",
    level=compat.Level.WARNING,
    explanation="the files of a provider that has no real descriptor to give (the "
    "PyFilesystem2, fsspec and pyfakefs adapters) cannot be mapped: mmap fails with ENODEV, "
    "as Linux answers for a file system without mmap",
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

    def directory(self) -> object | None:
        """The open directory as a reference for the provider's at-calls (valid while this
        handle is open), or None for anything else."""
        return None

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

    def mappable(self) -> int:
        """A new real descriptor of this open file's content that ``mmap`` may map, owned by
        the caller (who closes it once mapped), sharing the file's pages both ways: what is
        written through a mapping is what :meth:`pread` reads, and the other way round. Its
        access mode is this handle's, or wider when the provider cannot narrow it (the caller
        then judges access itself, as the kernel would).

        The default suits providers with no real descriptor for their files: ENODEV, what
        Linux answers for a file system that cannot be mapped.
        """
        NOT_MAPPABLE.hit()
        raise os_error(errno.ENODEV)

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

    def restat(self, path: str) -> posix.stat_result:
        """The status of the link itself at ``path``, a path this provider served before.

        A cache above the provider re-validating what it holds calls this on every hit; the
        path passed the argument checks when it was first served, so a provider may skip
        them here (the default does them again).
        """
        return self.stat(path, False)

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

    def probe(self, path: str, follow_symlinks: bool = True) -> posix.stat_result | None:
        """:meth:`stat`'s answer, or None wherever it would raise OSError (whatever the
        errno): an existence check, ``os.path.exists`` (``lexists`` when not following), for
        callers that ask often about names that are not there (SQLite looks for a hot
        journal before every statement). Arguments :meth:`stat` refuses (not a str: a
        TypeError, a NUL: a ValueError) are refused the same way.

        The default calls :meth:`stat`; a provider that can tell a name is missing without
        building the error overrides it (and :meth:`probe_at`)."""
        try:
            return self.stat(path, follow_symlinks)
        except OSError:
            return None

    def plain_directory(self, path: str) -> bool:
        """Whether the absolute ``path`` names a directory reached through directories alone
        (no component a symbolic link), as a mount point must be: False when it cannot tell
        or anything is otherwise (the caller then looks component by component)."""
        return False

    def watch(self, path: str) -> Callable[[], object] | None:
        """A cheap way to tell that nothing changed at ``path``, for callers that look at one
        path over and over (the import finder, at every import): a callable whose answer stays
        the same only while the absolute ``path``, its last component named directly (no link
        followed there), leads to the same entry, with the same times, mode and links, in a
        directory whose names and times are the same. Ask it before :meth:`stat`: a change
        between the two shows in its next answer.

        None when ``path`` names no entry directly, or when the provider cannot tell more
        cheaply than by :meth:`stat` (the default: the host's files change behind its back)."""
        return None

    # -- directory references ------------------------------------------------------------------

    def nodes(self) -> Nodes[Any, Any]:
        """This provider's tree as the walk sees it (a Mount walks across it with these)."""
        nodes = self.__dict__.get("_vfs_path_nodes")
        if nodes is None:
            nodes = self.__dict__.setdefault("_vfs_path_nodes", PathNodes(self))
        return nodes  # type: ignore[no-any-return]

    def directory(self, at: object | None, path: str) -> object:
        """A reference to the directory ``path`` leads to (relative to ``at``), with chdir's
        checks: it exists, is a directory and may be searched. Release it when done."""
        if not path and not _live(at):
            return _removed()  # fchdir into a removed directory succeeds (getcwd: ENOENT)
        with Walk(self.nodes()) as walk:
            canonical = walk.directory(self._path_at(at, path)).path
        self.access(canonical, posix.X_OK)
        return self._held_paths().hold(canonical)

    def hold(self, directory: object) -> object:
        """Another reference to ``directory`` (one that outlives the handle it came from)."""
        path = self._base_path(directory) if _live(directory) else None
        if path is None:
            return _removed()
        return self._held_paths().hold(path)

    def where(self, directory: object) -> str:
        """The absolute path of ``directory`` now; ENOENT once it was removed."""
        return self._base_path(directory)

    def release(self, directory: object) -> None:
        """Give back a reference from :meth:`directory` or :meth:`hold`."""
        if isinstance(directory, HeldPath):
            self._held_paths().release(directory)

    # -- the at-forms (relative to a directory reference) ---------------------------------------

    def stat_at(
        self, at: object | None, path: str, follow_symlinks: bool = True
    ) -> posix.stat_result:
        """:meth:`stat` of ``path`` relative to ``at``."""
        return self.stat(self._path_at(at, path), follow_symlinks)

    def probe_at(
        self, at: object | None, path: str, follow_symlinks: bool = True
    ) -> posix.stat_result | None:
        """:meth:`probe` of ``path`` relative to ``at``: :meth:`stat_at`'s answer, or None
        where it would raise OSError."""
        try:
            return self.stat_at(at, path, follow_symlinks)
        except OSError:
            return None

    def _probe_by_path(
        self, at: object | None, path: str, follow_symlinks: bool
    ) -> posix.stat_result | None:
        """:meth:`probe_at` of a provider whose at-forms are this class's (by path): its own
        :meth:`probe` of the absolute path."""
        try:
            absolute = self._path_at(at, path)
        except OSError:
            return None
        return self.probe(absolute, follow_symlinks)

    def open_at(self, at: object | None, path: str, flags: int, mode: int = 0o666) -> Handle:
        """:meth:`open` of ``path`` relative to ``at``; an opened directory holds itself."""
        absolute = self._path_at(at, path)
        handle = self.open(absolute, flags, mode)
        if flags & 3 or self._held_paths().holds(handle.directory()):
            return handle  # a handle whose directory() is some provider's below is not ours
        try:
            if not _stat.S_ISDIR(handle.stat().st_mode):
                return handle
            with Walk(self.nodes()) as walk:
                canonical = self._canonical(walk, absolute, not flags & posix.O_NOFOLLOW)
        except BaseException:
            handle.close()
            raise
        from vfs.delegate import HeldDirectoryHandle

        return HeldDirectoryHandle(handle, self, self._held_paths().hold(canonical))

    def listdir_at(self, at: object | None, path: str) -> list[str]:
        """:meth:`listdir` of ``path`` relative to ``at``."""
        return self.listdir(self._path_at(at, path))

    def scandir_at(self, at: object | None, path: str) -> list[DirEntryInfo]:
        """:meth:`scandir` of ``path`` relative to ``at``."""
        return self.scandir(self._path_at(at, path))

    def mkdir_at(self, at: object | None, path: str, mode: int = 0o777) -> None:
        """:meth:`mkdir` of ``path`` relative to ``at``."""
        self.mkdir(self._path_at(at, path), mode)

    def rmdir_at(self, at: object | None, path: str) -> None:
        """:meth:`rmdir` of ``path`` relative to ``at``."""
        absolute = self._path_at(at, path)
        canonical = self._entry_path(absolute)
        self.rmdir(absolute)
        if canonical is not None:
            self._held_paths().removed(canonical)

    def unlink_at(self, at: object | None, path: str) -> None:
        """:meth:`unlink` of ``path`` relative to ``at``."""
        self.unlink(self._path_at(at, path))

    def rename_at(self, src_at: object | None, src: str, dst_at: object | None, dst: str) -> None:
        """:meth:`rename` of ``src`` (relative to ``src_at``) to ``dst`` (to ``dst_at``)."""
        old, new = self._path_at(src_at, src), self._path_at(dst_at, dst)
        canonical_old = self._entry_path(old)
        canonical_new = self._entry_path(new) if canonical_old is not None else None
        self.rename(old, new)
        if canonical_old is not None and canonical_new is not None:
            self._held_paths().renamed(canonical_old, canonical_new)

    def symlink_at(self, target: str, at: object | None, path: str) -> None:
        """:meth:`symlink` at ``path`` relative to ``at``."""
        self.symlink(target, self._path_at(at, path))

    def readlink_at(self, at: object | None, path: str) -> str:
        """:meth:`readlink` of ``path`` relative to ``at``."""
        return self.readlink(self._path_at(at, path))

    def link_at(
        self,
        src_at: object | None,
        src: str,
        dst_at: object | None,
        dst: str,
        follow_symlinks: bool = True,
    ) -> None:
        """:meth:`link` of ``src`` (relative to ``src_at``) as ``dst`` (to ``dst_at``)."""
        self.link(self._path_at(src_at, src), self._path_at(dst_at, dst), follow_symlinks)

    def chmod_at(
        self, at: object | None, path: str, mode: int, follow_symlinks: bool = True
    ) -> None:
        """:meth:`chmod` of ``path`` relative to ``at``."""
        self.chmod(self._path_at(at, path), mode, follow_symlinks)

    def chown_at(
        self, at: object | None, path: str, uid: int, gid: int, follow_symlinks: bool = True
    ) -> None:
        """:meth:`chown` of ``path`` relative to ``at``."""
        self.chown(self._path_at(at, path), uid, gid, follow_symlinks)

    def utime_at(
        self,
        at: object | None,
        path: str,
        ns: tuple[int, int] | None = None,
        follow_symlinks: bool = True,
    ) -> None:
        """:meth:`utime` of ``path`` relative to ``at``."""
        self.utime(self._path_at(at, path), ns, follow_symlinks)

    def truncate_at(self, at: object | None, path: str, length: int) -> None:
        """:meth:`truncate` of ``path`` relative to ``at``."""
        self.truncate(self._path_at(at, path), length)

    def access_at(
        self, at: object | None, path: str, mode: int, follow_symlinks: bool = True
    ) -> None:
        """:meth:`access` of ``path`` relative to ``at``."""
        self.access(self._path_at(at, path), mode, follow_symlinks)

    def statvfs_at(self, at: object | None, path: str) -> posix.statvfs_result:
        """:meth:`statvfs` of ``path`` relative to ``at``."""
        return self.statvfs(self._path_at(at, path))

    # -- the at-forms of a provider that only takes paths ---------------------------------------

    def _held_paths(self) -> HeldPaths:
        """The directories this provider holds by path (created on first use)."""
        held = self.__dict__.get("_vfs_held_paths")
        if held is None:
            held = self.__dict__.setdefault("_vfs_held_paths", HeldPaths())
        return held  # type: ignore[no-any-return]

    def _base_path(self, at: object) -> str:
        """The canonical path of a path-only provider's directory reference."""
        if isinstance(at, HeldPath):
            return HeldPaths.where(at)
        if isinstance(at, PathNode):
            return at.path
        raise TypeError(
            f"{type(self).__name__} got a directory reference of another provider: {at!r}"
        )

    def _path_at(self, at: object | None, path: str) -> str:
        """The absolute path of ``path`` relative to ``at`` (``at`` itself when empty)."""
        if path[:1] == "/":
            return path
        if ".." in path and ".." in path.split("/"):
            return self._walked_to_last_dotdot(at, path)
        base = "/" if at is None else self._base_path(at)
        return join(base, path) if path else base

    def _walked_to_last_dotdot(self, at: object | None, path: str) -> str:
        """The absolute path of ``path`` relative to ``at``, every component up to its last
        ``..`` walked here (links followed): the provider gets a canonical directory, so '..'
        after a link is the link target's parent, as on Linux, whatever its own resolver
        makes of ``link/..``."""
        parts = path.split("/")
        last = len(parts) - 1 - parts[::-1].index("..")
        head, tail = "/".join(parts[: last + 1]), "/".join(parts[last + 1 :])
        nodes = self.nodes()
        with Walk(nodes) as walk:
            start = nodes.root() if at is None else nodes.start(at)
            directory, _ = walk.walk(start, head, path, 0)
            canonical: str = directory.path
        return join(canonical, tail) if tail else canonical

    @staticmethod
    def _canonical(walk: Walk[PathNode, PathNode], absolute: str, follow: bool) -> str:
        """The canonical path of the existing entry ``absolute`` names."""
        _, _, node, trailing = walk.locate(absolute, follow)
        if node is None:
            raise os_error(errno.ENOENT, absolute)
        if trailing and node.mode & 0o170000 != _stat.S_IFDIR:
            raise os_error(errno.ENOTDIR, absolute)
        return node.path

    def _entry_path(self, absolute: str) -> str | None:
        """Where the last component of ``absolute`` is, canonically, if a directory is held
        at all (a rename or rmdir then moves it along); None otherwise or if unresolvable."""
        if not self._held_paths():
            return None
        try:
            with Walk(self.nodes()) as walk:
                directory, name, _, _ = walk.parent(absolute)
        except OSError:
            return None
        if name in (".", "..", "/"):
            return None
        return join(directory.path, name)

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


def _live(directory: object) -> bool:
    """Whether a path-only reference still names a directory (not one removed)."""
    return not isinstance(directory, HeldPath) or directory.path is not None


def _removed() -> HeldPath:
    """A reference to a directory that was removed (it follows nothing)."""
    held = HeldPath("/")
    held.path = None
    return held
