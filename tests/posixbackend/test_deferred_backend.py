"""A block's backend is built at its first use: a block whose code makes no call costs almost
nothing, and one that does sees exactly what an eagerly built backend gives."""

from __future__ import annotations

import os
import posix
import threading

import pytest

from posixbackend import backend
from posixbackend.emulated import EmulatedBackend
from posixbackend.emulated import core as core_module
from posixbackend.emulated.fdtable import FdTable
from vfs import MemoryFileSystem


def built(emulated: EmulatedBackend) -> bool:
    return vars(emulated).get("_pending_build", None) is None and "_table" in vars(emulated)


def test_a_block_that_makes_no_call_builds_nothing() -> None:
    block = backend("managed", file_system=MemoryFileSystem())
    with block:
        pass
    assert block.emulated is not None and not built(block.emulated)


def test_the_first_call_builds_what_an_eager_backend_has() -> None:
    fs = MemoryFileSystem()
    block = backend("managed", file_system=fs)
    with block:
        with open("/note", "w") as note:
            note.write("x")
        assert os.listdir("/") == ["note"] and os.getcwd() == "/"
        assert os.fstat(1).st_ino == posix.fstat(1).st_ino, "the standard streams are there"
    emulated = block.emulated
    assert emulated is not None and built(emulated)
    eager = EmulatedBackend(fs)
    # (a group of C calls made at its first use takes its fast paths out of the dict then:
    # os.fstat's here)
    waiting = {name for name in vars(eager) if name.endswith("_pending")}
    assert set(vars(eager)) - waiting <= set(vars(emulated)), "(and what its use cached since)"
    assert emulated.accelerated == eager.accelerated
    assert emulated.umask(0o022) == 0o022


def test_arguments_are_checked_and_the_environment_copied_when_it_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValueError, match="umask must be an int"):
        backend("managed", file_system=MemoryFileSystem(), umask=0o1000)
    with pytest.raises(ValueError, match="time_resolution_ns must be a positive int"):
        backend("managed", file_system=MemoryFileSystem(), time_resolution_ns=0)
    with pytest.raises(FileNotFoundError):
        backend("managed", file_system=MemoryFileSystem(), cwd="/missing")
    monkeypatch.delenv("PB_DEFERRED_PROBE", raising=False)
    block = backend("managed", file_system=MemoryFileSystem())
    monkeypatch.setenv("PB_DEFERRED_PROBE", "set after the block was made")
    with block:
        assert "PB_DEFERRED_PROBE" not in os.environ


def test_a_block_asked_to_wait_builds_at_its_first_call_in_its_cwd() -> None:
    """backend(deferred=True): a cwd other than / is not checked (nor entered) until the
    first call (an isolated guest's block: its file system was made with its cwd)."""
    fs = MemoryFileSystem()
    fs.mkdir("/work")
    idle = backend("managed", file_system=fs, cwd="/work", deferred=True)
    with idle:
        pass
    assert idle.emulated is not None and not built(idle.emulated)
    used = backend("managed", file_system=fs, cwd="/work", deferred=True)
    with used:
        with open("here", "w") as here:
            here.write("x")
        assert os.getcwd() == "/work" and fs.listdir("/work") == ["here"]
    assert used.emulated is not None and built(used.emulated)
    missing = backend("managed", file_system=MemoryFileSystem(), cwd="/missing", deferred=True)
    with missing, pytest.raises(FileNotFoundError):  # (at the first call, not before)
        os.getcwd()
    with pytest.raises(TypeError, match="deferred"):
        backend("native", deferred=True)


def test_a_missing_attribute_is_an_attribute_error_before_and_after() -> None:
    emulated = EmulatedBackend.deferred(MemoryFileSystem())
    with pytest.raises(AttributeError, match="'EmulatedBackend' object has no attribute 'nope'"):
        emulated.nope  # type: ignore[attr-defined]  # noqa: B018 - the access is the test
    assert built(emulated)
    with pytest.raises(AttributeError, match="'EmulatedBackend' object has no attribute 'nope'"):
        emulated.nope  # type: ignore[attr-defined]  # noqa: B018
    assert getattr(emulated, "nope", None) is None


def test_threads_asking_at_once_build_it_once() -> None:
    emulated = EmulatedBackend.deferred(MemoryFileSystem())
    start = threading.Barrier(8)
    tables: list[object] = []

    def first_use() -> None:
        start.wait(10)
        fd = emulated.open("/shared", os.O_CREAT | os.O_WRONLY, 0o644)
        tables.append(emulated._table)
        emulated.close(fd)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(tables) == 8 and all(table is tables[0] for table in tables)


def test_an_interrupted_build_leaves_it_unbuilt_and_the_next_use_builds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulated = EmulatedBackend.deferred(MemoryFileSystem())
    real_init = FdTable.__init__
    calls: list[bool] = []

    def interrupted(self: FdTable, limit: int | None = None) -> None:
        calls.append(True)
        if len(calls) == 1:
            raise KeyboardInterrupt
        real_init(self, limit)

    monkeypatch.setattr(FdTable, "__init__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        emulated.getcwd()
    assert not built(emulated) and not core_module._BUILDING.locked()
    assert emulated.getcwd() == "/"
    assert built(emulated) and len(calls) == 2


def test_a_built_backend_is_of_its_real_class_with_no_look_up_hook() -> None:
    """Until it is built a deferred backend is an instance of a waiting subclass whose
    ``__getattr__`` builds it; then it is a plain EmulatedBackend again (a class with
    ``__getattr__`` makes every attribute look-up of its instances slower)."""
    emulated = EmulatedBackend.deferred(MemoryFileSystem())
    assert isinstance(emulated, EmulatedBackend) and type(emulated) is not EmulatedBackend
    assert type(emulated).__name__ == "EmulatedBackend"
    emulated.getcwd()
    assert type(emulated) is EmulatedBackend and not hasattr(EmulatedBackend, "__getattr__")
