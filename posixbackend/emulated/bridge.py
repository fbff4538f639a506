"""Host descriptors for a child's emulated ones: the child's copy of the descriptor table, and
the pump threads joining in-memory pipes and files to host pipes.
"""

from __future__ import annotations

import abc
import fcntl
import os
import posix
import stat
import threading
from collections.abc import Iterable, Mapping
from typing import Final

import attrs

import compat
from posixbackend.emulated.descriptions import (
    Description,
    FileDescription,
    HostDescription,
    PipeDescription,
    is_directory,
)
from posixbackend.emulated.fdtable import FdTable
from posixbackend.emulated.hostfcntl import host_fcntl
from posixbackend.emulated.pipes import PipeReader
from vfs.host.handle import HostHandle
from vfs.openflags import O_ACCMODE

PUMPED_FDS = compat.declare(
    id="emulated.process.pumped_fds",
    function="subprocess.Popen",
    aspect="in-memory pipes and files",
    level=compat.Level.FINE,
    explanation="a file without a host descriptor behind it (a memory file) reaches a child "
    "through a host pipe and a pump thread: one direction only, not seekable, and the "
    "file's offset moves as the pump reads or writes (an emulated pipe becomes a real pipe "
    "shared with the child instead)",
)


UNPASSABLE_FDS = compat.declare(
    id="emulated.process.unpassable_fds",
    function="subprocess.Popen",
    aspect="open directories",
    level=compat.Level.INFO,
    explanation="an open directory without a host descriptor behind it cannot be given to a "
    "child, which does not get it",
)


CLOSED_STDIO = compat.declare(
    id="emulated.process.closed_stdio",
    function="subprocess.Popen",
    aspect="closed standard descriptors",
    level=compat.Level.FINE,
    explanation="a child whose descriptor 0, 1 or 2 would be closed gets /dev/null there",
)


POLL_INTERVAL: Final = 0.05
"""The longest pause between two looks at whether a child is gone (a blocking wait polls)."""


CHUNK: Final = 65536


class ChildFds:
    """The descriptor table a new child starts with: emulated descriptions, each held once (as
    the child's copy of the table would hold it) until the child has its host descriptors."""

    def __init__(self, table: FdTable) -> None:
        self.table = table
        self.fds: dict[int, Description] = {}
        self._cloexec: set[int] = set()
        """The child's descriptors that its exec closes (posix_spawn's file actions see them)."""
        self._held: dict[int, Description] = {}

    def _hold(self, description: Description) -> None:
        """Count one reference for the child (the caller holds the table's lock)."""
        if id(description) not in self._held:
            self.table.hold(description)
            self._held[id(description)] = description

    def copy(self, wanted: Mapping[int, int]) -> int | None:
        """Give the child ``fd`` as ``child_fd`` for each pair, all at once; the first ``fd``
        that is not open, if any (then nothing is taken)."""
        table = self.table
        with table.lock:
            files = table.files
            for fd in wanted.values():
                if fd not in files:
                    return fd
            for child_fd, fd in wanted.items():
                description = files[fd]
                self._hold(description)
                self.fds[child_fd] = description
        return None

    def copy_open(self, wanted: Mapping[int, int]) -> None:
        """Like :meth:`copy`, skipping the descriptors that are not open."""
        with self.table.lock:
            files = self.table.files
            for child_fd, fd in wanted.items():
                description = files.get(fd)
                if description is not None:
                    self._hold(description)
                    self.fds[child_fd] = description

    def copy_inheritable(self, excluded: Iterable[int] = ()) -> None:
        """Give the child every descriptor without close-on-exec, as exec would."""
        table = self.table
        skip = set(excluded)
        with table.lock:
            cloexec = table.cloexec_fds()
            for fd, description in table.files.items():
                if fd not in cloexec and fd not in skip:
                    self._hold(description)
                    self.fds[fd] = description

    def copy_all(self) -> None:
        """Give the child the whole table, close-on-exec flags included (a fork's copy)."""
        table = self.table
        with table.lock:
            for fd, description in table.files.items():
                self._hold(description)
                self.fds[fd] = description
            self._cloexec = table.cloexec_fds()

    def dup2(self, fd: int, target: int) -> bool:
        """The child's ``dup2(fd, target)`` (the target survives exec); False (EBADF) if it has
        no ``fd``."""
        description = self.fds.get(fd)
        if description is None:
            return False
        self.fds[target] = description
        self._cloexec.discard(target)
        return True

    def close(self, fd: int) -> None:
        """The child's ``close(fd)``; closing a closed descriptor does nothing (as glibc's
        posix_spawn ignores it)."""
        self.fds.pop(fd, None)
        self._cloexec.discard(fd)

    def close_from(self, low: int) -> None:
        for fd in [fd for fd in self.fds if fd >= low]:
            self.close(fd)

    def adopt(self, child_fd: int, description: Description, *, cloexec: bool) -> None:
        """Give the child a description opened for it alone (its reference becomes the hold)."""
        self.close(child_fd)
        self._held[id(description)] = description
        self.fds[child_fd] = description
        if cloexec:
            self._cloexec.add(child_fd)

    def exec(self) -> None:
        """The child's exec: its close-on-exec descriptors go."""
        for fd in self._cloexec:
            self.fds.pop(fd, None)
        self._cloexec = set()

    def take(self) -> tuple[dict[int, Description], list[Description]]:
        """The child's table and the holds it keeps (the bridge drops them); others go now."""
        used = {id(description) for description in self.fds.values()}
        for key, description in list(self._held.items()):
            if key not in used:
                del self._held[key]
                self.table.drop(description)
        held = list(self._held.values())
        self._held = {}
        return dict(self.fds), held

    def abandon(self) -> None:
        """Nothing will be started: let go of every hold."""
        held, self._held = self._held, {}
        self.fds = {}
        for description in held.values():
            self.table.drop(description)


class Pump(abc.ABC):
    """A daemon thread copying between a host pipe end and an emulated description until
    either side is gone; then it closes its host end and lets go of the description, so end of
    file or EPIPE reaches the other side as they would from a dead child's descriptor."""

    def __init__(self, table: FdTable, description: Description, host_fd: int, name: str) -> None:
        self._table = table
        self._description = description
        self._fd = host_fd
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def into_file(self) -> bool:
        """Whether it writes into something that is not a pipe (a file someone will read)."""
        return False

    def _run(self) -> None:
        try:
            self._copy()
        finally:
            posix.close(self._fd)
            self._table.drop(self._description)

    @abc.abstractmethod
    def _copy(self) -> None:
        """Copy until either side is gone."""

    def abandon(self) -> None:
        """Never started: close the host end (the description's hold is the bridge's)."""
        posix.close(self._fd)


class InputPump(Pump):
    """Emulated description -> host pipe: what the child reads."""

    def _copy(self) -> None:
        description = self._description
        while True:
            try:
                data = description.read(CHUNK)
            except OSError:  # the description cannot be read: the child sees end of file
                return
            if not data or not _write_host(self._fd, data):
                return


class OutputPump(Pump):
    """Host pipe -> emulated description: what the child writes."""

    @property
    def into_file(self) -> bool:
        return True  # pipes are shared as real ones (see StdioBridge._real_pipe_end)

    def _copy(self) -> None:
        description = self._description
        while data := posix.read(self._fd, CHUNK):
            if not _write_emulated(description, data):
                return  # its reader is gone: the child gets EPIPE once this end closes


def _write_host(fd: int, data: bytes) -> bool:
    """Write all of ``data`` to a host pipe; False if its reader is gone."""
    view = memoryview(data)
    try:
        while view:
            view = view[posix.write(fd, view) :]
    except BrokenPipeError:
        return False
    return True


def _write_emulated(description: Description, data: bytes) -> bool:
    """Write all of ``data`` to an emulated description; False when it cannot take more (an
    error such as ENOSPC)."""
    view = memoryview(data)
    try:
        while view:
            view = view[description.write(bytes(view)) :]
    except OSError:
        return False
    return True


@attrs.frozen
class OffsetSync:
    """A host file given to a child: its descriptor shares the offset with the handle's, so the
    description takes the offset back when the child is reaped (if the child moved it)."""

    description: FileDescription
    handle: HostHandle
    offset: int

    def apply(self) -> None:
        if self.handle.closed:
            return
        try:
            now = posix.lseek(self.handle.fd, 0, os.SEEK_CUR)
        except OSError:  # closed meanwhile: nobody is left to see the offset
            return
        if now != self.offset:
            self.description.seek(now, os.SEEK_SET)


class StdioBridge:
    """Host descriptors for a child's emulated ones (see the module docstring).

    It owns the child table's holds: those of descriptions handed over directly are dropped
    once the child is started, those of pumped ones by their pumps; :meth:`abandon` undoes
    everything when no child was started.
    """

    def __init__(
        self, table: FdTable, fds: Mapping[int, Description], held: list[Description]
    ) -> None:
        self._table = table
        self._fds = fds
        self._held = held
        self._opened: list[int] = []
        """Host descriptors the parent closes once the child has its own copies."""
        self._pumps: list[Pump] = []
        self._pumped: set[int] = set()
        self._devnull = -1
        self.syncs: list[OffsetSync] = []

    def open(self) -> dict[int, int]:
        """child fd -> host fd; descriptors 0, 1 and 2 are always there."""
        host: dict[int, int] = {}
        shared: dict[int, int | None] = {}
        for child_fd in sorted({0, 1, 2} | set(self._fds)):
            description = self._fds.get(child_fd)
            real = None
            if description is not None:
                key = id(description)
                if key not in shared:
                    shared[key] = self._host_fd(description, child_fd)
                real = shared[key]
            if real is None and child_fd < 3:
                real = self._null(child_fd)
            if real is not None:
                host[child_fd] = real
        return host

    def started(self) -> list[Pump]:
        """The child has its descriptors: close the parent's copies, start the pumps; the
        pumps that write into files (which a reap waits for)."""
        for fd in self._opened:
            posix.close(fd)
        self._opened = []
        for description in self._held:
            if id(description) not in self._pumped:
                self._table.drop(description)
        self._held = []
        for pump in self._pumps:
            pump.thread.start()
        return [pump for pump in self._pumps if pump.into_file]

    def abandon(self) -> None:
        """No child: close every host descriptor made and let go of every hold."""
        for fd in self._opened:
            posix.close(fd)
        for pump in self._pumps:
            pump.abandon()
        for description in self._held:
            self._table.drop(description)
        self._opened, self._pumps, self._held = [], [], []

    def _host_fd(self, description: Description, child_fd: int) -> int | None:
        if isinstance(description, HostDescription):
            return description.fd
        handle = description.handle
        if isinstance(description, FileDescription) and isinstance(handle, HostHandle):
            return self._host_file(description, handle)
        if is_directory(description):
            UNPASSABLE_FDS.hit(fd=child_fd)
            return None
        if isinstance(description, PipeDescription):
            return self._real_pipe_end(description)
        return self._pump(description, child_fd)

    def _real_pipe_end(self, description: PipeDescription) -> int:
        """A duplicate of the real pipe end behind ``description``, promoting its pipe first:
        parent and child then share one kernel pipe."""
        end = description.end
        real = end.pipe.promote()
        fd = real.read_fd if isinstance(end, PipeReader) else real.write_fd
        copy = host_fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
        self._opened.append(copy)
        return copy

    def _host_file(self, description: FileDescription, handle: HostHandle) -> int:
        """A duplicate of a host file's descriptor, at the description's offset."""
        copy = host_fcntl(handle.fd, fcntl.F_DUPFD_CLOEXEC, 3)
        self._opened.append(copy)
        if not stat.S_ISREG(posix.fstat(copy).st_mode):
            return copy
        offset = description.offset
        posix.lseek(copy, offset, os.SEEK_SET)
        self.syncs.append(OffsetSync(description, handle, offset))
        return copy

    def _pump(self, description: Description, child_fd: int) -> int:
        """One end of a new host pipe; a pump copies between the other end and ``description``."""
        PUMPED_FDS.hit(fd=child_fd)
        read_end, write_end = posix.pipe2(posix.O_CLOEXEC)
        name = f"posixbackend-pump-{child_fd}"
        if _is_input(description, child_fd):
            self._opened.append(read_end)
            self._pumps.append(InputPump(self._table, description, write_end, name))
            child_end = read_end
        else:
            self._opened.append(write_end)
            self._pumps.append(OutputPump(self._table, description, read_end, name))
            child_end = write_end
        self._pumped.add(id(description))
        return child_end

    def _null(self, child_fd: int) -> int:
        CLOSED_STDIO.hit(fd=child_fd)
        if self._devnull < 0:
            self._devnull = posix.open(os.devnull, posix.O_RDWR | posix.O_CLOEXEC)
            self._opened.append(self._devnull)
        return self._devnull


def _is_input(description: Description, child_fd: int) -> bool:
    """Whether the child reads through a pumped descriptor (a file): standard input, or a file
    opened read-only at another number."""
    if child_fd in (1, 2):
        return False
    return child_fd == 0 or description.flags & O_ACCMODE == posix.O_RDONLY
