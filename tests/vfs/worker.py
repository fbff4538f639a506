"""A child process that performs operations for the tests, as another user or inside a chroot.

Comparing permission semantics with real Linux needs the native side to run unprivileged (root
passes every check), and comparing absolute symbolic links needs the guest's ``/`` to be the
test directory; a forked child can do both (chroot and setuid need root in the parent).
"""

from __future__ import annotations

import builtins
import os
import pickle
import signal
import struct
from collections.abc import Callable
from typing import Any

from tests.vfs.ops import NativeOps, Ops

_HEADER = struct.Struct("=I")


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
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                os.close(self._to_child)
                os.close(self._from_child)
                for fd in Worker._live_fds:
                    os.close(fd)
                if chroot is not None:
                    os.chroot(chroot)
                    os.chdir("/")
                os.umask(umask)
                if uid is not None:
                    os.setgroups(list(groups))
                    os.setgid(gid if gid is not None else uid)
                    os.setuid(uid)
                self._serve(to_child_r, from_child_w, make_ops())
            except BaseException:  # noqa: BLE001 - the child must never return into pytest
                code = 1
            finally:
                os._exit(code)
        os.close(to_child_r)
        os.close(from_child_w)
        Worker._live_fds.update((self._to_child, self._from_child))
        self.pid = pid

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
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) != signal.SIGKILL:
            raise RuntimeError(f"worker died of signal {os.WTERMSIG(status)}")


def native_worker(root: str, uid: int | None = None, gid: int | None = None) -> Worker:
    """Native ``os`` on the directory ``root`` as the guest's ``/``: chrooted when we are root."""
    if os.geteuid() == 0:
        return Worker(NativeOps, chroot=root, uid=uid, gid=gid)
    return Worker(lambda: NativeOps(root), uid=uid, gid=gid)
