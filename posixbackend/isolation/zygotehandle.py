"""The pool's side of a zygote: starting it, having it fork a child, and reaping through it.

:class:`ZygoteProcess` starts the zygote (:mod:`posixbackend.isolation.zygote`) and speaks to
it one exchange at a time under a lock, each with a deadline: a zygote that does not answer
in time, answers nonsense or is gone is *lost* (:class:`ZygoteLost`): killed, reaped, and
every child it had ends with it (their parent-death signal). The pool then starts another.

A child forked by the zygote (:class:`ZygoteChild`) is watched as
:func:`~posixbackend.isolation.run_isolated` watches its own: through a pidfd opened while
the zygote holds the child unreaped (so it names that process and no other), readable when
it exits; it is killed with SIGKILL to its process group (and through the pidfd, which stays
safe once the zygote is lost and the child may be reaped by init); its wait status and CPU
time come from the zygote's wait4, which the guest cannot influence.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from typing import Final

from posixbackend.isolation import zygotewire as wire
from posixbackend.isolation.interpreterview import isolated_view_json
from posixbackend.isolation.runner import ChildEnds, IsolationError, import_roots

ZYGOTE_BOOTSTRAP = """\
import sys
control, view, spares = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
preload = tuple(filter(None, sys.argv[4].split(",")))
sys.path.extend(sys.argv[5:])
del sys.argv[1:]
from posixbackend.isolation.zygote import main
main(control, view, spares, preload)
"""
"""What the zygote's interpreter runs (its arguments: its end of the control socket, the host
view its children confine themselves to, how many spare children it keeps, the modules it
imports for its guests, comma-separated (names checked by
:func:`~posixbackend.isolation.zygotewire.preload_names`), the directories to import this
library from)."""
START_SECONDS: Final = 60.0
"""How long a zygote may take to warm up."""
ANSWER_SECONDS: Final = 30.0
"""How long one answer of a running zygote may take (a fork, or a wait4 of a child that was
killed and seen to exit)."""
ENDING_SECONDS: Final = 0.5
"""How long a zygote that failed to answer is given to end by itself before it is killed."""
STOP_SECONDS: Final = 10.0
"""How long a zygote whose control socket closed may take to end its children and exit."""


class ZygoteLost(IsolationError):
    """The zygote died, or stopped answering as it should: its children are gone with it."""


class ZygoteProcess:
    """One running zygote and the control socket to it."""

    def __init__(self, spares: int = 0, preload: tuple[str, ...] = ()) -> None:
        """Start a zygote that keeps ``spares`` children forked and isolated ahead of the
        requests and imports the modules ``preload`` names before it forks any (see
        :mod:`posixbackend.isolation.zygote`)."""
        preload = wire.preload_names(preload)  # (checked again: they become one argument)
        if getattr(os, "pidfd_open", None) is None:
            raise IsolationError("a pool needs os.pidfd_open (Linux 5.3 and Python 3.9 or later)")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", "-c", ZYGOTE_BOOTSTRAP,
                 str(theirs.fileno()), isolated_view_json(), str(spares), ",".join(preload),
                 *import_roots()],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), env={}, cwd="/",
                start_new_session=True,
            )  # fmt: skip
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.control = ours
        self.lock = threading.Lock()
        self.lost: str | None = None
        """Why the zygote is lost, once it is."""
        try:
            with self.lock:
                answer = self._receive(START_SECONDS)
            if answer[:1] == wire.BROKEN:
                raise self._lose(
                    "the zygote could not warm up:\n" + answer[1:].decode(errors="replace")
                )
            if answer != wire.READY:
                raise self._lose(f"the zygote started with {answer[:40]!r}")
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def spawn(self, ends: ChildEnds) -> ZygoteChild:
        """Have the zygote fork a child with ``ends``; ZygoteLost if it cannot answer, OSError
        if its fork failed."""
        fds = [ends.stdin, ends.stdout, ends.stderr, ends.request, ends.result]
        with self.lock:
            self._check()
            try:
                socket.send_fds(self.control, [wire.SPAWN], fds)
            except OSError as error:
                raise self._lose(f"the zygote's control socket failed: {error}") from None
            answer = self._receive(ANSWER_SECONDS)
            if answer[:1] == wire.SPAWN_FAILED:
                code = wire.read_pid(answer, wire.SPAWN_FAILED)
                raise OSError(code, f"the zygote could not fork: {os.strerror(code)}")
            try:
                pid = wire.read_pid(answer, wire.SPAWNED)
            except ValueError as error:
                raise self._lose(str(error)) from None
            # The zygote holds the child unreaped: this pidfd names it and no other process.
            try:
                pidfd = os.pidfd_open(pid)
            except OSError:  # (out of descriptors): the child must not outlive this call
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                self._reap(pid)
                raise
            return ZygoteChild(pid, pidfd, self)

    def reap(self, pid: int) -> tuple[int, float]:
        """Have the zygote reap ``pid`` (which has exited or been killed): its wait status and
        CPU seconds; ZygoteLost if the zygote cannot tell."""
        with self.lock:
            return self._reap(pid)

    @property
    def alive(self) -> bool:
        """Whether the zygote is not known to be lost."""
        return self.lost is None and self.process.poll() is None

    def close(self) -> None:
        """Stop the zygote (it kills and reaps its children) and reap it; kill it if it takes
        longer than :data:`STOP_SECONDS`."""
        self.control.close()
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """End the zygote now (its children die with it) and reap it."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()

    # -- under the lock -------------------------------------------------------------------

    def _reap(self, pid: int) -> tuple[int, float]:
        self._check()
        try:
            self.control.send(wire.pid_message(wire.REAP, pid))
        except OSError as error:
            raise self._lose(f"the zygote's control socket failed: {error}") from None
        answer = self._receive(ANSWER_SECONDS)
        if answer[:1] != wire.REAPED or len(answer) != 1 + wire.REAP_RESULT.size:
            raise self._lose(f"the zygote answered a reap with {answer[:40]!r}")
        reaped, status, user, system = wire.REAP_RESULT.unpack(answer[1:])
        if reaped != pid:
            raise self._lose(f"the zygote reaped {reaped} when asked for {pid}")
        return status, user + system

    def _check(self) -> None:
        if self.lost is not None:
            raise ZygoteLost(self.lost)

    def _receive(self, seconds: float) -> bytes:
        """The zygote's next record, within ``seconds``; ZygoteLost otherwise."""
        try:
            ready, _, _ = select.select([self.control], [], [], seconds)
            if not ready:
                raise self._lose(f"the zygote did not answer within {seconds:g} s")
            answer = self.control.recv(wire.MAX_MESSAGE)
        except OSError as error:
            raise self._lose(f"the zygote's control socket failed: {error}") from None
        if not answer:
            raise self._lose("the zygote ended")
        return answer

    def _lose(self, why: str) -> ZygoteLost:
        """Mark the zygote lost for ``why``, end it and reap it: the error to raise."""
        if self.lost is None:
            try:  # a zygote that broke its socket is ending: its status says how
                status = self.process.wait(ENDING_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                self.lost = f"{why}; the pool killed the zygote"
            else:
                if status < 0:
                    self.lost = f"{why}; the zygote was killed by {_signal_name(-status)}"
                else:
                    self.lost = f"{why}; the zygote exited with status {status}"
        return ZygoteLost(self.lost)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class ZygoteChild:
    """A child the zygote forked, as the supervision watches it (a runner ``Started``).

    :meth:`kill` may come from another thread (a pool's shutdown) while :meth:`reap` runs: a
    lock keeps it from signalling once the reap began, when the pidfd may be closed and its
    number, or the pid, taken by something else."""

    def __init__(self, pid: int, pidfd: int, zygote: ZygoteProcess) -> None:
        self._pid = pid
        self.pidfd = pidfd
        self.zygote = zygote
        self._lock = threading.Lock()
        self._reaping = False

    @property
    def pid(self) -> int:
        return self._pid

    def exit_descriptor(self) -> int | None:
        return os.dup(self.pidfd)

    def has_exited(self, exit_fd: int | None) -> bool:
        if exit_fd is not None and exit_fd >= 0:
            return False  # the pidfd says so when it does
        ready, _, _ = select.select([self.pidfd], [], [], 0)
        return bool(ready)

    def kill(self) -> None:
        """SIGKILL through the pidfd (always this process), and to its group while the
        zygote still holds it unreaped (the group is the child alone: it can start nothing)."""
        with self._lock:
            if self._reaping:
                return
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            if self.zygote.alive:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._pid, signal.SIGKILL)

    def reap(self) -> tuple[int, float]:
        with self._lock:
            self._reaping = True
        try:
            return self.zygote.reap(self._pid)
        finally:
            os.close(self.pidfd)
