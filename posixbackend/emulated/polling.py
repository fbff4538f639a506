"""select.select, poll and epoll over the emulated descriptors (and the host's beside them).

A number in the emulated table is that descriptor: a pipe end reports its poll(2) events and
wakes the waiter when they may have changed; a regular file, a directory or an eventfd
reports what Linux reports for it; a host descriptor in the table (the standard streams, one
inherited) is polled on the host. A number the table does not have is a host socket's if
there is one (the socket module is the host's), else a bad descriptor; a socket object is
always the host's. A wait
that includes host descriptors or eventfds looks again every few milliseconds; one on pipes
alone sleeps until a pipe changes.
"""

from __future__ import annotations

import errno
import math
import posix
import select
import socket
import stat
import time
from collections.abc import Iterable
from typing import Any, Final

import compat
from posixbackend.emulated._eventfd import COUNTER_MAX, EventfdDescription
from posixbackend.emulated.core import BackendCore
from posixbackend.emulated.descriptions import Description, HostDescription, PipeDescription
from posixbackend.emulated.pipes import PipeReader, Readiness
from vfs.errors import os_error

REAL_SELECT: Final = select.select
REAL_POLL: Final = select.poll
REAL_EPOLL: Final = select.epoll
EPOLL_FLAGS: Final = select.EPOLLET | select.EPOLLONESHOT | select.EPOLLEXCLUSIVE
SLICE: Final = 0.005
"""Seconds between looks at host descriptors (and eventfds) while waiting on them."""
ALWAYS: Final = select.POLLIN | select.POLLRDNORM | select.POLLOUT | select.POLLWRNORM
"""What a regular file or directory reports: ready for everything (Linux's DEFAULT_POLLMASK)."""
REPORTED_ANYWAY: Final = select.POLLERR | select.POLLHUP | select.POLLNVAL
DEFAULT_MASK: Final = select.POLLIN | select.POLLPRI | select.POLLOUT
READ_SET: Final = (
    select.POLLIN | select.POLLRDNORM | select.POLLRDBAND | select.POLLHUP | (select.POLLERR)
)
WRITE_SET: Final = select.POLLOUT | select.POLLWRNORM | select.POLLWRBAND | select.POLLERR
EXCEPT_SET: Final = select.POLLPRI

NUMBERS = compat.declare(
    id="emulated.select.descriptor_numbers",
    function="select.select",
    aspect="descriptor numbers shared with host sockets",
    level=compat.Level.FINE,
    explanation="select and poll on the java backend take a number the emulated table has for "
    "that emulated descriptor, and any other number for a host one (a socket's); a socket "
    "whose real number is also an emulated descriptor's is only told apart when the socket "
    "object itself is passed",
)

EPOLL_FLAGS_GAP = compat.declare(
    id="emulated.select.epoll_flags",
    function="select.epoll.register",
    aspect="EPOLLET, EPOLLONESHOT and EPOLLEXCLUSIVE",
    level=compat.Level.FINE,
    explanation="epoll on the java backend is level-triggered only: a descriptor registered "
    "edge-triggered or one-shot is reported whenever it is ready, as without those flags",
)


Key = tuple[int, bool]
"""A descriptor as given: its number, and whether it is surely a host one (a socket object)."""


def descriptor_of(value: Any) -> Key:
    """(the descriptor number, whether it is surely a host one) of an int or fileno() object:
    CPython's conversion and errors."""
    host = isinstance(value, socket.socket)
    if isinstance(value, int):
        fd = value
    else:
        fileno = getattr(value, "fileno", None)
        if fileno is None:
            raise TypeError("argument must be an int, or have a fileno() method.")
        fd = fileno()
        if not isinstance(fd, int):
            raise TypeError("fileno() returned a non-integer")
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    if fd > 0x7FFFFFFF:
        raise OverflowError("fd is greater than maximum")
    return fd, host


def _emulated_events(description: Description) -> int:
    """The poll events an emulated description (no host one) reports now."""
    if isinstance(description, PipeDescription):
        return description.end.poll()
    if isinstance(description, EventfdDescription):
        value = description.counter.value
        readable = select.POLLIN | select.POLLRDNORM if value > 0 else 0
        return readable | (select.POLLOUT | select.POLLWRNORM if value < COUNTER_MAX else 0)
    return ALWAYS


def _real_pipe_fd(description: Description | None) -> int | None:
    """The parent's real descriptor behind a promoted pipe end, else None."""
    if not isinstance(description, PipeDescription):
        return None
    end = description.end
    real = end.pipe.real
    if real is None:
        return None
    fd = real.read_fd if isinstance(end, PipeReader) else real.write_fd
    return fd if fd >= 0 else None


class _Wait:
    """One poll(2) call: the descriptors sorted once (the call holds what they refer to, as
    Linux's does), pipe ends watched, the rest looked at in turn."""

    def __init__(self, backend: BackendCore, interest: dict[Key, int]) -> None:
        self.readiness = Readiness()
        self.emulated: list[tuple[Key, int, Description]] = []
        self.pipes: list[PipeDescription] = []
        self.host: dict[int, list[tuple[Key, int]]] = {}
        """Host descriptor number -> the keys and masks that watch it."""
        self.invalid: list[Key] = []
        files = backend._table.files
        for key, mask in interest.items():
            fd, is_host = key
            description = None if is_host else files.get(fd)
            real_fd = _real_pipe_fd(description)
            if isinstance(description, HostDescription):
                self.host.setdefault(description.fd, []).append((key, mask))
            elif real_fd is not None:  # a pipe shared with a child: the kernel's own states
                self.host.setdefault(real_fd, []).append((key, mask))
            elif description is not None:
                self.emulated.append((key, mask, description))
                if isinstance(description, PipeDescription):
                    self.pipes.append(description)
            elif is_host or _host_socket(fd):
                if not is_host:
                    NUMBERS.hit(fd=fd)
                self.host.setdefault(fd, []).append((key, mask))
            else:
                self.invalid.append(key)

    def __enter__(self) -> _Wait:
        for description in self.pipes:
            description.end.watch(self.readiness)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for description in self.pipes:
            description.end.unwatch(self.readiness)

    def ready(self, timeout: float) -> list[tuple[Key, int]]:
        """The descriptors with events now; the host ones are waited for up to ``timeout`` s
        when no other one is ready."""
        found = [(key, select.POLLNVAL) for key in self.invalid]
        for key, mask, description in self.emulated:
            events = _emulated_events(description) & (mask | REPORTED_ANYWAY)
            if events:
                found.append((key, events))
        if self.host:
            poller = REAL_POLL()
            for number, keys in self.host.items():
                poller.register(number, _union(mask for _, mask in keys))
            for number, events in poller.poll(0 if found else math.ceil(timeout * 1000)):
                for key, mask in self.host[number]:
                    shown = events & (mask | REPORTED_ANYWAY)
                    if shown:
                        found.append((key, shown))
        return found


def _union(masks: Iterable[int]) -> int:
    total = 0
    for mask in masks:
        total |= mask
    return total


def wait_for_events(wait: _Wait, timeout: float | None) -> list[tuple[Key, int]]:
    """poll(2) over what ``wait`` holds: the ready ones and their events, after ``timeout``
    seconds at most (None: until one is ready)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with wait:
        while True:
            seen = wait.readiness.sequence
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            step = SLICE if remaining is None else min(SLICE, remaining)
            found = wait.ready(step if wait.host else 0.0)
            if found or remaining == 0:
                return found
            if wait.host:
                continue  # the host's poll waited
            every_pipe = len(wait.pipes) == len(wait.emulated) and not any(
                description.end.pipe.real is not None for description in wait.pipes
            )  # a pipe promoted during the wait is looked at every slice
            wait.readiness.wait(seen, remaining if every_pipe else step)


class EmulatedPoll:
    """select.poll() for the java backend: register, modify, unregister and poll."""

    def __init__(self, backend: BackendCore) -> None:
        self._backend = backend
        self._registered: dict[Key, int] = {}
        self._polling = False

    def register(self, fd: Any, eventmask: int = DEFAULT_MASK, /) -> None:
        key = descriptor_of(fd)
        self._registered[key] = _mask(eventmask)

    def modify(self, fd: Any, eventmask: int, /) -> None:
        key = descriptor_of(fd)
        if key not in self._registered:
            raise os_error(errno.ENOENT)
        self._registered[key] = _mask(eventmask)

    def unregister(self, fd: Any, /) -> None:
        key = descriptor_of(fd)
        if key not in self._registered:
            raise KeyError(key[0])
        del self._registered[key]

    def poll(self, timeout: Any = None, /) -> list[tuple[int, int]]:
        seconds = _poll_timeout(timeout)
        if self._polling:
            raise RuntimeError("concurrent poll() invocation")
        self._polling = True
        try:
            found = wait_for_events(_Wait(self._backend, self._registered), seconds)
            return [(key[0], events) for key, events in found]
        finally:
            self._polling = False


class EmulatedEpoll:
    """select.epoll() for the java backend: level-triggered, over the same waits as poll.

    A real epoll object stands behind it for ``fileno()`` and closing; EPOLLET, EPOLLONESHOT
    and EPOLLEXCLUSIVE are accepted and ignored (gap ``emulated.select.epoll_flags``)."""

    def __init__(self, backend: BackendCore, sizehint: int = -1, flags: int = 0) -> None:
        self._real = REAL_EPOLL(sizehint, flags)
        self._backend = backend
        self._registered: dict[Key, int] = {}

    @property
    def closed(self) -> bool:
        return self._real.closed

    def fileno(self) -> int:
        return self._real.fileno()

    def close(self) -> None:
        self._real.close()
        self._registered.clear()

    def _open(self) -> None:
        if self._real.closed:
            raise ValueError("I/O operation on closed epoll object")

    def register(self, fd: Any, eventmask: int = DEFAULT_MASK) -> None:
        key = self._target(fd)
        if key in self._registered:
            raise os_error(errno.EEXIST)
        self._registered[key] = self._events(eventmask)

    def modify(self, fd: Any, eventmask: int) -> None:
        key = self._target(fd)
        if key not in self._registered:
            raise os_error(errno.ENOENT)
        self._registered[key] = self._events(eventmask)

    def unregister(self, fd: Any) -> None:
        key = self._target(fd)
        if key not in self._registered:
            raise os_error(errno.ENOENT)
        del self._registered[key]

    def _target(self, fd: Any) -> Key:
        """The key of a descriptor epoll_ctl(2) accepts: EBADF for none, EPERM for a regular
        file or directory (which epoll does not watch)."""
        self._open()
        key = descriptor_of(fd)
        description = None if key[1] else self._backend._table.files.get(key[0])
        if description is None:
            if not key[1] and not _host_socket(key[0]):
                raise os_error(errno.EBADF)
        elif _emulated_events(description) == ALWAYS:
            raise os_error(errno.EPERM)
        return key

    def poll(self, timeout: Any = None, maxevents: int = -1) -> list[tuple[int, int]]:
        self._open()
        seconds = None if timeout is None else float(timeout)
        if seconds is not None and seconds < 0:
            seconds = None
        found = wait_for_events(_Wait(self._backend, self._registered), seconds)
        if maxevents > 0:
            found = found[:maxevents]
        return [(key[0], events) for key, events in found]

    @staticmethod
    def _events(eventmask: Any) -> int:
        """The poll events of an epoll mask (its flags are ignored, and noted as a gap)."""
        mask = _integer(eventmask)
        if mask & EPOLL_FLAGS:
            EPOLL_FLAGS_GAP.hit()
        return mask & 0xFFFF

    def __enter__(self) -> EmulatedEpoll:
        self._open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _integer(value: Any) -> int:
    """``value`` if it is an int, else CPython's TypeError for an event mask."""
    if not isinstance(value, int):
        raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
    return value


def _mask(eventmask: Any) -> int:
    """A poll event mask: an int that fits an unsigned short."""
    mask = _integer(eventmask)
    if not 0 <= mask <= 0xFFFF:
        raise OverflowError("Python int too large for C unsigned short")
    return mask


def _poll_timeout(timeout: Any) -> float | None:
    """poll's timeout in ms (None or negative: forever), as seconds."""
    if timeout is None:
        return None
    if isinstance(timeout, float):
        milliseconds = math.ceil(timeout)
    elif isinstance(timeout, int):
        milliseconds = timeout
    else:
        raise TypeError("Timeout must be an integer or None")
    return None if milliseconds < 0 else milliseconds / 1000


def _host_socket(fd: int) -> bool:
    """Whether ``fd``, which the emulated table does not have, is a host socket (the only
    host descriptors a program on this backend reaches by number)."""
    try:
        return stat.S_ISSOCK(posix.fstat(fd).st_mode)
    except OSError:
        return False


class PollingFunctions(BackendCore):
    """select.select, select.poll and select.epoll, as the switch serves them here."""

    def select_select(
        self, rlist: Any, wlist: Any, xlist: Any, timeout: Any = None, /
    ) -> tuple[list[Any], list[Any], list[Any]]:
        """select.select over emulated and host descriptors (the objects given come back)."""
        seconds = _select_timeout(timeout)
        lists = []
        for given in (rlist, wlist, xlist):
            try:
                lists.append(list(given))
            except TypeError:
                raise TypeError("arguments 1-3 must be sequences") from None
        interest: dict[Key, int] = {}
        keys: list[list[tuple[Any, Key]]] = []
        events = (select.POLLIN, select.POLLOUT, select.POLLPRI)
        for objects, event in zip(lists, events, strict=True):
            keyed = []
            for obj in objects:
                key = descriptor_of(obj)
                interest[key] = interest.get(key, 0) | event
                keyed.append((obj, key))
            keys.append(keyed)
        wait = _Wait(self, interest)
        if wait.invalid:
            raise os_error(errno.EBADF)
        found = dict(wait_for_events(wait, seconds))
        return (
            [obj for obj, key in keys[0] if found.get(key, 0) & READ_SET],
            [obj for obj, key in keys[1] if found.get(key, 0) & WRITE_SET],
            [obj for obj, key in keys[2] if found.get(key, 0) & EXCEPT_SET],
        )

    def select_poll(self) -> EmulatedPoll:
        """select.poll(): a poll object over this backend's descriptors."""
        return EmulatedPoll(self)

    def select_epoll(self, sizehint: int = -1, flags: int = 0) -> EmulatedEpoll:
        """select.epoll(): an epoll object over this backend's descriptors."""
        return EmulatedEpoll(self, sizehint, flags)


def _select_timeout(timeout: Any) -> float | None:
    if timeout is None:
        return None
    try:
        seconds = float(timeout)
    except (TypeError, ValueError):
        raise TypeError("timeout must be a float or None") from None
    if seconds < 0:
        raise ValueError("timeout must be non-negative")
    return seconds
