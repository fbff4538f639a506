"""The supervisor: a parent process that runs no guest code, outside the guest's reach.

Forked before the launcher confines itself and before any thread exists. The child goes on
to be the guest (confined, running the program); the parent stays unconfined, runs only the
code of this module (no program code: it returns from no function of the launcher's) and
watches the guest:

- it mirrors how the guest ended: its exit status, or death by the same signal (raised on
  itself, core dumps off);
- at the time limit plus the grace period (and a little slack, so the guest's own ending at
  that moment comes first) it kills the guest and everything the guest started -- as a
  child subreaper, the guest's orphans are its children, so killing its children until none
  is left reaches them all, and no process id it kills can have been reused -- says the
  launcher's one line unless the guest said it, and exits with 124; a guest that ended past
  its limit has what it left running killed the same way;
- it ignores the terminal's SIGINT and SIGQUIT (the terminal sends them to the guest too,
  which reacts as a plain python would) and forwards SIGTERM and SIGHUP to the guest;
- it removes what the confined guest could not (a directory of the launcher's).

The guest gets PR_SET_PDEATHSIG, so a supervisor that is killed takes it along.
"""

from __future__ import annotations

import contextlib
import os
import posix
import resource
import signal
import time
from collections.abc import Sequence
from typing import NamedTuple, NoReturn

from posixbackend.isolation.libc import prctl
from posixbackend.launcher.removal import remove_tree

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
TIME_LIMIT_STATUS = 124
SLACK = 0.25
"""Seconds the supervisor waits past the guest's own deadline (limit + grace) before it
kills: the guest ending itself then, with its output flushed, comes first."""
WATCHED = frozenset({signal.SIGCHLD, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP})
FORWARDED = frozenset({signal.SIGTERM, signal.SIGHUP})
KILL_ROUNDS = 1000
"""Rounds of killing children at most (each reaches one more generation of the tree)."""


class GuestLink(NamedTuple):
    """The guest's side: the write end of a pipe to the supervisor, written once the guest
    printed the time limit's message itself (so the supervisor does not print it again)."""

    said: int

    def message_printed(self) -> None:
        with contextlib.suppress(OSError):
            posix.write(self.said, b"!")


class Watch(NamedTuple):
    """What the supervisor watches for."""

    guest: int
    started: float
    """When the guest was forked (time.monotonic, the same clock in every process)."""
    limit: float | None
    grace: float
    message: str
    said: int
    """The read end of the guest's pipe (readable once the guest printed the message)."""
    cleanup: tuple[str, ...]


def supervise(
    limit: float | None, grace: float, message: str, cleanup: Sequence[str] = ()
) -> GuestLink:
    """Fork the supervisor: in the guest (the child), return its link; the parent supervises
    and never returns (OSError if the fork is refused). ``limit``: the time limit in seconds
    (None: none); ``message``: the line for a guest killed at its limit; ``cleanup``: host
    directories removed at the end."""
    said_read, said_write = posix.pipe2(posix.O_CLOEXEC)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # a SIG_IGN inherited would reap the guest
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
    started = time.monotonic()
    parent = posix.getpid()
    try:
        guest = posix.fork()
    except BaseException:  # refused (by permissions a parent handed on): no supervisor
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        for fd in (said_read, said_write):
            posix.close(fd)
        raise
    if guest == 0:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if posix.getppid() != parent:  # the supervisor died before the line above
            posix._exit(TIME_LIMIT_STATUS if limit is not None else 1)
        posix.close(said_read)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        return GuestLink(said_write)
    posix.close(said_write)
    try:
        run(Watch(guest, started, limit, grace, message, said_read, tuple(cleanup)))
    finally:  # only an error of the supervisor's own gets here: the guest must not outlive it
        with contextlib.suppress(ProcessLookupError):
            posix.kill(guest, signal.SIGKILL)
        posix._exit(1)


def run(watch: Watch) -> NoReturn:
    """Supervise the guest to its end (the signals of :data:`WATCHED` blocked)."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    _let_go_of_descriptors(watch.said)
    deadline = None if watch.limit is None else watch.started + watch.limit + watch.grace + SLACK
    status: int | None = None
    while status is None:
        info: signal.struct_siginfo | None
        if deadline is None:
            info = signal.sigwaitinfo(WATCHED)
        else:
            info = signal.sigtimedwait(WATCHED, max(0.0, deadline - time.monotonic()))
        if info is None:  # the deadline: the guest is still running
            _kill_descendants()
            if not _guest_said_it(watch.said):
                with contextlib.suppress(OSError):
                    posix.write(2, f"{watch.message}\n".encode())
            _clean_up(watch.cleanup)
            posix._exit(TIME_LIMIT_STATUS)
        if info.si_signo == signal.SIGCHLD:
            status = _reap(watch.guest)
        elif info.si_signo in FORWARDED:
            with contextlib.suppress(ProcessLookupError):
                posix.kill(watch.guest, info.si_signo)
    if watch.limit is not None and time.monotonic() >= watch.started + watch.limit:
        _kill_descendants()  # out of time: what the guest left running goes with it
    _clean_up(watch.cleanup)
    _mirror(status)


def _let_go_of_descriptors(kept: int) -> None:
    """Hold no end of the guest's pipes but stderr (for the message): a reader of its
    stdout sees the end when the guest closes it, not when the supervisor exits."""
    null = posix.open("/dev/null", posix.O_RDWR)
    for fd in (0, 1):
        posix.dup2(null, fd)
    highest = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    posix.closerange(3, kept)
    posix.closerange(kept + 1, max(highest, kept + 1))


def _guest_said_it(said: int) -> bool:
    """Whether the guest wrote to its pipe (it printed the message itself)."""
    posix.set_blocking(said, False)
    try:
        return bool(posix.read(said, 1))
    except BlockingIOError:
        return False


def _reap(guest: int) -> int | None:
    """Reap every child that ended (orphans of the guest too); the guest's wait status if
    it is one of them."""
    found = None
    while True:
        try:
            pid, status = posix.waitpid(-1, posix.WNOHANG)
        except ChildProcessError:
            return found
        if pid == 0:
            return found
        if pid == guest:
            found = status


def _children() -> list[int]:
    """This process's children, zombies included: a zombie may be a process whose other
    threads are still exiting, and its own children come to this subreaper only once the
    last of them has (they are the process's children until then)."""
    me = str(posix.getpid()).encode()
    found = []
    for name in posix.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fd = posix.open(f"/proc/{name}/stat", posix.O_RDONLY | posix.O_CLOEXEC)
        except OSError:  # it ended while we looked
            continue
        try:
            fields = posix.read(fd, 4096).rpartition(b")")[2].split()
        except OSError:
            continue
        finally:
            posix.close(fd)
        if fields[1] == me:
            found.append(int(name))
    return found


def _kill_descendants() -> None:
    """SIGKILL every descendant: the children, then the orphans they leave, which come to
    this subreaper, until none is left, reaped or not. Only children are killed, and a
    child's id cannot be reused before it is reaped here."""
    for _ in range(KILL_ROUNDS):
        children = _children()
        if not children:
            return
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                posix.kill(pid, signal.SIGKILL)
        time.sleep(0.002)
        _reap(-1)


def _clean_up(paths: Sequence[str]) -> None:
    for path in paths:
        remove_tree(path)  # through descriptors: a symlink the guest swaps in is not followed


def _mirror(status: int) -> NoReturn:
    """End as the guest did: its exit status, or death by its signal."""
    if os.WIFEXITED(status):
        posix._exit(os.WEXITSTATUS(status))
    number = os.WTERMSIG(status)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if number not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(number, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {number})
    posix.kill(posix.getpid(), number)
    posix._exit(128 + number)  # a signal whose default is not to end a process
