"""FsspecProvider: any fsspec file system (memory, local, archives, object stores) as a provider.

fsspec knows files, directories (sometimes only implied by keys), sizes and, depending on the
implementation, a modification time, a mode and owners. The adapter maps what exists and
synthesises the rest consistently: one ``st_dev`` per adapter, inode numbers stable per path
for the adapter's lifetime, modes, owners and times set through the adapter kept by it (see
:mod:`vfs.adapters.fsspec.attributes`), random-access writes over a whole-file buffer (see
:mod:`vfs.adapters.fsspec.handle`). What the store cannot do at all (symbolic and hard links,
O_TMPFILE, atomic rename and O_EXCL against other users of the store) is a declared gap.

Paths below the adapter's ``/`` map to store keys below ``root``. One lock serialises every
call, so threads may share an adapter (the store is called with the lock held).
"""

from __future__ import annotations

import errno
import itertools
import posix
import stat as _stat
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from time import time_ns
from typing import Any

import attrs
import fsspec
from fsspec.archive import AbstractArchiveFileSystem
from fsspec.implementations.local import LocalFileSystem

import compat
from vfs.adapters.fsspec.attributes import Attributes, AttributeTable
from vfs.adapters.fsspec.errors import FOREIGN_ERRORS, foreign_error
from vfs.adapters.fsspec.handle import FsspecHandle, OpenFile
from vfs.adapters.fsspec.paths import Location, locate
from vfs.arguments import check_target
from vfs.errors import errors_name, os_error
from vfs.limits import NAME_MAX, check_path, name_too_long
from vfs.memory.permissions import privileges_dropped
from vfs.openflags import O_ACCMODE, O_TMPFILE_BIT, check_open_flags
from vfs.pathnames import ROOT, SPECIAL_NAMES, special_errno, split
from vfs.provider import DirEntryInfo, FileSystem
from vfs.renamed import renamed_names

NO_SYMLINKS = compat.declare(
    id="vfs.fsspec.symlinks",
    function="os.symlink",
    aspect="symbolic links",
    level=compat.Level.FINE,
    explanation="fsspec stores have no symbolic links: symlink fails with EPERM (as on vfat) "
    "and links already in a local store are seen as their targets",
)
NO_HARD_LINKS = compat.declare(
    id="vfs.fsspec.hard_links",
    function="os.link",
    aspect="hard links",
    level=compat.Level.FINE,
    explanation="fsspec stores have no hard links: link fails with EPERM (as on vfat)",
)
ADAPTER_METADATA = compat.declare(
    id="vfs.fsspec.metadata",
    function="os.chmod",
    aspect="modes, owners and times",
    level=compat.Level.FINE,
    explanation="modes, owners and times set on an fsspec store are kept by the adapter for "
    "its lifetime (not written to the store) and modes are not enforced on open",
)
NOT_ATOMIC = compat.declare(
    id="vfs.fsspec.atomicity",
    function="os.rename",
    aspect="atomic rename and O_EXCL",
    level=compat.Level.FINE,
    explanation="rename (copy then delete on most stores) and O_EXCL are atomic only among "
    "users of the same adapter, not for other users of the store",
)
NO_TMPFILE = compat.declare(
    id="vfs.fsspec.tmpfile",
    function="os.open",
    aspect="O_TMPFILE",
    level=compat.Level.FINE,
    explanation="fsspec stores cannot hold unnamed files: O_TMPFILE fails with EOPNOTSUPP",
)

DIRECTORY_SIZE = 4096
BLOCK_SIZE = 4096
ST_RDONLY = 1
_devices = itertools.count(1)
_TIME_FIELDS = ("mtime", "LastModified", "last_modified", "modified", "updated", "created")


def _ns(value: object) -> int | None:
    """A store's timestamp (seconds, datetime, ISO string, zip date tuple) in nanoseconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value * 1_000_000_000)
    if isinstance(value, datetime):
        return int(value.timestamp() * 1_000_000) * 1000
    if isinstance(value, str):
        try:
            return _ns(datetime.fromisoformat(value))
        except ValueError:
            return None
    if isinstance(value, tuple) and len(value) == 6:
        try:
            return _ns(datetime(*value))
        except (TypeError, ValueError):
            return None
    return None


def _store_time(info: dict[str, Any]) -> int | None:
    """The modification time a store reports, if any."""
    for field in (*_TIME_FIELDS, "date_time"):
        found = _ns(info.get(field))
        if found is not None:
            return found
    return None


def _is_dir(info: dict[str, Any]) -> bool:
    return info.get("type") == "directory"


def _read_only_store(fs: Any) -> bool:
    """Archives opened for reading cannot be written."""
    return isinstance(fs, AbstractArchiveFileSystem) and "w" not in str(getattr(fs, "mode", "r"))


class FsspecProvider(FileSystem):
    """A provider over ``fs`` (an ``fsspec.AbstractFileSystem``), rooted at store key ``root``.

    ``read_only`` makes every change fail with EROFS (default: true for archives opened for
    reading). ``uid``/``gid`` own files whose store reports no owner (default: this process's
    effective ids), and judge ``access``.
    """

    uses_python_os = True
    """The wrapped library calls Python's os and open."""

    def __init__(
        self,
        fs: fsspec.AbstractFileSystem,
        root: str = "",
        *,
        read_only: bool | None = None,
        uid: int | None = None,
        gid: int | None = None,
    ) -> None:
        if not isinstance(fs, fsspec.AbstractFileSystem):
            raise TypeError(f"fs must be an fsspec.AbstractFileSystem, not {type(fs).__name__}")
        self.store = fs
        self.root = root.rstrip("/") if root.strip("/") else root[:1]
        self.read_only = _read_only_store(fs) if read_only is None else read_only
        self.uid = posix.geteuid() if uid is None else uid
        self.gid = posix.getegid() if gid is None else gid
        self._lock = threading.RLock()
        self._attributes = AttributeTable()
        self._open: dict[str, OpenFile] = {}
        self._directories: weakref.WeakSet[FsspecHandle] = weakref.WeakSet()
        self._dev = posix.makedev(0, 0x400 + next(_devices))
        self._native_move = isinstance(fs, LocalFileSystem)

    @property
    def device(self) -> int:
        """The ``st_dev`` every file of this adapter reports."""
        return self._dev

    # -- keys and lookups --------------------------------------------------------------------

    def _key(self, parts: tuple[str, ...]) -> str:
        """The store key of the components ``parts`` below the root."""
        root = self.root
        if not parts:
            return root
        joined = "/".join(parts)
        if not root:
            return joined
        return (root if root != "/" else "") + "/" + joined

    def _info(self, key: str, given: str) -> dict[str, Any] | None:
        """The store's info for ``key``, or None if there is nothing there."""
        try:
            info: dict[str, Any] = self.store.info(key)
        except FileNotFoundError:
            return None
        except FOREIGN_ERRORS as error:
            if key == self.root:  # some stores cannot describe their root: it is a directory
                return {"name": key, "type": "directory", "size": 0}
            code = foreign_error(error, given)
            if code.errno == errno.ENOENT:
                return None
            raise code from error
        return info

    def _walk(self, location: Location, parts: tuple[str, ...]) -> None:
        """ENOENT or ENOTDIR for the first prefix of ``parts`` that is not a directory."""
        for end in range(1, len(parts) + 1):
            info = self._info(self._key(parts[:end]), location.given)
            if info is None:
                raise os_error(errno.ENOENT, location.given)
            if not _is_dir(info):
                raise os_error(errno.ENOTDIR, location.given)

    def _lookup(self, location: Location) -> tuple[str, dict[str, Any]]:
        """The key and info of an existing path, with the errors Linux's lookup gives."""
        for prefix in location.checks:
            self._walk(location, prefix)
        if location.too_long is not None:
            self._walk(location, location.parts[: location.too_long])
            raise os_error(errno.ENAMETOOLONG, location.given)
        key = self._key(location.parts)
        info = self._info(key, location.given)
        if info is None:
            self._walk(location, location.parts[:-1])
            raise os_error(errno.ENOENT, location.given)
        if location.must_be_dir and not _is_dir(info):
            raise os_error(errno.ENOTDIR, location.given)
        return key, info

    def _directory_of(self, path: str, operation: str) -> tuple[str, str, bool]:
        """For a call that creates or removes a name: (parent key, name, trailing slash).

        ``.``, ``..`` and ``/`` as last component get the errno Linux gives ``operation``.
        """
        head, name, trailing = split(path)
        code = special_errno(operation, name)
        if code:
            raise os_error(code, path)
        parent = locate(head)
        key, info = self._lookup(attrs.evolve(parent, given=path, must_be_dir=True))
        if not _is_dir(info):
            raise os_error(errno.ENOTDIR, path)
        if name_too_long(name):
            raise os_error(errno.ENAMETOOLONG, path)
        return key, name, trailing

    def _child(self, parent: str, name: str) -> str:
        if parent == self.root:
            return self._key((name,))
        return parent + "/" + name

    def _writable(self, path: str) -> None:
        if self.read_only:
            raise os_error(errno.EROFS, path)

    @contextmanager
    def _foreign(self, path: str, path2: str | None = None) -> Iterator[None]:
        """Translate what the store raises into the caller's OSError."""
        try:
            yield
        except FOREIGN_ERRORS as error:
            raise foreign_error(error, path, path2) from error

    # -- status ------------------------------------------------------------------------------

    def _status(self, key: str, info: dict[str, Any], attributes: Attributes) -> posix.stat_result:
        """Build the stat record of ``key`` from the store's info and the adapter's record."""
        is_dir = _is_dir(info)
        kind = _stat.S_IFDIR if is_dir else _stat.S_IFREG
        mode = attributes.mode
        if mode is None:
            stored = info.get("mode")
            if isinstance(stored, int) and not isinstance(stored, bool):
                mode = stored & 0o7777
            else:
                mode = 0o755 if is_dir else 0o644
        opened = None if is_dir else self._open.get(key)
        if is_dir:
            size = DIRECTORY_SIZE
            nlink = 2 + sum(1 for entry in self._listing(key, key) if _is_dir(entry))
        else:
            size = self._size(opened) if opened is not None else int(info.get("size") or 0)
            nlink = 0 if attributes.unlinked else 1
        return self._record(kind | mode, attributes, info, nlink, size)

    def _record(
        self, mode: int, attributes: Attributes, info: dict[str, Any], nlink: int, size: int
    ) -> posix.stat_result:
        stored_uid, stored_gid = info.get("uid"), info.get("gid")
        uid = attributes.uid if attributes.uid is not None else stored_uid
        gid = attributes.gid if attributes.gid is not None else stored_gid
        mtime = attributes.mtime
        if mtime is None:
            mtime = _store_time(info) or attributes.seen
        atime = attributes.atime if attributes.atime is not None else mtime
        ctime = attributes.ctime if attributes.ctime is not None else mtime
        blocks = 0 if _stat.S_ISDIR(mode) else (size + BLOCK_SIZE - 1) // BLOCK_SIZE * 8
        return posix.stat_result(
            (
                mode, attributes.ino, self._dev, nlink,
                uid if isinstance(uid, int) else self.uid,
                gid if isinstance(gid, int) else self.gid,
                size,
                atime // 1_000_000_000, mtime // 1_000_000_000, ctime // 1_000_000_000,
                atime / 1e9, mtime / 1e9, ctime / 1e9,
                atime, mtime, ctime,
                BLOCK_SIZE, blocks, 0,
            )
        )  # fmt: skip

    def _key_stat(self, key: str, given: str) -> posix.stat_result:
        """The status of an existing key (ENOENT if it went away)."""
        info = self._info(key, given)
        if info is None:
            raise os_error(errno.ENOENT, given)
        return self._status(key, info, self._attributes.get(key))

    def _file_stat(self, file: OpenFile) -> posix.stat_result:
        """fstat of an open regular file, also after its name was removed."""
        if file.key is not None:
            info = self._info(file.key, file.key)
            if info is not None:
                return self._status(file.key, info, file.attributes)
        mode = _stat.S_IFREG | (file.attributes.mode or 0o644)
        return self._record(mode, file.attributes, {}, 0, self._size(file))

    def stat(self, path: str, follow_symlinks: bool = True) -> posix.stat_result:
        location = locate(path)
        with self._lock:
            key, info = self._lookup(location)
            return self._status(key, info, self._attributes.get(key))

    # -- directories ------------------------------------------------------------------------

    def _listing(self, key: str, given: str) -> list[dict[str, Any]]:
        """The store's entries directly below the directory ``key``."""
        with self._foreign(given):
            entries: list[dict[str, Any]] = self.store.ls(key, detail=True)
        own = key.rstrip("/")
        return [e for e in entries if str(e.get("name", "")).rstrip("/") not in (own, "")]

    def _entries(self, key: str, given: str) -> list[DirEntryInfo]:
        found: dict[str, DirEntryInfo] = {}
        for entry in self._listing(key, given):
            name = str(entry["name"]).rstrip("/").rsplit("/", 1)[-1]
            child = self._child(key, name)
            kind = _stat.S_IFDIR if _is_dir(entry) else _stat.S_IFREG
            found[name] = DirEntryInfo(name, kind, self._attributes.get(child).ino)
        return list(found.values())

    def _directory(self, path: str) -> str:
        location = locate(path)
        key, info = self._lookup(location)
        if not _is_dir(info):
            raise os_error(errno.ENOTDIR, path)
        return key

    def listdir(self, path: str) -> list[str]:
        with self._lock:
            return [entry.name for entry in self._entries(self._directory(path), path)]

    def scandir(self, path: str) -> list[DirEntryInfo]:
        with self._lock:
            return self._entries(self._directory(path), path)

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        check_path(path)
        with self._lock:
            parent, name, _ = self._directory_of(path, "create")
            key = self._child(parent, name)
            if self._info(key, path) is not None:
                raise os_error(errno.EEXIST, path)
            self._writable(path)
            with self._foreign(path):
                self.store.mkdir(key, create_parents=False)
            record = self._attributes.fresh(key)
            record.mode, record.uid, record.gid = mode & 0o1777, self.uid, self.gid
            self._attributes.get(parent).modified()

    def rmdir(self, path: str) -> None:
        check_path(path)
        with self._lock:
            parent, name, _ = self._directory_of(path, "rmdir")
            key = self._child(parent, name)
            info = self._info(key, path)
            if info is None:
                raise os_error(errno.ENOENT, path)
            if not _is_dir(info):
                raise os_error(errno.ENOTDIR, path)
            if self._listing(key, path):
                raise os_error(errno.ENOTEMPTY, path)
            self._writable(path)
            with self._foreign(path):
                self.store.rmdir(key)
            self._attributes.drop(key)
            self._attributes.get(parent).modified()

    # -- names -------------------------------------------------------------------------------

    def unlink(self, path: str) -> None:
        check_path(path)
        with self._lock:
            parent, name, trailing = self._directory_of(path, "unlink")
            key = self._child(parent, name)
            info = self._info(key, path)
            if info is None:
                raise os_error(errno.ENOENT, path)
            if _is_dir(info):
                raise os_error(errno.EISDIR, path)
            if trailing:
                raise os_error(errno.ENOTDIR, path)
            self._writable(path)
            opened = self._open.pop(key, None)
            if opened is not None:  # open handles keep the content, as Linux keeps the inode
                self._load(opened)
                opened.key = None
                opened.dirty = False
            with self._foreign(path):
                self.store.rm_file(key)
            dropped = self._attributes.drop(key)
            if dropped is not None:
                dropped.changed()
            self._attributes.get(parent).modified()

    def rename(self, src: str, dst: str) -> None:
        check_path(src, dst)
        check_path(dst)
        with errors_name(src, dst), self._lock:
            self._rename(src, dst)

    def _rename(self, src: str, dst: str) -> None:
        """rename(2) in Linux's order of checks, then a move in the store."""
        old_head, old_name, old_slash = split(src)
        new_head, new_name, new_slash = split(dst)
        if old_name in SPECIAL_NAMES:
            raise os_error(errno.EBUSY, src)
        if new_name in SPECIAL_NAMES:
            raise os_error(errno.EBUSY, dst)
        old_parent, _, _ = self._directory_of(old_head.rstrip("/") + "/" + old_name, "rename")
        new_parent, _, _ = self._directory_of(new_head.rstrip("/") + "/" + new_name, "rename")
        old, new = self._child(old_parent, old_name), self._child(new_parent, new_name)
        node = self._info(old, src)
        if node is None:
            raise os_error(errno.ENOENT, src)
        victim = self._info(new, dst)
        is_dir = _is_dir(node)
        if not is_dir and (old_slash or new_slash):
            raise os_error(errno.ENOTDIR, src)
        if is_dir and (new == old or new.startswith(old + "/")) and new != old:
            raise os_error(errno.EINVAL, src)
        if victim is not None and _is_dir(victim) and old.startswith(new + "/"):
            raise os_error(errno.ENOTEMPTY, src)
        if old == new:
            return
        if victim is not None:
            if _is_dir(victim) and not is_dir:
                raise os_error(errno.EISDIR, dst)
            if is_dir and not _is_dir(victim):
                raise os_error(errno.ENOTDIR, dst)
            if is_dir and self._listing(new, dst):
                raise os_error(errno.ENOTEMPTY, dst)
        self._writable(src)
        self._move(old, new, is_dir, victim, src)
        self._attributes.move(old, new)
        self._rekey(old, new)
        self._attributes.get(old_parent).modified()
        self._attributes.get(new_parent).modified()
        self._attributes.get(new).changed()

    def _move(
        self, old: str, new: str, is_dir: bool, victim: dict[str, Any] | None, src: str
    ) -> None:
        """Move ``old`` to ``new`` in the store (``victim`` already checked replaceable)."""
        if not self._native_move:
            NOT_ATOMIC.hit(path=src)
        opened = self._open.get(old)
        if opened is not None:
            self._write_back(opened, src)
        with self._foreign(src):
            if victim is not None and _is_dir(victim):
                self.store.rmdir(new)
            if self._native_move or not is_dir:
                self.store.mv(old, new)
                return
            self.store.mkdir(new, create_parents=False)
            found: dict[str, dict[str, Any]] = self.store.find(old, withdirs=True, detail=True)
            for name in sorted(found):
                below = name.rstrip("/")
                if below == old:
                    continue
                target = new + below[len(old) :]
                if _is_dir(found[name]):
                    self.store.mkdir(target, create_parents=False)
                else:
                    self.store.mv(below, target)
            for name in sorted(found, reverse=True):
                if _is_dir(found[name]) and name.rstrip("/") != old:
                    self.store.rmdir(name.rstrip("/"))
            self.store.rmdir(old)

    def _rekey(self, old: str, new: str) -> None:
        """Open files and directories below ``old`` now live below ``new``."""
        prefix = old + "/"
        for key in [k for k in self._open if k == old or k.startswith(prefix)]:
            file = self._open.pop(key)
            moved = new + key[len(old) :]
            file.key = moved
            self._open[moved] = file
        for handle in list(self._directories):
            where = handle._dir_key
            if where is not None and (where == old or where.startswith(prefix)):
                handle._dir_key = new + where[len(old) :]

    def symlink(self, target: str, path: str) -> None:
        target = check_target(target, path)
        check_path(path)
        with errors_name(target, path):
            with self._lock:
                parent, name, trailing = self._directory_of(path, "create")
                if self._info(self._child(parent, name), path) is not None:
                    raise os_error(errno.EEXIST, path)
                if trailing:
                    raise os_error(errno.ENOENT, path)
                self._writable(path)
            NO_SYMLINKS.hit(path=path)
            raise os_error(errno.EPERM, path)

    def readlink(self, path: str) -> str:
        location = locate(path)
        with self._lock:
            self._lookup(location)
        raise os_error(errno.EINVAL, path)

    def link(self, src: str, dst: str, follow_symlinks: bool = True) -> None:
        check_path(src, dst)
        check_path(dst)
        with errors_name(src, dst), self._lock:
            _, node = self._lookup(locate(src))
            parent, name, trailing = self._directory_of(dst, "create")
            if self._info(self._child(parent, name), dst) is not None:
                raise os_error(errno.EEXIST, dst)
            if trailing:
                raise os_error(errno.ENOENT, dst)
            if _is_dir(node):
                raise os_error(errno.EPERM, src)
            self._writable(dst)
        NO_HARD_LINKS.hit(path=src)
        raise os_error(errno.EPERM, src, dst)

    # -- attributes --------------------------------------------------------------------------

    def _existing(self, path: str) -> tuple[str, dict[str, Any], Attributes]:
        key, info = self._lookup(locate(path))
        return key, info, self._attributes.get(key)

    def chmod(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        with self._lock:
            _, _, record = self._existing(path)
            self._writable(path)
            self._chmod(record, mode, path)

    def chown(self, path: str, uid: int, gid: int, follow_symlinks: bool = True) -> None:
        with self._lock:
            _, info, record = self._existing(path)
            self._writable(path)
            self._chown(record, uid, gid, path, _is_dir(info))

    def utime(
        self, path: str, ns: tuple[int, int] | None = None, follow_symlinks: bool = True
    ) -> None:
        with self._lock:
            _, _, record = self._existing(path)
            self._writable(path)
            self._utime(record, ns, path)

    def _chmod(self, record: Attributes, mode: int, path: str | None) -> None:
        if self.read_only:
            raise os_error(errno.EROFS, path)
        ADAPTER_METADATA.hit(path=path)
        record.mode = mode & 0o7777
        record.changed()

    def _chown(
        self, record: Attributes, uid: int, gid: int, path: str | None, is_dir: bool
    ) -> None:
        if self.read_only:
            raise os_error(errno.EROFS, path)
        if self.uid != 0 and (uid not in (-1, self.uid) or gid not in (-1, self.gid)):
            raise os_error(errno.EPERM, path)
        ADAPTER_METADATA.hit(path=path)
        if uid != -1:
            record.uid = uid
        if gid != -1:
            record.gid = gid
        if not is_dir and record.mode is not None:  # chown clears set-user-ID, as Linux
            record.mode = privileges_dropped(record.mode)
        record.changed()

    def _utime(self, record: Attributes, ns: tuple[int, int] | None, path: str | None) -> None:
        if self.read_only:
            raise os_error(errno.EROFS, path)
        ADAPTER_METADATA.hit(path=path)
        now = time_ns()
        record.atime, record.mtime = (now, now) if ns is None else ns
        record.changed(now)

    def truncate(self, path: str, length: int) -> None:
        check_path(path)
        if length < 0:
            raise os_error(errno.EINVAL, path)
        with self._lock:
            key, info, record = self._existing(path)
            if _is_dir(info):
                raise os_error(errno.EISDIR, path)
            self._writable(path)
            opened = self._open.get(key)
            if opened is None:
                opened = OpenFile(key, record)
            self._resize(opened, length)
            self._write_back(opened, path)

    def access(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        if mode & ~7:
            raise os_error(errno.EINVAL, path)
        with self._lock:
            key, info, record = self._existing(path)
            st = self._status(key, info, record)
        if mode & posix.W_OK and self.read_only:
            raise os_error(errno.EROFS, path)
        if mode and not self._permitted(st, mode):
            raise os_error(errno.EACCES, path)

    def _permitted(self, st: posix.stat_result, want: int) -> bool:
        """Linux's check of mode bits for the adapter's owner (root: execute needs an x bit)."""
        mode = st.st_mode
        if self.uid == 0:
            return not want & posix.X_OK or _stat.S_ISDIR(mode) or bool(mode & 0o111)
        if self.uid == st.st_uid:
            bits = mode >> 6
        elif self.gid == st.st_gid:
            bits = mode >> 3
        else:
            bits = mode
        return bits & want == want

    def statvfs(self, path: str) -> posix.statvfs_result:
        with self._lock:
            self._lookup(locate(path))
        return self._statvfs()

    def _statvfs(self) -> posix.statvfs_result:
        flags = ST_RDONLY if self.read_only else 0
        return posix.statvfs_result(
            (BLOCK_SIZE, BLOCK_SIZE, 0, 0, 0, 0, 0, 0, flags, NAME_MAX, self._dev)
        )

    # -- opening -----------------------------------------------------------------------------

    def open(self, path: str, flags: int, mode: int = 0o666) -> FsspecHandle:
        check_path(path)
        flags = check_open_flags(flags, path)
        with self._lock:
            if flags & O_TMPFILE_BIT:
                self._directory(path)
                NO_TMPFILE.hit(path=path)
                raise os_error(errno.EOPNOTSUPP, path)
            if flags & posix.O_PATH:
                key, info = self._lookup(locate(path))
                if flags & posix.O_DIRECTORY and not _is_dir(info):
                    raise os_error(errno.ENOTDIR, path)
                return self._handle(path, flags, key, info)
            if flags & posix.O_CREAT:
                key, found = self._open_creating(path, flags, mode)
                if found is None:
                    return self._handle(path, flags, key, {"type": "file"})
                info = found
            else:
                key, info = self._lookup(locate(path))
            self._may_open(info, flags, path)
            if flags & posix.O_TRUNC and not _is_dir(info):
                opened = self._open.get(key) or OpenFile(key, self._attributes.get(key))
                self._resize(opened, 0)
                self._write_back(opened, path)
            return self._handle(path, flags, key, info)

    def _open_creating(self, path: str, flags: int, mode: int) -> tuple[str, dict[str, Any] | None]:
        """Find or create the file for O_CREAT; info None means it was created here."""
        exclusive = flags & posix.O_EXCL
        head, name, trailing = split(path)
        if name in SPECIAL_NAMES:
            raise os_error(errno.EEXIST if exclusive else errno.EISDIR, path)
        if trailing:
            self._directory_of(head.rstrip("/") + "/" + name, "create")
            raise os_error(errno.EISDIR, path)
        parent, _, _ = self._directory_of(path, "create")
        key = self._child(parent, name)
        info = self._info(key, path)
        if info is not None:
            if exclusive:
                raise os_error(errno.EEXIST, path)
            return key, info
        self._writable(path)
        if exclusive:
            NOT_ATOMIC.hit(path=path)
        with self._foreign(path):
            self.store.pipe_file(key, b"")
        record = self._attributes.fresh(key)
        record.mode, record.uid, record.gid = mode & 0o7777, self.uid, self.gid
        record.modified()
        self._attributes.get(parent).modified()
        return key, None

    def _may_open(self, info: dict[str, Any], flags: int, path: str) -> None:
        """Linux's checks on an existing file or directory before opening it."""
        writes = flags & O_ACCMODE != posix.O_RDONLY or flags & posix.O_TRUNC
        if _is_dir(info):
            if flags & posix.O_CREAT or writes:
                raise os_error(errno.EISDIR, path)
        elif flags & posix.O_DIRECTORY:
            raise os_error(errno.ENOTDIR, path)
        if writes:
            self._writable(path)

    def _handle(self, path: str, flags: int, key: str, info: dict[str, Any]) -> FsspecHandle:
        if _is_dir(info):
            handle = FsspecHandle(self, path, flags, None, key)
            self._directories.add(handle)
            return handle
        opened = self._open.get(key)
        if opened is None:
            opened = self._open[key] = OpenFile(key, self._attributes.get(key))
        return FsspecHandle(self, path, flags, opened, None)

    # -- content (callers hold the lock) -----------------------------------------------------

    def _load(self, file: OpenFile) -> bytearray:
        """The whole content in the shared buffer, read from the store the first time."""
        if file.data is None:
            key = file.key
            assert key is not None
            with self._foreign(key):
                file.data = bytearray(self.store.cat_file(key))
        return file.data

    def _read(self, file: OpenFile, n: int, offset: int) -> bytes:
        if file.data is not None:
            return bytes(file.data[offset : offset + n])
        if n == 0:
            return b""
        key = file.key
        assert key is not None
        with self._foreign(key):
            data: bytes = self.store.cat_file(key, start=offset, end=offset + n)
        return data

    def _size(self, file: OpenFile) -> int:
        if file.data is not None or file.key is None:
            return len(self._load(file))
        with self._foreign(file.key):
            return int(self.store.size(file.key) or 0)

    def _resize(self, file: OpenFile, length: int) -> None:
        buffer = self._load(file)
        if length < len(buffer):
            del buffer[length:]
        else:
            buffer.extend(bytes(length - len(buffer)))
        file.dirty = True
        file.attributes.modified()

    def _write_back(self, file: OpenFile, given: str) -> None:
        """Write a changed buffer to the store (fsync, close, truncate)."""
        if not file.dirty or file.key is None or file.data is None:
            return
        with self._foreign(given):
            self.store.pipe_file(file.key, bytes(file.data))
        file.dirty = False

    def _release(self, file: OpenFile, given: str) -> None:
        """A handle on ``file`` closed: write back, and forget the file with its last handle."""
        file.handles -= 1
        try:
            self._write_back(file, given)
        finally:
            if file.handles <= 0 and file.key is not None and self._open.get(file.key) is file:
                del self._open[file.key]

    def close(self) -> None:
        """Write back what open handles changed; the store itself stays open."""
        with self._lock:
            for file in list(self._open.values()):
                self._write_back(file, file.key or "")

    def __repr__(self) -> str:
        return f"<FsspecProvider {type(self.store).__name__} root={self.root!r}>"


__all__ = ["ROOT", "FsspecProvider"]


__getattr__ = renamed_names(__name__, {"FsspecFileSystem": "FsspecProvider"}, globals())
"""``FsspecFileSystem``, the old name of :class:`FsspecProvider`, for one release."""
