"""A content that reaches a MiB through the C writer lives in a mapping of its own.

Once the process has freed a mapped block (glibc's dynamic mmap threshold then rises, up to
32 MiB), glibc puts blocks of up to that size in its brk heap, where realloc copies a growing
block into fresh pages whenever anything sits after it: a 16 MiB file written in 1 MiB appends
inside a benchmark group cost 1.10x native against 0.78x in a fresh process. The C writer puts
a content whose allocation reaches a MiB in a mapping of glibc's own instead (grown by mremap:
no copy), whatever the threshold. Its bytes, size and pages counted must stay what the Python
method and a real file give across the 1 MiB and 32 MiB marks, through writes past the end,
appends and truncates, and a truncate must still give the memory back.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from posixbackend.emulated import accelerator
from tests.posixbackend.test_big_file_heap import LIBC
from tests.posixbackend.test_big_file_move import in_brk_heap, raise_mmap_threshold
from tests.posixbackend.test_memory_writer import RDWR_CREATE, writer_of
from vfs import MemoryFileSystem
from vfs.memory.nodes import RegularFile

MIB = 1 << 20
ROOT = Path(__file__).resolve().parents[2]
"""The repository (from which ``tests`` imports)."""

pytestmark = [
    pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING),
    pytest.mark.skipif(
        LIBC is None or not os.path.exists("/proc/self/stat"),
        reason="about glibc's brk heap, located through Linux's /proc",
    ),
]


def content_of(handle: object) -> bytearray:
    """The handle's file's dense content (a bytearray)."""
    node = getattr(handle, "node", None)
    assert isinstance(node, RegularFile) and node.data is not None
    return node.data


def in_a_fresh_process(scenario: str) -> None:
    """Run this module's function ``scenario`` in a new interpreter: where a block lands
    depends on the heap's whole history (a big free chunk or top left by an earlier test
    serves even a 32 MiB request), which only a fresh process makes known."""
    subprocess.run(
        [sys.executable, "-c", f"from {__name__} import {scenario}; {scenario}()"],
        cwd=ROOT, check=True, timeout=120,
    )  # fmt: skip


def appends_leave_the_heap() -> None:
    assert LIBC is not None
    raise_mmap_threshold()
    handle = MemoryFileSystem().open("/f", RDWR_CREATE, 0o644)
    write = writer_of(handle)
    blockers: list[int] = []
    try:
        for n in range(16):
            assert write(bytes([n]) * MIB, n * MIB) == MIB
            blockers.append(LIBC.malloc(64 * 1024))
            assert not in_brk_heap(content_of(handle)), n
        assert [handle.pread(1, n * MIB) for n in range(16)] == [bytes([n]) for n in range(16)]
        assert handle.stat().st_size == 16 * MIB
    finally:
        for block in blockers:
            LIBC.free(block)
        handle.close()


def test_appends_past_a_mib_leave_the_heap_whatever_the_threshold() -> None:
    """With glibc's threshold raised and a small heap block allocated after each 1 MiB append
    (what keeps realloc from growing a heap block in place), the content is out of the brk
    heap from its first MiB on, and holds what was written."""
    in_a_fresh_process("appends_leave_the_heap")


def truncate_gives_memory_back() -> None:
    raise_mmap_threshold()
    handle = MemoryFileSystem().open("/f", RDWR_CREATE, 0o644)
    write = writer_of(handle)
    try:
        for n in range(4):
            assert write(b"m" * MIB, n * MIB) == MIB
        handle.truncate(100)
        assert sys.getsizeof(content_of(handle)) - sys.getsizeof(bytearray()) <= 4096
        assert write(b"n" * MIB, 4096) == MIB
        assert not in_brk_heap(content_of(handle))
        assert handle.pread(2 * MIB, 0) == b"m" * 100 + bytes(4096 - 100) + b"n" * MIB
    finally:
        handle.close()


def test_a_truncate_gives_a_mapped_contents_memory_back() -> None:
    """A 4 MiB content in its own mapping cut to 100 bytes keeps about 100 bytes allocated,
    and grown again past a MiB holds the old 100 bytes, zeros, then what was written."""
    in_a_fresh_process("truncate_gives_memory_back")


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


def a_heap_landing_is_for_that_time_only() -> None:
    assert LIBC is not None
    # a big free top in the heap: glibc serves even the 32 MiB request from it
    assert LIBC.mallopt(M_MMAP_THRESHOLD, 64 * MIB) and LIBC.mallopt(M_TRIM_THRESHOLD, 256 * MIB)
    LIBC.free(LIBC.malloc(40 * MIB))
    first = MemoryFileSystem().open("/f", RDWR_CREATE, 0o644)
    second = MemoryFileSystem().open("/f", RDWR_CREATE, 0o644)
    try:
        assert writer_of(first)(b"a" * MIB, 0) == MIB
        assert in_brk_heap(content_of(first))  # (the case: asked, it landed in the heap)
        # the top given back, the threshold at its highest dynamic value again
        assert LIBC.mallopt(M_MMAP_THRESHOLD, 32 * MIB) and LIBC.malloc_trim(0) in (0, 1)
        assert writer_of(second)(b"b" * MIB, 0) == MIB
        assert not in_brk_heap(content_of(second))  # asked again: a mapping now
        assert first.pread(MIB, 0) == b"a" * MIB and second.pread(MIB, 0) == b"b" * MIB
    finally:
        first.close()
        second.close()


def test_a_content_that_landed_in_the_heap_does_not_keep_the_next_from_a_mapping() -> None:
    """Regression: a 32 MiB request once served from the heap's free top switched the
    mappings off for the process's life (the whole suite's later contents stayed in the
    heap); now it is that content's case only."""
    in_a_fresh_process("a_heap_landing_is_for_that_time_only")


STARTS = st.sampled_from([0, MIB - 3000, 32 * MIB - 70_000])
"""How much the file holds (written by the C writer in 1 MiB writes) before the steps: nothing,
just under the 1 MiB mark, just under the 32 MiB one."""
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["c", "python", "append", "truncate"]),
        st.integers(0, 255),
        st.integers(1, MIB + MIB // 2),  # a write's length
        st.integers(-100_000, 300_000),  # offset (or a truncate's size) from the start's size
    ),
    min_size=1,
    max_size=4,
)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@settings(max_examples=4, deadline=None)
@given(start=STARTS, steps=STEPS)
@example(start=MIB - 3000, steps=[("c", 1, 5000, 0)])  # across 1 MiB
@example(start=32 * MIB - 70_000, steps=[("c", 2, MIB, 0), ("truncate", 0, 1, -90_000)])
@example(start=0, steps=[("c", 3, 100, 200_000)])  # past the end: a hole page, sparse
def test_growth_across_the_marks_gives_what_python_and_linux_give(
    start: int, steps: list[tuple[str, int, int, int]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A file filled to ``start`` and changed by ``steps`` -- C writer and Python pwrites past
    the end or into it, appends, truncates -- with glibc's threshold raised: the size after
    each step, and at the end the bytes and pages counted, as a real file and a twin written
    by the Python methods only."""
    raise_mmap_threshold()
    real = os.open(tmp_path_factory.mktemp("m") / "f", RDWR_CREATE, 0o644)
    handle = MemoryFileSystem().open("/f", RDWR_CREATE, 0o644)
    twin = MemoryFileSystem().open("/f", RDWR_CREATE, 0o644)
    write = writer_of(handle)
    try:
        for offset in range(0, start, MIB):
            data = bytes([offset // MIB]) * min(MIB, start - offset)
            assert write(data, offset) == twin.pwrite(data, offset) == os.pwrite(real, data, offset)
        for kind, byte, length, delta in steps:
            data = bytes([byte]) * length
            at = max(0, start + delta)
            if kind == "c":
                assert write(data, at) == twin.pwrite(data, at) == os.pwrite(real, data, at)
            elif kind == "python":
                assert handle.pwrite(data, at) == twin.pwrite(data, at) == os.pwrite(real, data, at)
            elif kind == "append":
                end = os.fstat(real).st_size
                assert handle.append(data) == twin.append(data) == end + os.pwrite(real, data, end)
            else:
                handle.truncate(at)
                twin.truncate(at)
                os.ftruncate(real, at)
            assert handle.stat().st_size == twin.stat().st_size == os.fstat(real).st_size
        size = os.fstat(real).st_size
        assert (
            digest(handle.pread(size + 1, 0))
            == digest(twin.pread(size + 1, 0))
            == digest(os.pread(real, size + 1, 0))
        )
        assert handle.stat().st_blocks == twin.stat().st_blocks  # pages, as tmpfs counts them
    finally:
        handle.close()
        twin.close()
        os.close(real)
