"""Snapshots: any provider's tree saved to a tar archive, and an archive loaded into memory.

The archive is POSIX.1-2001 (PAX), so that what plain tar headers lose survives: times in
nanoseconds (``mtime``, ``atime`` and ``ctime`` records, written as decimal seconds with nine
places; ``ctime`` cannot be set back, as with any tar), long names and link targets, large ids.
Kept: directories, regular files, symbolic links, hard links (by ``st_ino`` within one device:
the first name carries the data, the others are link members), permission bits (set-id and
sticky included), uid/gid, and the host's user and group names for them where it knows them
(unless ``owner_names=False``).
A file with holes is saved sparse, in GNU tar's PAX sparse format 1.0 (``GNU.sparse.*``
records; the member's data starts with the map of its data regions and holds only those), as
``tar`` and Python's tarfile read it, unless ``sparse=False`` asks for every file whole.
Saving reads files and directories with O_NOATIME where allowed, so the source keeps its
atimes.
Loading restores owners by number, applies each directory's mode and times after its
contents, writes a sparse member's data regions only (its holes stay holes), and refuses
members that would leave the archive's root (``..``) or pass through a symbolic link, with a
clear :class:`SnapshotError`; absolute names count from the guest root.
"""

from __future__ import annotations

import errno
import grp
import posix
import pwd
import stat as _stat
import tarfile
from collections.abc import Callable
from typing import IO, Any, cast

from vfs.content import data_regions
from vfs.errors import os_error
from vfs.identity import Identity
from vfs.memory import MemoryFileSystem
from vfs.provider import FileSystem, Handle, write_all

CHUNK = 1 << 20
_NS = 1_000_000_000
SPARSE_MEMBER_LIMIT = 8**11
"""A sparse member this large is saved whole instead: its size would need a PAX ``size``
record beside ``GNU.sparse.realsize``, which Python's tarfile then misreads."""


class SnapshotError(ValueError):
    """An archive member that cannot be loaded safely or faithfully."""


def _ns_text(ns: int) -> str:
    """A PAX time record: decimal seconds with nine places (negative times too)."""
    sign = "-" if ns < 0 else ""
    seconds, rest = divmod(abs(ns), _NS)
    return f"{sign}{seconds}.{rest:09d}"


def _ns_value(text: str) -> int:
    """Nanoseconds from a PAX time record (any number of decimal places)."""
    from decimal import Decimal  # only loading an archive reads times: saving never needs it

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


def _cached(names: dict[int, str], number: int, look_up: Callable[[int], str]) -> str:
    """``look_up(number)``, remembered in ``names``."""
    name = names.get(number)
    if name is None:
        name = names[number] = look_up(number)
    return name


# -- saving -------------------------------------------------------------------------------------


def save_snapshot(
    fs: FileSystem,
    archive: str | IO[bytes],
    root: str = "/",
    *,
    sparse: bool = True,
    empty_directories: bool = True,
    owner_names: bool = True,
) -> None:
    """Write the tree of ``fs`` below ``root`` to ``archive`` (a path or a binary file object).

    Files with holes are sparse members unless ``sparse`` is false; then every file is
    written whole, its holes as zeros (for a reader that takes no sparse member, such as the
    isolated mode's parent). Without ``empty_directories``, a directory with nothing but
    directories below it is left out (the root stays), as by a reader that keeps only files
    and links, such as the isolated mode's parent. Without ``owner_names``, members carry
    their owners by number only (empty user and group names, as tar writes ids it has no
    name for), for a reader that ignores names: no user database is read (in a root without
    one, each lookup has the C library search for its configuration and modules).
    """
    target: dict[str, Any] = (
        {"name": archive} if isinstance(archive, str) else {"fileobj": archive}
    )
    with tarfile.open(mode="w", format=tarfile.PAX_FORMAT, **target) as tar:
        _Saver(
            fs, tar, root,
            sparse=sparse, empty_directories=empty_directories, owner_names=owner_names,
        ).run()  # fmt: skip


class _Saver:
    """Walks a provider and adds one member per entry, directories before their contents."""

    def __init__(
        self,
        fs: FileSystem,
        tar: tarfile.TarFile,
        root: str,
        *,
        sparse: bool,
        empty_directories: bool = True,
        owner_names: bool = True,
    ) -> None:
        self.fs = fs
        self.tar = tar
        self.root = root.rstrip("/") or "/"
        self.sparse = sparse
        self.empty_directories = empty_directories
        self.owner_names = owner_names
        self.pending: list[tuple[str, str, posix.stat_result]] = []
        """Without empty directories: the directories being walked not added yet (each is
        added, after its parents, when something not a directory is found below it)."""
        self.first_names: dict[tuple[int, int], str] = {}
        self.user_names: dict[int, str] = {}
        self.group_names: dict[int, str] = {}
        """The host's names of the ids met so far: one user database lookup per id, not
        per member (a lookup that finds nothing reads every source the C library has)."""

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
            if not _stat.S_ISDIR(st.st_mode):
                for pending in self.pending:
                    self._add(*pending)
                self.pending.clear()
                self._add(member, child_path, st)
            elif self.empty_directories:
                self._add(member, child_path, st)
                self._directory(child_path, member)
            else:
                self.pending.append((member, child_path, st))
                self._directory(child_path, member)
                if self.pending:  # nothing but directories below it
                    self.pending.pop()

    def _add(self, member: str, path: str, st: posix.stat_result) -> None:
        info = tarfile.TarInfo(member)
        info.mode = _stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        if self.owner_names:  # (else TarInfo's empty names: the ids alone)
            info.uname = _cached(self.user_names, st.st_uid, _user_name)
            info.gname = _cached(self.group_names, st.st_gid, _group_name)
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
                with self._open_quietly(path) as handle:
                    self._add_file(info, handle, st)
                return
        else:
            info.type = _SPECIAL_TYPES[kind]
            info.devmajor, info.devminor = posix.major(st.st_rdev), posix.minor(st.st_rdev)
        self.tar.addfile(info)

    def _add_file(self, info: tarfile.TarInfo, handle: Handle, st: posix.stat_result) -> None:
        """A regular file's member: whole, or sparse when it has holes (and may be)."""
        size = st.st_size
        regions = data_regions(handle, size, st.st_blocks) if self.sparse else [(0, size)]
        stored = sum(length for _, length in regions)
        header = b""
        if stored < size:
            if not regions or regions[-1][0] + regions[-1][1] < size:
                regions.append((size, 0))  # GNU tar marks a trailing hole so
            sparse_map = f"{len(regions)}\n" + "".join(f"{at}\n{n}\n" for at, n in regions)
            header = sparse_map.encode("ascii")
            header += bytes(-len(header) % tarfile.BLOCKSIZE)
        if not header or len(header) + stored >= SPARSE_MEMBER_LIMIT:
            info.size = size
            self.tar.addfile(info, _HandleReader(handle))
            return
        directory, _, name = info.name.rpartition("/")
        stand_in = f"{directory}/GNUSparseFile.0/{name}".lstrip("/")  # tar's name for it
        # ``path`` first: readers apply records in order, so GNU.sparse.name, after it, wins
        info.pax_headers = {
            "path": stand_in,
            **info.pax_headers,
            "GNU.sparse.major": "1",
            "GNU.sparse.minor": "0",
            "GNU.sparse.name": info.name,
            "GNU.sparse.realsize": str(size),
        }
        info.name = stand_in
        info.size = len(header) + stored
        self.tar.addfile(info, _SparseReader(handle, header, regions))

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


class _SparseReader:
    """A sparse member's data as ``tarfile.addfile`` reads it: the map, then each region."""

    def __init__(self, handle: Handle, header: bytes, regions: list[tuple[int, int]]) -> None:
        self._handle = handle
        self._pending = header
        self._regions = iter(regions)
        self._at = self._end = 0

    def read(self, n: int = -1) -> bytes:
        """``n`` bytes (fewer only at the end: tarfile takes a short read for a cut file)."""
        size = CHUNK if n < 0 else n
        parts: list[bytes] = []
        while size:
            if self._pending:
                part, self._pending = self._pending[:size], self._pending[size:]
            else:
                while self._at >= self._end:
                    region = next(self._regions, None)
                    if region is None:
                        return b"".join(parts)
                    self._at, self._end = region[0], region[0] + region[1]
                count = min(size, self._end - self._at)
                part = self._handle.pread(count, self._at)
                if len(part) < count:  # the file shrank meanwhile: the rest reads as zeros
                    part += bytes(count - len(part))
                self._at += count
            parts.append(part)
            size -= len(part)
        return b"".join(parts)


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
        sparse = cast("list[tuple[int, int]] | None", info.sparse)  # typeshed says bytes
        regions = sparse if sparse is not None else [(0, info.size)]
        with source, self.fs.open(path, flags, 0o600) as handle:
            for start, length in regions:  # a sparse member's holes are never written
                source.seek(start)
                offset, end = start, start + length
                while offset < end and (chunk := source.read(min(CHUNK, end - offset))):
                    write_all(handle, chunk, offset)
                    offset += len(chunk)
            if handle.size() != info.size:
                handle.truncate(info.size)

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
