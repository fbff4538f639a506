"""Copy-ups and renames of the overlay (memory over memory), failed or interrupted.

Regressions first, each deterministic: a copy-up interrupted half-way used to leave a truncated
copy hiding the lower file (which ``changes().apply()`` would then write over the original); a
copy-up failing with ENOSPC left the parent directories it had copied (times changed, listed by
``changes()``). Then the harness (tests/interrupts.py) interrupts copy-ups and renames at every
point of the overlay's and the memory file system's code: after each, the merged tree is as
before or as after (a renamed file never under both names nor under neither), every file
shows its whole content, the lower layer is untouched, no lock is held, and ``changes()`` is
what it is before or after the call.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

import vfs.memory
import vfs.overlay
from tests.interrupts import Operation, Point, interrupt_everywhere, run_fresh
from vfs import Identity, MemoryFileSystem, OverlayFileSystem
from vfs.delegate import DelegatingFileSystem, DelegatingHandle
from vfs.provider import Handle

CODE = (str(Path(vfs.overlay.__file__).parent), str(Path(vfs.memory.__file__).parent))
QUICK_SAMPLE = 50
"""Points tried per case in the quick profile (POSIXBACKEND_INTERRUPTS_FULL=1: all)."""
BIG = bytes(range(256)) * (3 << 12)  # 3 MiB: the copy takes several chunks


class Interrupted(BaseException):
    """What a KeyboardInterrupt or a time limit does to a copy-up: it just stops there."""


def lower_tree(big: bytes = BIG) -> MemoryFileSystem:
    lower = MemoryFileSystem(identity=Identity.root())
    lower.mkdir("/a")
    lower.mkdir("/a/b")
    with lower.open("/a/b/big", os.O_WRONLY | os.O_CREAT, 0o644) as handle:
        handle.pwrite(big, 0)
    with lower.open("/a/small", os.O_WRONLY | os.O_CREAT, 0o600) as handle:
        handle.pwrite(b"small", 0)
    lower.mkdir("/a/d")
    with lower.open("/a/d/inside", os.O_WRONLY | os.O_CREAT, 0o644) as handle:
        handle.pwrite(b"inside", 0)
    lower.utime("/a", ns=(1_000_000_000, 2_000_000_000))
    lower.utime("/a/b", ns=(3_000_000_000, 4_000_000_000))
    return lower


class StopAfter(DelegatingFileSystem):
    """A lower layer whose file handles raise :class:`Interrupted` on the ``reads``-th read."""

    def __init__(self, inner: MemoryFileSystem, reads: int) -> None:
        super().__init__(inner)
        self.reads = reads

    def open(self, path: str, flags: int, mode: int = 0o666) -> Handle:
        return _Stopping(super().open(path, flags, mode), self)


class _Stopping(DelegatingHandle):
    __slots__ = ("_layer",)

    def __init__(self, inner: Handle, layer: StopAfter) -> None:
        super().__init__(inner)
        self._layer = layer

    def pread(self, n: int, offset: int) -> bytes:
        self._layer.reads -= 1
        if self._layer.reads == 0:
            raise Interrupted
        return super().pread(n, offset)


def content(fs: OverlayFileSystem | MemoryFileSystem, path: str) -> bytes:
    with fs.open(path, os.O_RDONLY) as handle:
        return handle.pread(handle.size(), 0)


def test_an_interrupted_copy_up_leaves_the_lower_file_showing() -> None:
    lower = lower_tree()
    overlay = OverlayFileSystem(MemoryFileSystem(identity=Identity.root()), StopAfter(lower, 2))
    with pytest.raises(Interrupted):
        overlay.open("/a/b/big", os.O_RDWR)
    assert content(overlay, "/a/b/big") == BIG  # was 1 MiB of the 3
    assert list(overlay.changes()) == []  # apply() has nothing to write over the original
    assert overlay.stat("/a").st_mtime_ns == 2_000_000_000
    with overlay.open("/a/b/big", os.O_RDWR) as handle:  # a second copy-up starts afresh
        handle.pwrite(b"changed", 0)
    assert content(overlay, "/a/b/big") == b"changed" + BIG[7:]
    assert content(lower, "/a/b/big") == BIG
    assert [str(change) for change in overlay.changes()] == ["modified file /a/b/big"]


def test_a_copy_up_failing_for_room_leaves_no_trace() -> None:
    lower = lower_tree()
    upper = MemoryFileSystem(identity=Identity.root(), max_bytes=1 << 20)
    overlay = OverlayFileSystem(upper, lower)
    before = {path: overlay.stat(path) for path in ("/", "/a", "/a/b")}
    with pytest.raises(OSError) as raised:
        overlay.open("/a/b/big", os.O_RDWR)
    assert raised.value.errno == errno.ENOSPC
    for path, st in before.items():
        now = overlay.stat(path)
        assert (now.st_mode, now.st_mtime_ns, now.st_nlink) == (
            st.st_mode, st.st_mtime_ns, st.st_nlink,
        ), path  # fmt: skip
    assert list(overlay.changes()) == []
    assert upper.listdir("/") == []  # no directory of mode 0700 left in the upper layer


# -- every point --------------------------------------------------------------------------------


@attrs.define
class World:
    lower: MemoryFileSystem
    overlay: OverlayFileSystem


def world() -> World:
    lower = lower_tree(big=bytes(range(256)) * 64)
    return World(lower, OverlayFileSystem(MemoryFileSystem(identity=Identity.root()), lower))


Picture = tuple[tuple[str, str, int, bytes], ...]


def picture(fs: OverlayFileSystem | MemoryFileSystem) -> Picture:
    """Every path with its kind, mode and content (a link's target)."""
    found: list[tuple[str, str, int, bytes]] = []
    stack = ["/"]
    while stack:
        directory = stack.pop()
        for name in sorted(fs.listdir(directory)):
            path = directory.rstrip("/") + "/" + name
            st = fs.stat(path, follow_symlinks=False)
            mode = st.st_mode & 0o170000
            if mode == 0o040000:
                found.append((path, "dir", st.st_mode, b""))
                stack.append(path)
            elif mode == 0o120000:
                found.append((path, "link", st.st_mode, fs.readlink(path).encode()))
            else:
                found.append((path, "file", st.st_mode, content(fs, path)))
    return tuple(sorted(found))


Case = Callable[[World], object]


def write_into(w: World, path: str) -> None:
    with w.overlay.open(path, os.O_RDWR) as handle:
        handle.pwrite(b"W", 0)


CASES: dict[str, Case] = {
    "copy-up of a file and its parents": lambda w: write_into(w, "/a/b/big"),
    "copy-up of a file": lambda w: w.overlay.chmod("/a/small", 0o640),
    "rename of a lower file": lambda w: w.overlay.rename("/a/small", "/a/moved"),
    "rename of a lower file over another": lambda w: w.overlay.rename("/a/small", "/a/b/big"),
    "rename of a lower directory": lambda w: w.overlay.rename("/a/d", "/a/e"),
    "mkdir where a lower directory was removed": lambda w: w.overlay.mkdir("/a/d"),
}


def remove_lower_directory(w: World) -> None:
    w.overlay.unlink("/a/d/inside")
    w.overlay.rmdir("/a/d")


PREPARE: dict[str, Callable[[World], None]] = {
    "mkdir where a lower directory was removed": remove_lower_directory,
}


def prepared() -> Callable[[str], World]:
    def make(name: str) -> World:
        made = world()
        PREPARE.get(name, lambda w: None)(made)
        return made

    return make


def interrupt_case(name: str) -> None:
    operation = CASES[name]
    make = prepared()
    clean = make(name)
    lower_before = picture(clean.lower)
    before = picture(clean.overlay), [str(c) for c in clean.overlay.changes()]
    operation(clean)
    after = picture(clean.overlay), [str(c) for c in clean.overlay.changes()]
    assert before != after

    def check(done: World, point: Point) -> None:
        overlay = done.overlay
        assert not overlay._lock._is_owned()  # type: ignore[attr-defined]
        assert not done.lower._lock.locked()
        assert not overlay.upper._lock.locked()  # type: ignore[attr-defined]
        now = picture(overlay), [str(c) for c in overlay.changes()]
        assert now in (before, after), f"interrupted at {point}: {now} not before or after"
        assert picture(done.lower) == lower_before

    points = interrupt_everywhere(
        Operation(CODE, lambda: make(name), operation, check), sample=QUICK_SAMPLE
    )
    print(f"{name}: {points} points")


@pytest.mark.parametrize("name", CASES)
def test_an_interrupted_copy_up_or_rename_is_whole_or_not_at_all(name: str) -> None:
    run_fresh("tests.vfs.test_overlay_interrupts", name, timeout=300)


if __name__ == "__main__":
    interrupt_case(sys.argv[1])
