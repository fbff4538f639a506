"""Snapshots: any provider's tree saved to a tar archive, and an archive loaded into memory.

The archive is POSIX.1-2001 (PAX), so that what plain tar headers lose survives: times in
nanoseconds (``mtime``, ``atime`` and ``ctime`` records, written as decimal seconds with nine
places; ``ctime`` cannot be set back, as with any tar), long names and link targets, large ids.
Kept: directories, regular files, symbolic links, hard links (by ``st_ino`` within one device:
the first name carries the data, the others are link members), permission bits (set-id and
sticky included), uid/gid, and the host's user and group names for them where it knows them.
Saving reads files and directories with O_NOATIME where allowed, so the source keeps its
atimes.
Loading restores owners by number, applies each directory's mode and times after its
contents, and refuses members that would leave the archive's root (``..``) or pass through a
symbolic link, with a clear :class:`SnapshotError`; absolute names count from the guest root.
"""

from __future__ import annotations

import errno
import grp
import posix
import pwd
import stat as _stat
import tarfile
from decimal import Decimal
from typing import IO

from vfs.errors import os_error
from vfs.identity import Identity
from vfs.memory import MemoryFileSystem
from vfs.provider import FileSystem, Handle

CHUNK = 1 << 20
_NS = 1_000_000_000


class SnapshotError(ValueError):
    """An archive member that cannot be loaded safely or faithfully."""


def _ns_text(ns: int) -> str:
    """A PAX time record: decimal seconds with nine places (negative times too)."""
    sign = "-" if ns < 0 else ""
    seconds, rest = divmod(abs(ns), _NS)
    return f"{sign}{seconds}.{rest:09d}"


def _ns_value(text: str) -> int:
    """Nanoseconds from a PAX time record (any number of decimal places)."""
    return int(Decimal(text).scaleb(9).to_integral_value())


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return ""


# -- saving -------------------------------------------------------------------------------------


def save_snapshot(fs: FileSystem, archive: str | IO[bytes], root: str = "/") -> None:
    """Write the tree of ``fs`` below ``root`` to ``archive`` (a path or a binary file object)."""
    if isinstance(archive, str):
        with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
            _Saver(fs, tar, root).run()
    else:
        with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
            _Saver(fs, tar, root).run()


class _Saver:
    """Walks a provider and adds one member per entry, directories before their contents."""

    def __init__(self, fs: FileSystem, tar: tarfile.TarFile, root: str) -> None:
        self.fs = fs
        self.tar = tar
        self.root = root.rstrip("/") or "/"
        self.first_names: dict[tuple[int, int], str] = {}

    def run(self) -> None:
        st = self.fs.stat(self.root, False)
        if not _stat.S_ISDIR(st.st_mode):
            raise os_error(errno.ENOTDIR, self.root)
        self._add(".", self.root, st)
        self._directory(self.root, "")

    def _directory(self, path: str, name: str) -> None:
        with self._open_quietly(path, posix.O_DIRECTORY) as directory:
            names = sorted(directory.listdir())
        for child in names:
            child_path = path.rstrip("/") + "/" + child
            member = f"{name}/{child}" if name else child
            st = self.fs.stat(child_path, False)
            self._add(member, child_path, st)
            if _stat.S_ISDIR(st.st_mode):
                self._directory(child_path, member)

    def _add(self, member: str, path: str, st: posix.stat_result) -> None:
        info = tarfile.TarInfo(member)
        info.mode = _stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname, info.gname = _user_name(st.st_uid), _group_name(st.st_gid)
        info.mtime = st.st_mtime_ns // _NS
        info.pax_headers = {
            "mtime": _ns_text(st.st_mtime_ns),
            "atime": _ns_text(st.st_atime_ns),
            "ctime": _ns_text(st.st_ctime_ns),
        }
        kind = _stat.S_IFMT(st.st_mode)
        if kind == _stat.S_IFDIR:
            info.type = tarfile.DIRTYPE
        elif kind == _stat.S_IFLNK:
            info.type = tarfile.SYMTYPE
            info.linkname = self.fs.readlink(path)
        elif kind == _stat.S_IFREG:
            key = (st.st_dev, st.st_ino)
            first = self.first_names.get(key) if st.st_nlink > 1 else None
            if first is not None:
                info.type = tarfile.LNKTYPE
                info.linkname = first
            else:
                self.first_names[key] = member
                info.size = st.st_size
                with self._open_quietly(path) as handle:
                    self.tar.addfile(info, _HandleReader(handle))
                return
        else:
            info.type = _SPECIAL_TYPES[kind]
            info.devmajor, info.devminor = posix.major(st.st_rdev), posix.minor(st.st_rdev)
        self.tar.addfile(info)

    def _open_quietly(self, path: str, flags: int = 0) -> Handle:
        """Open for reading without moving atime (O_NOATIME), where the provider allows it."""
        try:
            return self.fs.open(path, posix.O_RDONLY | posix.O_NOATIME | flags)
        except PermissionError:  # O_NOATIME needs ownership; reading anyway moves atime
            return self.fs.open(path, posix.O_RDONLY | flags)


_SPECIAL_TYPES = {
    _stat.S_IFIFO: tarfile.FIFOTYPE,
    _stat.S_IFCHR: tarfile.CHRTYPE,
    _stat.S_IFBLK: tarfile.BLKTYPE,
    _stat.S_IFSOCK: tarfile.FIFOTYPE,
}
"""Tar has no socket type; GNU tar skips sockets, here they would come back as FIFOs."""


class _HandleReader:
    """A provider handle read sequentially, as ``tarfile.addfile`` wants a file object."""

    def __init__(self, handle: Handle) -> None:
        self._handle = handle
        self._offset = 0

    def read(self, n: int = -1) -> bytes:
        size = CHUNK if n < 0 else n
        data = self._handle.pread(size, self._offset)
        self._offset += len(data)
        return data


# -- loading ------------------------------------------------------------------------------------


def load_snapshot(archive: str | IO[bytes], fs: FileSystem | None = None) -> FileSystem:
    """Load ``archive`` into ``fs`` (default: a new MemoryFileSystem as root) and return it.

    ``fs`` must be able to give files away (a MemoryFileSystem with ``Identity.root()``) for
    owners to be restored.
    """
    target = MemoryFileSystem(identity=Identity.root()) if fs is None else fs
    if isinstance(archive, str):
        with tarfile.open(archive, "r") as tar:
            _Loader(target, tar).run()
    else:
        with tarfile.open(fileobj=archive, mode="r") as tar:
            _Loader(target, tar).run()
    return target


def guest_path(name: str) -> str:
    """The absolute guest path of a member name; SnapshotError if it climbs out of the root."""
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise SnapshotError(f"archive member {name!r} would leave the snapshot's root")
            parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


class _Loader:
    """Creates one entry per member; directories' metadata is applied last, deepest first."""

    def __init__(self, fs: FileSystem, tar: tarfile.TarFile) -> None:
        self.fs = fs
        self.tar = tar
        self.directories: dict[str, tarfile.TarInfo] = {}
        self.made_directories = {"/"}

    def run(self) -> None:
        for info in self.tar:
            self._member(info)
        for path in sorted(self.directories, key=lambda p: p.count("/"), reverse=True):
            self._metadata(path, self.directories[path])

    def _member(self, info: tarfile.TarInfo) -> None:
        path = guest_path(info.name)
        if path != "/":
            self._parents(path, info.name)
        fs = self.fs
        if info.isdir():
            if path not in self.made_directories:
                self._clear(path, info.name, keep_directory=True)
                if path not in self.made_directories:
                    fs.mkdir(path, 0o700)
                    self.made_directories.add(path)
            self.directories[path] = info
            return
        self._clear(path, info.name, keep_directory=False)
        if info.issym():
            fs.symlink(info.linkname, path)
        elif info.islnk():
            source = guest_path(info.linkname)
            self._parents(source, info.linkname)
            fs.link(source, path, False)
            return
        elif info.isreg():
            self._write(path, info)
        else:
            raise SnapshotError(
                f"archive member {info.name!r} is a device or FIFO, which the target provider "
                "cannot create (providers have no mknod)"
            )
        self._metadata(path, info)

    def _parents(self, path: str, name: str) -> None:
        """Make missing parent directories; refuse a parent that is not a real directory."""
        parts = path.split("/")[1:-1]
        current = ""
        for part in parts:
            current += "/" + part
            if current in self.made_directories:
                continue
            try:
                st = self.fs.stat(current, False)
            except FileNotFoundError:
                self.fs.mkdir(current, 0o755)
                self.made_directories.add(current)
                continue
            if _stat.S_ISLNK(st.st_mode):
                raise SnapshotError(
                    f"archive member {name!r} passes through the symbolic link {current!r}"
                )
            if not _stat.S_ISDIR(st.st_mode):
                raise SnapshotError(f"archive member {name!r} lies below the file {current!r}")
            self.made_directories.add(current)

    def _clear(self, path: str, name: str, keep_directory: bool) -> None:
        """A later member replaces an earlier non-directory of the same name (as tar does)."""
        try:
            st = self.fs.stat(path, False)
        except FileNotFoundError:
            return
        if _stat.S_ISDIR(st.st_mode):
            if keep_directory:
                self.made_directories.add(path)
                return
            raise SnapshotError(f"archive member {name!r} would replace a directory")
        self.fs.unlink(path)

    def _write(self, path: str, info: tarfile.TarInfo) -> None:
        source = self.tar.extractfile(info)
        assert source is not None, "a regular member has data"
        flags = posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL
        with source, self.fs.open(path, flags, 0o600) as handle:
            offset = 0
            while chunk := source.read(CHUNK):
                handle.pwrite(chunk, offset)
                offset += len(chunk)

    def _metadata(self, path: str, info: tarfile.TarInfo) -> None:
        fs = self.fs
        fs.chown(path, info.uid, info.gid, False)
        if not info.issym():
            fs.chmod(path, info.mode & 0o7777, False)
        headers = info.pax_headers
        mtime = _ns_value(headers["mtime"]) if "mtime" in headers else int(info.mtime) * _NS
        atime = _ns_value(headers["atime"]) if "atime" in headers else mtime
        fs.utime(path, (atime, mtime), False)


__all__ = ["SnapshotError", "guest_path", "load_snapshot", "save_snapshot"]
