"""Many threads changing one overlay at once: copy-ups, whiteouts and creations stay whole."""

from __future__ import annotations

import os

import pytest

from tests.threads import THREADS, run_threads, switch_often
from vfs import Identity, MemoryFileSystem
from vfs.overlay import OverlayFileSystem

__all__ = ["switch_often"]
ROUNDS = 30


def seeded_overlay() -> OverlayFileSystem:
    lower = MemoryFileSystem(identity=Identity.root())
    lower.mkdir("/shared")
    for index in range(THREADS):
        lower.mkdir(f"/t{index}")
        with lower.open(f"/t{index}/f", os.O_CREAT | os.O_WRONLY, 0o644) as h:
            h.pwrite(b"lower", 0)
    with lower.open("/shared/log", os.O_CREAT | os.O_WRONLY, 0o644) as h:
        h.pwrite(b"", 0)
    return OverlayFileSystem(MemoryFileSystem(identity=Identity.root()), lower)


@pytest.mark.usefixtures("switch_often")
def test_concurrent_copy_up_and_appends_lose_nothing() -> None:
    fs = seeded_overlay()
    readers = [fs.open("/shared/log", os.O_RDONLY) for _ in range(THREADS)]

    def work(index: int) -> None:
        for round_ in range(ROUNDS):
            with fs.open("/shared/log", os.O_WRONLY | os.O_APPEND) as h:
                h.append(b"%d.%d;" % (index, round_))
            path = f"/t{index}/n{round_}"
            with fs.open(path, os.O_CREAT | os.O_WRONLY, 0o600) as h:
                h.pwrite(b"x", 0)
            if round_ % 3 == 0:
                fs.unlink(path)
            fs.stat("/shared/log")
            fs.listdir("/shared")

    run_threads(work)
    with fs.open("/shared/log", os.O_RDONLY) as h:
        records = h.pread(1 << 20, 0).decode().split(";")[:-1]
    assert sorted(records) == sorted(f"{i}.{r}" for i in range(THREADS) for r in range(ROUNDS))
    for reader in readers:  # opened on the lower file, switched to the copy by the copy-up
        assert reader.pread(1 << 20, 0).decode().count(";") == THREADS * ROUNDS
        reader.close()
    for index in range(THREADS):
        names = sorted(fs.listdir(f"/t{index}"))
        assert names == sorted(["f"] + [f"n{r}" for r in range(ROUNDS) if r % 3])


@pytest.mark.usefixtures("switch_often")
def test_concurrent_whiteouts_and_recreation_of_one_name() -> None:
    fs = seeded_overlay()

    def work(index: int) -> None:
        for _ in range(ROUNDS):
            try:
                fs.unlink("/t0/f")
            except FileNotFoundError:
                pass  # another thread removed it first, as on Linux
            try:
                with fs.open("/t0/f", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644) as h:
                    h.pwrite(b"%d" % index, 0)
            except FileExistsError:
                pass  # another thread created it first
            if index:  # the other threads move their own lower directory away and back
                fs.rename(f"/t{index}", f"/u{index}")
                fs.rename(f"/u{index}", f"/t{index}")

    run_threads(work)
    assert fs.listdir("/t0") == ["f"]
    for index in range(1, THREADS):
        with fs.open(f"/t{index}/f", os.O_RDONLY) as h:
            assert h.pread(10, 0) == b"lower"
    assert sorted(fs.listdir("/")) == sorted(["shared"] + [f"t{i}" for i in range(THREADS)])
    assert fs.stat("/t0/f").st_size == 1
    assert "/t0/f" not in fs.whiteouts
