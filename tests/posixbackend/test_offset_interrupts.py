"""Every call that reads or moves a file offset, interrupted at every point (tests/interrupts.py).

After each interruption the description's offset is free (one lost or left held made every
later call on the descriptor wait forever), no lock is held, the file is as it was before the call
or as it is after it, and the offset agrees with the file: a write that happened moved it, one
that did not, did not; a read moved it by what it read or not at all; calls that take an
explicit offset never move it. One exception is declared (``WRITE_IN_PROVIDER`` in
posixbackend/emulated/descriptions.py): an exception delivered inside the provider's own write
after its data landed leaves the data written and the offset where it was; the check allows
that only when the point was in the provider's code.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import attrs
import pytest

import posixbackend.emulated
import vfs.host
import vfs.memory
from posixbackend import EmulatedBackend
from posixbackend.emulated.vectored import RWF_APPEND
from tests.interrupts import Operation, Point, interrupt_everywhere, run_fresh
from vfs import HostFileSystem, Identity, MemoryFileSystem

BACKEND_CODE = str(Path(posixbackend.emulated.__file__).parent)
PROVIDER_CODE = {
    "memory": str(Path(vfs.memory.__file__).parent),
    "host": str(Path(vfs.host.__file__).parent),
}
CONTENT = bytes(range(256)) * 40
START = 1000
"""Where the file offset stands when an operation starts."""
DATA = b"x" * 3000
WAIT = 10.0
"""Seconds a call on the descriptor may take before the offset counts as lost."""


@attrs.define
class World:
    """A backend with a file open at ``START`` (``fd``) and a second, empty one (``other``)."""

    backend: EmulatedBackend
    fd: int
    other: int
    provider: str
    root: tempfile.TemporaryDirectory[str] | None = None

    def content(self, path: str) -> bytes:
        fd = self.backend.open(path, os.O_RDONLY)
        try:
            return self.backend.pread(fd, 1 << 20, 0)
        finally:
            self.backend.close(fd)


def world(provider: str, flags: int = 0) -> World:
    root = None
    if provider == "memory":
        fs: MemoryFileSystem | HostFileSystem = MemoryFileSystem(identity=Identity.root())
    else:
        root = tempfile.TemporaryDirectory()
        fs = HostFileSystem(root.name)
    backend = EmulatedBackend(fs, accelerated=False)
    fd = backend.open("/f", os.O_RDWR | os.O_CREAT | flags, 0o644)
    backend.pwrite(fd, CONTENT, 0)
    backend.lseek(fd, START, os.SEEK_SET)
    other = backend.open("/g", os.O_RDWR | os.O_CREAT, 0o644)
    return World(backend, fd, other, provider, root)


@attrs.frozen
class Case:
    """An operation on a world, and what it leaves when it runs whole."""

    run: Callable[[World], object]
    flags: int = 0
    reads: bool = False
    """Whether it reads at the file offset (which then may stay or move by what it read)."""


CASES: dict[str, Case] = {
    "read": Case(lambda w: w.backend.read(w.fd, 5000), reads=True),
    "write": Case(lambda w: w.backend.write(w.fd, DATA)),
    "write O_APPEND": Case(lambda w: w.backend.write(w.fd, DATA), flags=os.O_APPEND),
    "lseek SEEK_SET": Case(lambda w: w.backend.lseek(w.fd, 7, os.SEEK_SET)),
    "lseek SEEK_CUR": Case(lambda w: w.backend.lseek(w.fd, 7, os.SEEK_CUR)),
    "lseek SEEK_END": Case(lambda w: w.backend.lseek(w.fd, -7, os.SEEK_END)),
    "pread": Case(lambda w: w.backend.pread(w.fd, 5000, 3)),
    "pwrite": Case(lambda w: w.backend.pwrite(w.fd, DATA, 9000)),
    "readv": Case(lambda w: w.backend.readv(w.fd, [bytearray(2000), bytearray(2000)]),
                  reads=True),
    "writev": Case(lambda w: w.backend.writev(w.fd, [DATA, DATA])),
    "pwritev2 RWF_APPEND": Case(lambda w: w.backend.pwritev(w.fd, [DATA], -1, RWF_APPEND)),
    "ftruncate": Case(lambda w: w.backend.ftruncate(w.fd, 500)),
    "sendfile": Case(lambda w: w.backend.sendfile(w.other, w.fd, None, 4000)),
    "sendfile at an offset": Case(lambda w: w.backend.sendfile(w.other, w.fd, 10, 4000)),
    "sendfile onto itself": Case(lambda w: w.backend.sendfile(w.fd, w.fd, None, 4000)),
    "sendfile within a file": Case(lambda w: w.backend.sendfile(w.fd, w.fd, 100, 400)),
    "copy_file_range": Case(lambda w: w.backend.copy_file_range(w.fd, w.other, 4000)),
    "open": Case(lambda w: w.backend.open("/f", os.O_RDONLY)),
    "open creating": Case(lambda w: w.backend.open("/h", os.O_RDWR | os.O_CREAT, 0o644)),
}  # fmt: skip


@attrs.frozen
class Picture:
    """What the invariants compare: both files (their sizes and digests) and both offsets."""

    content: str
    other: str
    offset: int
    other_offset: int
    fds: tuple[int, ...]


def summary(data: bytes) -> str:
    return f"{len(data)} bytes {hashlib.sha256(data).hexdigest()[:12]}"


def answered(call: Callable[[], int]) -> int:
    """What ``call`` returns, from a thread of its own: one that waits means the offset was
    lost or left held, and would make every later call on the descriptor wait forever."""
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    thread.join(WAIT)
    assert result, "the offset is lost or held: a call on the descriptor waits forever"
    return result[0]


def picture(done: World) -> Picture:
    """The files and offsets, after checking that the offsets are there and no lock is held."""
    backend = done.backend
    assert not backend._table.lock.locked()
    fs_lock = getattr(backend._fs, "_lock", None)
    assert fs_lock is None or not fs_lock.locked()
    offset, other = (
        answered(partial(backend.lseek, fd, 0, os.SEEK_CUR)) for fd in (done.fd, done.other)
    )
    fds = tuple(sorted(backend._table.files))
    if isinstance(backend._fs, MemoryFileSystem):
        handles_match_descriptions(backend)
    return Picture(summary(done.content("/f")), summary(done.content("/g")), offset, other, fds)


def handles_match_descriptions(backend: EmulatedBackend) -> None:
    """Every handle a memory file holds belongs to a description in the table (an open cut
    short must not leave one behind: the file could never be freed)."""
    held = {id(d.handle) for d in backend._table.files.values() if d.handle is not None}
    fs = backend._fs
    assert isinstance(fs, MemoryFileSystem)
    for node in fs.directory(None, "/").entries.values():
        for handle in getattr(node, "handles", ()):
            assert id(handle) in held, f"a handle of {node} outside the descriptor table"


def interrupt_case(provider: str, name: str) -> None:
    case = CASES[name]
    files = (BACKEND_CODE, PROVIDER_CODE[provider])
    clean = world(provider, case.flags)
    before = picture(clean)
    case.run(clean)
    after = picture(clean)
    if clean.root is not None:
        clean.root.cleanup()

    def check(done: World, point: Point) -> None:
        try:
            now = picture(done)
            allowed = [before, after]
            if case.reads:  # read but never returned: the offset may stay
                allowed.append(attrs.evolve(after, offset=before.offset))
            if point.inside(PROVIDER_CODE[provider]):  # the declared gap: written, not moved
                unmoved = attrs.evolve(after, offset=before.offset)
                allowed += [unmoved, attrs.evolve(unmoved, other_offset=before.other_offset)]
            assert now in allowed, f"interrupted at {point}: {now} not in {allowed}"
            done.backend.read(done.fd, 1)  # and the descriptor still answers
        finally:
            if done.root is not None:
                done.root.cleanup()

    interrupt_everywhere(
        Operation(files, lambda: world(provider, case.flags), case.run, check), minimum=1
    )


@pytest.mark.parametrize("provider", sorted(PROVIDER_CODE))
def test_an_interrupted_call_keeps_the_offset(provider: str) -> None:
    """Every case in one fresh interpreter per provider (start-up is most of a case's time)."""
    run_fresh("tests.posixbackend.test_offset_interrupts", provider, *CASES)


if __name__ == "__main__":
    for name in sys.argv[2:]:
        try:
            interrupt_case(sys.argv[1], name)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from error
