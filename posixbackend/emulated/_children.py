"""The children a backend started: what was asked for, their handler processes, and reaping."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Final

import attrs

from posixbackend.emulated.bridge import OffsetSync, Pump
from posixbackend.emulated.processhandlers import (
    ChildProcess,
    ProcessCommand,
)

FILE_PUMP_JOIN: Final = 1.0
"""How long a reap waits for the pumps writing a child's output into files."""


@attrs.frozen
class ChildSpec:
    """A child to start, in the backend's terms (its descriptors come separately)."""

    args: tuple[bytes, ...]
    executables: tuple[bytes, ...]
    cwd: str
    env: Mapping[bytes, bytes]
    umask: int
    restore_signals: bool = True
    new_session: bool = False
    process_group: int = -1

    def command(self, fds: Mapping[int, int]) -> ProcessCommand:
        """The handler's command, with the child's host descriptors."""
        return ProcessCommand(
            args=self.args,
            executables=self.executables,
            cwd=self.cwd,
            env=self.env,
            stdin=fds.get(0),
            stdout=fds.get(1),
            stderr=fds.get(2),
            fds={number: fd for number, fd in fds.items() if number > 2},
            umask=self.umask,
            restore_signals=self.restore_signals,
            new_session=self.new_session,
            process_group=self.process_group,
        )

    def group(self, pid: int) -> int:
        """The process group the child ends up in (0: the backend's own)."""
        if self.new_session or self.process_group == 0:
            return pid
        return max(self.process_group, 0)


@attrs.define
class ChildRecord:
    """One child in the backend's table: the handler's process and what its reap must do."""

    child: ChildProcess
    group: int = 0
    syncs: list[OffsetSync] = attrs.field(factory=list)
    file_pumps: list[Pump] = attrs.field(factory=list)

    @property
    def pid(self) -> int:
        return self.child.pid

    def reaped(self) -> None:
        """Let the parent see what the child left: its output in files, its file offsets."""
        deadline = time.monotonic() + FILE_PUMP_JOIN
        for pump in self.file_pumps:
            pump.thread.join(max(0.0, deadline - time.monotonic()))
        for sync in self.syncs:
            sync.apply()


class ChildTable:
    """The backend's children by pid, shared by its threads."""

    def __init__(self) -> None:
        self._children: dict[int, ChildRecord] = {}
        self._lock = threading.Lock()
        """Guards the dict alone (spawn adds, waitpid takes out, from any thread); never held
        while waiting for a child, which may take forever."""

    def add(self, record: ChildRecord) -> None:
        with self._lock:
            self._children[record.pid] = record

    def get(self, pid: int) -> ChildRecord | None:
        return self._children.get(pid)

    def matching(self, pid: int) -> list[ChildRecord]:
        """The children waitpid's ``pid`` names: one, any (-1), the backend's group (0), or
        the group -pid."""
        with self._lock:
            children = list(self._children.values())
        if pid > 0:
            return [record for record in children if record.pid == pid]
        if pid == -1:
            return children
        group = 0 if pid == 0 else -pid
        return [record for record in children if record.group == group]

    def remove(self, record: ChildRecord) -> bool:
        """Take a reaped child out; False if another thread already did."""
        with self._lock:
            return self._children.pop(record.pid, None) is record
