"""A provider that forwards every operation to a FileSystem served over a stream socket.

:class:`RemoteFileSystem` is a path-only provider (its held directories are paths, moved
along by the renames made through it, gap ``vfs.held_by_path``): each call is one request
and one reply on the connection (:mod:`vfs.remote.wire`), and the served provider's OSError
comes back with its class, errno, message and file names. One request is in flight at a time
per connection (a lock), so threads share a client safely.

Interrupt safety: an exception landing while a request or its reply is on the wire (a
KeyboardInterrupt, a time limit) leaves the stream at an unknown point, so the connection is
then marked broken and every later call fails with a clear OSError (EIO) rather than read a
reply that belongs to another request.
"""

from __future__ import annotations

import builtins
import errno
import operator
import posix
import threading
from typing import Any, Final

import compat
from vfs.arguments import check_target
from vfs.provider import DirEntryInfo, FileSystem, Handle
from vfs.remote.wire import (
    MAX_FRAME,
    ConnectionClosed,
    Value,
    WireError,
    decode,
    encode,
    receive,
    send_all,
)

CHUNK: Final = 8 << 20
"""The most bytes one read or write request carries (a larger one is split)."""
APPEND_LIMIT: Final = MAX_FRAME - 4096
"""The most bytes one append may carry: an append is atomic, so it cannot be split."""

INTERRUPTED = compat.declare(
    id="vfs.remote_interrupted",
    function="vfs.remote.RemoteFileSystem",
    aspect="an exception raised in the middle of a request",
    level=compat.Level.WARNING,
    explanation="an exception that interrupts a remote file system call while its request or "
    "reply is on the wire (KeyboardInterrupt, a time limit) breaks the connection: every "
    "later call fails with EIO (in a child Python of a memory file system program: every "
    "file operation)",
)
APPEND_TOO_LARGE = compat.declare(
    id="vfs.remote_append_size",
    function="os.write",
    aspect="O_APPEND writes over 64 MiB on a remote file system",
    level=compat.Level.FINE,
    explanation="one O_APPEND write is atomic, so it travels in one frame: a single write of "
    "more than 64 MiB to a file opened with O_APPEND fails with EFBIG",
)

NOT_MAPPABLE = compat.declare(
    id="vfs.remote_not_mappable",
    function="mmap.mmap",
    aspect="mapping a file of a remote file system",
    level=compat.Level.WARNING,
    explanation="a remote file system's files cannot be mapped (in a child Python of a memory "
    "or overlay program: the program's files): mmap fails with ENODEV, as Linux answers for "
    "a file system without mmap; the served provider's descriptor is not passed over the "
    "socket",
)

_OS_ERRORS: Final = {
    cls.__name__: cls
    for cls in vars(builtins).values()
    if isinstance(cls, type) and issubclass(cls, OSError)
}
_OTHER_ERRORS: Final = {
    "ValueError": ValueError, "TypeError": TypeError, "OverflowError": OverflowError,
}  # fmt: skip
"""Exceptions besides OSError that cross the connection as themselves (a provider's answer
to bad arguments; the server sends anything else a provider raises as EIO)."""


class Connection:
    """One stream socket to a server: a request out, its reply in, one at a time."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._lock = threading.Lock()
        self._in_flight = False
        """Set before a request goes out and cleared once its whole reply is in: still set
        when a call starts, the previous one was interrupted on the wire."""
        self._broken: str | None = None

    def call(self, name: str, *arguments: object) -> Any:
        """The served provider's answer to ``name(*arguments)``, or its exception."""
        frame = encode((name, *arguments))  # before the lock: an unsendable value raises here
        with self._lock:
            self._check()
            self._in_flight = True
            try:
                send_all(self.fd, frame)
                body = receive(self.fd)
            except (OSError, ConnectionClosed, WireError) as error:
                self._broken = f"the connection failed: {error}"
                raise OSError(errno.EIO, f"remote file system: {self._broken}") from error
            self._in_flight = False
        try:
            reply = decode(body)
        except WireError as error:
            self._broken = f"a malformed reply: {error}"
            raise OSError(errno.EIO, f"remote file system: {self._broken}") from None
        return _result(reply)

    def _check(self) -> None:
        if self._in_flight and self._broken is None:
            INTERRUPTED.hit()
            self._broken = "an earlier call was interrupted in the middle of a request"
        if self._broken is not None:
            raise OSError(errno.EIO, f"remote file system: {self._broken}")
        if self.fd < 0:
            raise OSError(errno.EBADF, "remote file system: the connection is closed")

    @property
    def broken(self) -> bool:
        """Whether calls fail for good (a failed or interrupted exchange)."""
        return self._broken is not None or self._in_flight

    def close(self) -> None:
        """Close the socket (the server then closes every handle this client left open)."""
        with self._lock:
            fd, self.fd = self.fd, -1
        if fd >= 0:
            posix.close(fd)


def _result(reply: Value) -> Any:
    if type(reply) is tuple and len(reply) == 2 and reply[0] == "ok":
        return reply[1]
    if type(reply) is tuple and len(reply) == 6 and reply[0] == "error":
        raise _error(*reply[1:])
    raise OSError(errno.EIO, f"remote file system: a reply of an unknown shape: {reply!r:.80}")


def _error(kind: Value, code: Value, message: Value, name: Value, name2: Value) -> Exception:
    other = _OTHER_ERRORS.get(kind) if type(kind) is str else None
    if other is not None:
        return other(message)
    cls = _OS_ERRORS.get(kind, OSError) if type(kind) is str else OSError
    if code is None:
        return cls(message)
    if name2 is not None:
        error = cls(code, message, name, None, name2)
    elif name is not None:
        error = cls(code, message, name)
    else:
        error = cls(code, message)
    return error


def stat_result(value: Any) -> posix.stat_result:
    """A stat result rebuilt from :func:`vfs.remote.server.stat_value`'s plain values."""
    fields, extras = value
    return posix.stat_result(fields, dict(extras))


def statvfs_result(value: Any) -> posix.statvfs_result:
    """A statvfs result rebuilt from :func:`vfs.remote.server.statvfs_value`'s values."""
    fields, fsid = value
    return posix.statvfs_result(fields, {"f_fsid": fsid})


def _entries(value: Any) -> list[DirEntryInfo]:
    return [DirEntryInfo(name, kind, inode) for name, kind, inode in value]


def _int(value: object) -> int:
    """An integer argument as sent (a bool or an int subclass as a plain int)."""
    return int(operator.index(value))  # type: ignore[arg-type]


def _path(path: object) -> str:
    """``path`` as sent: a str (TypeError otherwise, as every provider)."""
    if type(path) is not str:
        raise TypeError(f"path should be str, not {type(path).__name__}")
    return path


def _times(ns: object) -> tuple[int, int] | None:
    """utime's ``ns`` as sent: None or two integers (TypeError otherwise, as os.utime)."""
    if ns is None:
        return None
    if not isinstance(ns, tuple) or len(ns) != 2:
        raise TypeError("utime: 'ns' must be a tuple of two ints")
    return _int(ns[0]), _int(ns[1])


class RemoteHandle(Handle):
    """An open file or directory of the served provider, named on the wire by a number."""

    __slots__ = ("_closed", "_connection", "_number", "_path", "flags")

    def __init__(self, connection: Connection, number: int, path: str, flags: int) -> None:
        self._connection = connection
        self._number = number
        self._path = path
        self._closed = False
        self.flags = flags

    def _call(self, name: str, *arguments: object) -> Any:
        if self._closed:
            raise OSError(errno.EBADF, posix.strerror(errno.EBADF))
        return self._connection.call(name, self._number, *arguments)

    @property
    def path(self) -> str:
        return self._path

    @property
    def closed(self) -> bool:
        return self._closed

    def pread(self, n: int, offset: int) -> bytes:
        if n <= CHUNK:
            return self._call("h.pread", _int(n), _int(offset))  # type: ignore[no-any-return]
        parts = []
        while n > 0:
            part: bytes = self._call("h.pread", min(n, CHUNK), _int(offset))
            parts.append(part)
            if len(part) < min(n, CHUNK):
                break
            n, offset = n - len(part), offset + len(part)
        return b"".join(parts)

    def pwrite(self, data: bytes, offset: int) -> int:
        data = bytes(data)
        if len(data) <= CHUNK:
            return self._call("h.pwrite", data, _int(offset))  # type: ignore[no-any-return]
        done = 0
        while done < len(data):
            piece = data[done : done + CHUNK]
            written: int = self._call("h.pwrite", piece, _int(offset) + done)
            done += written
            if written < len(piece):
                break
        return done

    def append(self, data: bytes) -> int:
        if len(data) > APPEND_LIMIT:
            APPEND_TOO_LARGE.hit()
            raise OSError(errno.EFBIG, posix.strerror(errno.EFBIG), self._path)
        return self._call("h.append", bytes(data))  # type: ignore[no-any-return]

    def size(self) -> int:
        return self._call("h.size")  # type: ignore[no-any-return]

    def truncate(self, length: int) -> None:
        self._call("h.truncate", _int(length))

    def sync(self) -> None:
        self._call("h.sync")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._connection.broken and self._connection.fd >= 0:
            self._connection.call("h.close", self._number)

    def stat(self) -> posix.stat_result:
        return stat_result(self._call("h.stat"))

    def chmod(self, mode: int) -> None:
        self._call("h.chmod", _int(mode))

    def chown(self, uid: int, gid: int) -> None:
        self._call("h.chown", _int(uid), _int(gid))

    def utime(self, ns: tuple[int, int] | None = None) -> None:
        self._call("h.utime", _times(ns))

    def listdir(self) -> list[str]:
        return list(self._call("h.listdir"))

    def scandir(self) -> list[DirEntryInfo]:
        return _entries(self._call("h.scandir"))

    def statvfs(self) -> posix.statvfs_result:
        return statvfs_result(self._call("h.statvfs"))

    def allocate(self, offset: int, length: int) -> None:
        self._call("h.allocate", _int(offset), _int(length))

    def seek_data(self, offset: int, whence: int) -> int:
        return self._call("h.seek_data", _int(offset), _int(whence))  # type: ignore[no-any-return]

    def mappable(self) -> int:
        NOT_MAPPABLE.hit()
        raise OSError(errno.ENODEV, posix.strerror(errno.ENODEV))

    def __repr__(self) -> str:
        return f"<RemoteHandle {self._path!r} #{self._number}>"


class RemoteFileSystem(FileSystem):
    """The file system a :func:`vfs.remote.serve` server serves on the other end of ``fd``
    (a connected stream socket this provider then owns)."""

    def __init__(self, fd: int) -> None:
        self.connection = Connection(fd)

    def _call(self, name: str, *arguments: object) -> Any:
        return self.connection.call(name, *arguments)

    def stat(self, path: str, follow_symlinks: bool = True) -> posix.stat_result:
        return stat_result(self._call("stat", _path(path), bool(follow_symlinks)))

    def open(self, path: str, flags: int, mode: int = 0o666) -> Handle:
        number, opened_flags = self._call("open", _path(path), _int(flags), _int(mode))
        return RemoteHandle(self.connection, number, path, opened_flags)

    def listdir(self, path: str) -> list[str]:
        return list(self._call("listdir", _path(path)))

    def scandir(self, path: str) -> list[DirEntryInfo]:
        return _entries(self._call("scandir", _path(path)))

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        self._call("mkdir", _path(path), _int(mode))

    def rmdir(self, path: str) -> None:
        self._call("rmdir", _path(path))

    def unlink(self, path: str) -> None:
        self._call("unlink", _path(path))

    def rename(self, src: str, dst: str) -> None:
        self._call("rename", _path(src), _path(dst))

    def symlink(self, target: str, path: str) -> None:
        target = check_target(target, path)
        self._call("symlink", target, _path(path))

    def readlink(self, path: str) -> str:
        return self._call("readlink", _path(path))  # type: ignore[no-any-return]

    def link(self, src: str, dst: str, follow_symlinks: bool = True) -> None:
        self._call("link", _path(src), _path(dst), bool(follow_symlinks))

    def chmod(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        self._call("chmod", _path(path), _int(mode), bool(follow_symlinks))

    def chown(self, path: str, uid: int, gid: int, follow_symlinks: bool = True) -> None:
        self._call("chown", _path(path), _int(uid), _int(gid), bool(follow_symlinks))

    def utime(
        self, path: str, ns: tuple[int, int] | None = None, follow_symlinks: bool = True
    ) -> None:
        self._call("utime", _path(path), _times(ns), bool(follow_symlinks))

    def truncate(self, path: str, length: int) -> None:
        self._call("truncate", _path(path), _int(length))

    def access(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        self._call("access", _path(path), _int(mode), bool(follow_symlinks))

    def statvfs(self, path: str) -> posix.statvfs_result:
        return statvfs_result(self._call("statvfs", _path(path)))

    def close(self) -> None:
        """Close the connection (the server closes the handles left open)."""
        self.connection.close()

    def __repr__(self) -> str:
        return f"<RemoteFileSystem fd={self.connection.fd}>"
