"""Serving one FileSystem over one connected stream socket, to a :class:`RemoteFileSystem`.

The peer is not trusted: a request is a tuple of an operation's name and its arguments, each
checked against the operation's signature before the provider sees it; the provider's own
checks do the rest (a path with NUL is its ValueError, ``..`` above ``/`` stays at ``/``).
An unknown operation, a wrong argument type or a malformed frame ends the connection, logged;
nothing the peer sends can stop the thread that serves the program, and every handle the peer
opened is closed when the connection ends.
"""

from __future__ import annotations

import _socket
import errno
import logging
import posix
import threading
from collections.abc import Callable
from typing import Any, Final

from vfs.provider import DirEntryInfo, FileSystem, Handle
from vfs.remote.wire import (
    ConnectionClosed,
    Value,
    WireError,
    decode,
    encode,
    high_duplicate,
    receive,
    send_all,
)

LOG: Final = logging.getLogger("vfs.remote")
# Bound at import: a server may run on a library thread outside any permissions, and a
# program can replace a module's attributes, but not what these names hold.
_THREAD: Final = threading.Thread
_SOCKETPAIR: Final = _socket.socketpair
_CLOSE: Final = posix.close
_STRERROR: Final = posix.strerror

LogRunner = Callable[..., None]
"""How a server makes a logging call ``(method, *args, **kwargs)``: the handlers a program
added to the logging system are its code, and its owner may run them under its permissions."""


def _log_here(method: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    method(*args, **kwargs)
MAX_HANDLES: Final = 1 << 16
"""Handles one connection may hold open at once (more: EMFILE, as a process's fd limit)."""
STAT_EXTRAS: Final = (
    "st_atime", "st_mtime", "st_ctime", "st_atime_ns", "st_mtime_ns", "st_ctime_ns",
    "st_blksize", "st_blocks", "st_rdev",
)  # fmt: skip
"""The stat fields beyond the ten of the tuple, sent by name."""


class BadRequest(Exception):
    """A request that breaks the protocol: the connection is ended."""


# -- argument kinds: each checks one argument of a request --------------------------------------


def _path(value: Value) -> str:
    if type(value) is not str or not value.startswith("/"):
        raise BadRequest(f"expected an absolute path, not {value!r:.80}")
    return value


def _text(value: Value) -> str:
    if type(value) is not str:
        raise BadRequest(f"expected text, not {type(value).__name__}")
    return value


def _integer(value: Value) -> int:
    if type(value) is not int:
        raise BadRequest(f"expected an integer, not {type(value).__name__}")
    return value


def _flag(value: Value) -> bool:
    if type(value) is not bool:
        raise BadRequest(f"expected a bool, not {type(value).__name__}")
    return value


def _data(value: Value) -> bytes:
    if type(value) is not bytes:
        raise BadRequest(f"expected bytes, not {type(value).__name__}")
    return value


def _times(value: Value) -> tuple[int, int] | None:
    if value is None:
        return None
    if type(value) is not tuple or len(value) != 2 or any(type(v) is not int for v in value):
        raise BadRequest("expected None or two integers of nanoseconds")
    return value[0], value[1]  # type: ignore[return-value]


# -- results ---------------------------------------------------------------------------------


def stat_value(st: posix.stat_result) -> Value:
    """A stat result as plain values: its ten fields, then the others by name."""
    extras = tuple((name, getattr(st, name)) for name in STAT_EXTRAS if hasattr(st, name))
    return tuple(st[:10]), extras


def statvfs_value(st: posix.statvfs_result) -> Value:
    """A statvfs result as plain values: its ten fields and f_fsid."""
    return tuple(st[:10]), st.f_fsid


def _entries(entries: list[DirEntryInfo]) -> Value:
    return tuple((entry.name, entry.type, entry.inode) for entry in entries)


def _names(names: list[str]) -> Value:
    return tuple(names)


def _nothing(result: object) -> Value:
    return None


def _same(result: Any) -> Value:
    return result  # type: ignore[no-any-return]


Operation = tuple[tuple[Callable[[Value], Any], ...], str, Callable[[Any], Value]]
"""An operation's argument kinds, the method it calls, and how its result is sent."""

_FS: dict[str, Operation] = {
    "stat": ((_path, _flag), "stat", stat_value),
    "listdir": ((_path,), "listdir", _names),
    "scandir": ((_path,), "scandir", _entries),
    "mkdir": ((_path, _integer), "mkdir", _nothing),
    "rmdir": ((_path,), "rmdir", _nothing),
    "unlink": ((_path,), "unlink", _nothing),
    "rename": ((_path, _path), "rename", _nothing),
    "symlink": ((_text, _path), "symlink", _nothing),
    "readlink": ((_path,), "readlink", _same),
    "link": ((_path, _path, _flag), "link", _nothing),
    "chmod": ((_path, _integer, _flag), "chmod", _nothing),
    "chown": ((_path, _integer, _integer, _flag), "chown", _nothing),
    "utime": ((_path, _times, _flag), "utime", _nothing),
    "truncate": ((_path, _integer), "truncate", _nothing),
    "access": ((_path, _integer, _flag), "access", _nothing),
    "statvfs": ((_path,), "statvfs", statvfs_value),
}
"""Path operations: the provider is called with the checked arguments."""

_HANDLE: dict[str, Operation] = {
    "h.pread": ((_integer, _integer), "pread", _same),
    "h.pwrite": ((_data, _integer), "pwrite", _same),
    "h.append": ((_data,), "append", _same),
    "h.size": ((), "size", _same),
    "h.truncate": ((_integer,), "truncate", _nothing),
    "h.sync": ((), "sync", _nothing),
    "h.stat": ((), "stat", stat_value),
    "h.chmod": ((_integer,), "chmod", _nothing),
    "h.chown": ((_integer, _integer), "chown", _nothing),
    "h.utime": ((_times,), "utime", _nothing),
    "h.listdir": ((), "listdir", _names),
    "h.scandir": ((), "scandir", _entries),
    "h.statvfs": ((), "statvfs", statvfs_value),
    "h.allocate": ((_integer, _integer), "allocate", _nothing),
    "h.seek_data": ((_integer, _integer), "seek_data", _same),
}
"""Handle operations: the first argument names the handle (an id this connection got)."""


class FileSystemServer:
    """Answers one connection's requests with ``file_system`` until the peer closes it.

    Owns ``fd`` (a connected stream socket): it is closed when serving ends, with every
    handle opened through it.
    """

    def __init__(
        self, file_system: FileSystem, fd: int, log: LogRunner | None = None
    ) -> None:
        self.file_system = file_system
        self.fd = fd
        self._log = _log_here if log is None else log
        self._handles: dict[int, Handle] = {}
        self._next_id = 0

    def start(self, name: str = "vfs-remote-server") -> threading.Thread:
        """Serve on a new daemon thread (returned, started)."""
        thread = _THREAD(target=self.serve, name=name, daemon=True)
        thread.start()
        return thread

    def serve(self) -> None:
        """Answer requests until the connection ends; never raises for what the peer sent."""
        try:
            while True:
                try:
                    request = decode(receive(self.fd))
                except ConnectionClosed as closed:
                    if "middle" in str(closed):
                        self._log(LOG.error, "remote file system: %s", closed)
                    return
                send_all(self.fd, encode(self.answer(request)))
        except (BadRequest, WireError) as error:
            self._log(LOG.error, "remote file system: connection ended: %s", error)
        except OSError as error:  # the socket itself failed (the peer went away mid-reply)
            self._log(LOG.info, "remote file system: connection lost: %s", error)
        finally:
            self.close()

    def answer(self, request: Value) -> Value:
        """The reply to one request: ``("ok", value)`` or ``("error", ...)``; BadRequest
        when the request breaks the protocol."""
        if type(request) is not tuple or not request or type(request[0]) is not str:
            raise BadRequest("a request is a tuple starting with an operation's name")
        name, arguments = request[0], request[1:]
        try:
            return "ok", self._perform(name, arguments)
        except OSError as error:
            return _os_error_reply(error)
        except (ValueError, TypeError, OverflowError) as error:
            return "error", type(error).__name__, None, str(error), None, None
        except BadRequest:
            raise
        # A provider's bug: the peer gets EIO, the log the cause (with its traceback).
        except Exception as error:  # noqa: BLE001 - logged through self._log
            self._log(LOG.error, "remote file system: %s failed", name, exc_info=error)
            message = f"{_STRERROR(errno.EIO)} ({type(error).__name__} in the provider)"
            return "error", "OSError", errno.EIO, message, None, None

    def _perform(self, name: str, arguments: tuple[Value, ...]) -> Value:
        if name == "open":
            path, flags, mode = _checked((_path, _integer, _integer), arguments, name)
            return self._open(path, flags, mode)
        if name == "h.close":
            (number,) = _checked((_integer,), arguments, name)
            handle = self._handles.pop(number, None)
            if handle is not None:
                handle.close()
            return None
        operation = _FS.get(name)
        if operation is not None:
            kinds, call, result = operation
            return result(getattr(self.file_system, call)(*_checked(kinds, arguments, name)))
        operation = _HANDLE.get(name)
        if operation is None:
            raise BadRequest(f"unknown operation {name!r:.80}")
        kinds, call, result = operation
        if not arguments:
            raise BadRequest(f"{name}: no handle named")
        number = _integer(arguments[0])
        checked = _checked(kinds, arguments[1:], name)
        handle = self._handles.get(number)
        if handle is None:
            raise OSError(errno.EBADF, _STRERROR(errno.EBADF))
        return result(getattr(handle, call)(*checked))

    def _open(self, path: str, flags: int, mode: int) -> Value:
        if len(self._handles) >= MAX_HANDLES:
            raise OSError(errno.EMFILE, _STRERROR(errno.EMFILE))
        handle = self.file_system.open(path, flags, mode)
        self._next_id += 1
        self._handles[self._next_id] = handle
        return self._next_id, handle.flags

    def close(self) -> None:
        """Close every handle the peer left open, then the connection."""
        handles, self._handles = self._handles, {}
        for handle in handles.values():
            try:
                handle.close()
            except OSError as error:
                self._log(LOG.warning, "remote file system: closing a handle: %s", error)
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            _CLOSE(fd)


def _checked(
    kinds: tuple[Callable[[Value], Any], ...], arguments: tuple[Value, ...], name: str
) -> tuple[Any, ...]:
    if len(arguments) != len(kinds):
        raise BadRequest(f"{name} takes {len(kinds)} arguments, not {len(arguments)}")
    return tuple(kind(argument) for kind, argument in zip(kinds, arguments, strict=True))


def _os_error_reply(error: OSError) -> Value:
    return (
        "error",
        type(error).__name__,
        error.errno,
        error.strerror,
        _name(error.filename),
        _name(error.filename2),
    )


def _name(filename: object) -> Value:
    if filename is None or type(filename) in (str, bytes, int):
        return filename  # type: ignore[return-value]
    return str(filename)


def serve(
    file_system: FileSystem, fd: int, name: str = "vfs-remote-server", log: LogRunner | None = None
) -> threading.Thread:
    """Serve ``file_system`` on the connected stream socket ``fd`` (which it then owns) from
    a new daemon thread; ``log``: how it makes its logging calls (see :data:`LogRunner`)."""
    return FileSystemServer(file_system, fd, log).start(name)


def serve_pair(
    file_system: FileSystem, name: str = "vfs-remote-server", log: LogRunner | None = None
) -> int:
    """A new connected pair of stream sockets, one end served with ``file_system``; the other
    end's descriptor (close-on-exec, the caller's to hand on or to give to a
    :class:`~vfs.remote.RemoteFileSystem`)."""
    served, other = _SOCKETPAIR(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:  # both socket objects are closed if anything below fails
        served_fd = high_duplicate(served.fileno())
        try:
            serve(file_system, served_fd, name, log)
        except BaseException:
            _CLOSE(served_fd)
            raise
        return other.detach()
    finally:
        served.close()
        other.close()  # (nothing once detached)
