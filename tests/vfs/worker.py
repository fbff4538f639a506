"""A child process that performs operations for the tests, as another user or inside a chroot.

Comparing permission semantics with real Linux needs the native side to run unprivileged (root
passes every check), and comparing absolute symbolic links needs the guest's ``/`` to be the
test directory; a forked child can do both (chroot and setuid need root in the parent).

A worker whose set-up pickles is forked by a :class:`ForkServer`, a small interpreter started
once per test process: a fork of the test process itself costs what its memory costs (a
pytest worker that ran a few thousand tests holds hundreds of MB: ~40 ms per worker, against
~4 ms for a small one), and the stateful machines start three workers per example.
"""

from __future__ import annotations

import builtins
import functools
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from tests.vfs.ops import NativeOps, Ops

_HEADER = struct.Struct("=I")
Setup = tuple[Callable[[], Ops], str | None, int | None, int | None, tuple[int, ...], int]
"""A worker's set-up: make_ops, chroot, uid, gid, groups, umask."""


def _send(fd: int, obj: Any) -> None:
    payload = pickle.dumps(obj)
    data = _HEADER.pack(len(payload)) + payload
    while data:
        data = data[os.write(fd, data) :]


def _receive(fd: int) -> Any:
    def exactly(n: int) -> bytes:
        chunks = b""
        while len(chunks) < n:
            chunk = os.read(fd, n - len(chunks))
            if not chunk:
                raise EOFError("worker pipe closed")
            chunks += chunk
        return chunks

    (size,) = _HEADER.unpack(exactly(_HEADER.size))
    return pickle.loads(exactly(size))


class Worker:
    """Runs ``make_ops()`` in a forked child (chrooted to ``chroot``, as ``uid``/``gid``, with
    ``umask``: 0 for native calls, so that modes are the ones asked for).

    A child closes the pipes of every other live worker it inherited, and leaves when told to
    (not on end of file, which a sibling holding a copy of the pipe would delay forever).
    """

    _live_fds: set[int] = set()

    def __init__(
        self,
        make_ops: Callable[[], Ops],
        *,
        chroot: str | None = None,
        uid: int | None = None,
        gid: int | None = None,
        groups: tuple[int, ...] = (),
        umask: int = 0,
    ) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        setup = (make_ops, chroot, uid, gid, tuple(groups), umask)
        try:
            message = pickle.dumps(setup)
        except (pickle.PicklingError, AttributeError, TypeError):  # a closure: forked here
            message = None
        self._server = ForkServer.running() if message is not None else None
        pid = None
        if self._server is not None and message is not None:
            pid = self._server.fork(message, to_child_r, from_child_w)
            if pid is None:  # the server could not unpickle it: forked here
                self._server = None
        if pid is None:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child
                for fd in (self._to_child, self._from_child, *Worker._live_fds):
                    os.close(fd)
                Worker._child(to_child_r, from_child_w, setup)
        os.close(to_child_r)
        os.close(from_child_w)
        Worker._live_fds.update((self._to_child, self._from_child))
        self.pid = pid

    @staticmethod
    def _child(requests: int, replies: int, setup: Setup) -> None:  # pragma: no cover - child
        """The worker's life, in the forked child: confine, serve, leave (never returns)."""
        code = 0
        try:
            make_ops, chroot, uid, gid, groups, umask = setup
            if chroot is not None:
                os.chroot(chroot)
                os.chdir("/")
            os.umask(umask)
            if uid is not None:
                os.setgroups(list(groups))
                os.setgid(gid if gid is not None else uid)
                os.setuid(uid)
            Worker._serve(requests, replies, make_ops())
        except BaseException:  # noqa: BLE001 - the child must never return into its parent
            code = 1
        finally:
            os._exit(code)

    @staticmethod
    def _serve(requests: int, replies: int, ops: Ops) -> None:  # pragma: no cover - child
        guest = getattr(ops, "guest", lambda name: name)
        while True:
            try:
                name, args = _receive(requests)
            except EOFError:
                return
            if name is None:
                return
            try:
                reply: tuple[Any, ...] = ("ok", ops.call(name, args))
            except OSError as error:
                reply = (
                    "oserror",
                    error.errno,
                    error.strerror,
                    guest(error.filename),
                    guest(error.filename2),
                )
            except Exception as error:  # noqa: BLE001 - every failure goes back to be compared
                reply = ("exception", type(error).__name__, str(error))
            _send(replies, reply)

    def call(self, name: str, args: tuple[Any, ...]) -> Any:
        """Run one operation in the child; its exception is raised here."""
        return self.post(name, args)()

    def post(self, name: str, args: tuple[Any, ...]) -> Callable[[], Any]:
        """Start one operation in the child and return what waits for its outcome (the
        result, or its exception raised): the caller works meanwhile, e.g. posts to other
        workers. One operation at a time per worker: wait before posting the next."""
        _send(self._to_child, (name, args))
        return self._outcome

    def _outcome(self) -> Any:
        reply = _receive(self._from_child)
        if reply[0] == "ok":
            return reply[1]
        if reply[0] == "oserror":
            _, code, message, filename, filename2 = reply
            raise OSError(code, message, filename, None, filename2)
        _, type_name, message = reply
        exception_type = getattr(builtins, type_name, RuntimeError)
        raise exception_type(message)

    def close(self) -> None:
        try:
            _send(self._to_child, (None, ()))
        except OSError:  # the child is already gone
            pass
        Worker._live_fds.difference_update((self._to_child, self._from_child))
        os.close(self._to_child)
        os.close(self._from_child)
        if self._server is not None:
            status = self._server.wait(self.pid)
        else:
            try:
                _, status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                return
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) != signal.SIGKILL:
            raise RuntimeError(f"worker died of signal {os.WTERMSIG(status)}")


class ForkServer:
    """A fresh interpreter that forks workers for this process: asked over a Unix socket
    (the set-up pickled, the worker's two pipe ends passed along), it forks, and later reaps
    the worker and answers its exit status. One per test process (made again after a fork)."""

    _running: ForkServer | None = None

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        code = (
            f"import sys; sys.path[:0] = {sys.path!r}; "
            f"from tests.vfs.worker import ForkServer; ForkServer.serve({theirs.fileno()})"
        )
        self._process = subprocess.Popen(
            [sys.executable, "-c", code], pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL
        )
        theirs.close()
        self._socket = ours
        self._owner = os.getpid()
        self._lock = threading.Lock()

    @classmethod
    def running(cls) -> ForkServer:
        """This process's server (started on first use)."""
        server = cls._running
        if server is None or server._owner != os.getpid():
            server = cls._running = cls()
        return server

    def _ask(self, request: tuple[Any, ...], fds: tuple[int, ...] = ()) -> Any:
        with self._lock:  # one question and its answer at a time
            socket.send_fds(self._socket, [pickle.dumps(request)], list(fds))
            reply = self._socket.recv(4096)
        if not reply:
            raise RuntimeError(f"the fork server ended (status {self._process.poll()})")
        return pickle.loads(reply)

    def fork(self, setup: bytes, requests: int, replies: int) -> int | None:
        """A worker made from the pickled ``setup``, serving on these pipe ends: its pid
        (None if the server cannot unpickle the set-up)."""
        pid: int | None = self._ask(("fork", setup), (requests, replies))
        return pid

    def wait(self, pid: int) -> int:
        """The worker's wait status, once it has ended."""
        status: int = self._ask(("wait", pid))
        return status

    @staticmethod
    def serve(fd: int) -> None:  # pragma: no cover - runs in the server
        """The server's loop, until its test process closes the socket."""
        channel = socket.socket(fileno=fd)
        while True:
            message, fds, _, _ = socket.recv_fds(channel, 1 << 20, 2)
            if not message:
                return
            request = pickle.loads(message)
            if request[0] == "fork":
                try:
                    setup = pickle.loads(request[1])
                except Exception:  # noqa: BLE001 - e.g. a module the server cannot import
                    pid = None  # (the test process forks this one itself)
                else:
                    pid = os.fork()
                    if pid == 0:
                        channel.close()
                        Worker._child(fds[0], fds[1], setup)
                for received in fds:
                    os.close(received)
                channel.send(pickle.dumps(pid))
            else:
                _, status = os.waitpid(request[1], 0)
                channel.send(pickle.dumps(status))


def native_worker(root: str, uid: int | None = None, gid: int | None = None) -> Worker:
    """Native ``os`` on the directory ``root`` as the guest's ``/``: chrooted when we are root."""
    if os.geteuid() == 0:
        return Worker(NativeOps, chroot=root, uid=uid, gid=gid)
    return Worker(functools.partial(NativeOps, root), uid=uid, gid=gid)
