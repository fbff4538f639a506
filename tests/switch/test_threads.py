"""Per thread of control: threads and tasks are isolated; what a block starts inherits it."""

from __future__ import annotations

import _thread
import asyncio
import os
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from posixbackend import PosixModuleBackend, backend, current
from vfs import Identity, MemoryFileSystem


def memory_with(name: str) -> MemoryFileSystem:
    """A memory file system holding one file, /mine, whose content is ``name``."""
    fs = MemoryFileSystem(identity=Identity.root())
    handle = fs.open("/mine", os.O_CREAT | os.O_WRONLY, 0o644)
    handle.pwrite(name.encode(), 0)
    handle.close()
    return fs


def read_mine() -> str:
    """The content of /mine, wherever the caller's backend finds it."""
    return Path("/mine").read_text()


def test_two_managed_threads_and_a_native_one_see_only_their_own() -> None:
    barrier = threading.Barrier(3)
    seen: dict[str, object] = {}
    native_dir = tempfile.mkdtemp()

    def managed(name: str) -> None:
        with backend("managed", file_system=memory_with(name)):
            barrier.wait()  # all three are inside their blocks at once
            for _ in range(200):
                with open("/mine") as file:
                    assert file.read() == name
            os.mkdir(f"/made-by-{name}")
            barrier.wait()
            seen[name] = sorted(os.listdir("/"))

    def native() -> None:
        barrier.wait()
        for _ in range(200):
            assert os.path.isdir(native_dir) and not os.path.exists("/mine")
        barrier.wait()
        seen["native"] = (current(), os.path.exists("/made-by-a"))

    threads = [threading.Thread(target=managed, args=(n,)) for n in "ab"]
    threads.append(threading.Thread(target=native))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    os.rmdir(native_dir)
    assert seen == {
        "a": ["made-by-a", "mine"],
        "b": ["made-by-b", "mine"],
        "native": (PosixModuleBackend.NATIVE, False),
    }


def test_a_thread_started_in_a_block_serves_from_its_backend() -> None:
    results: list[object] = []
    with backend("managed", file_system=memory_with("inside")):
        thread = threading.Thread(target=lambda: results.append(read_mine()))
        thread.start()
    thread.join()
    outside = threading.Thread(target=lambda: results.append(current()))
    outside.start()
    outside.join()
    assert results == ["inside", PosixModuleBackend.NATIVE]


RAW_STARTS = ["start_new_thread"] + (
    ["start_joinable_thread"] if hasattr(_thread, "start_joinable_thread") else []
)


def raw_start(start: str, function: Callable[[], object]) -> None:
    """Start ``function`` in a raw thread, by ``_thread``'s function named ``start``."""
    if start == "start_new_thread":
        _thread.start_new_thread(function, ())
    else:
        getattr(_thread, start)(function)


@pytest.mark.parametrize("start", RAW_STARTS)
def test_a_raw_thread_started_in_a_block_serves_from_its_backend(
    start: str, tmp_path: Path
) -> None:
    # A raw _thread start in a managed block used to run natively: the program's writes
    # landed on the real disk. It runs under the starter's backend, as a Thread does.
    done = threading.Event()
    results: list[object] = []
    escaped = tmp_path / "escaped"

    def body() -> None:
        try:
            results.append(read_mine())
            escaped.write_text("written")  # into the block's file system, never the disk
            results.append(escaped.read_text())
        finally:
            done.set()

    with backend("managed", file_system=memory_with("raw")):
        os.makedirs(tmp_path)  # (the same directory in the block's file system)
        raw_start(start, body)
        assert done.wait(30)
    outside = threading.Event()

    def after() -> None:
        results.append(current())
        outside.set()

    raw_start(start, after)
    assert outside.wait(30)
    assert results == ["raw", "written", PosixModuleBackend.NATIVE]
    assert not escaped.exists()


def test_pool_jobs_run_under_the_backend_of_whoever_submitted_them() -> None:
    pool = ThreadPoolExecutor(max_workers=2)  # made outside: its threads start inside
    try:
        with backend("managed", file_system=memory_with("pooled")):
            inside = pool.submit(read_mine).result()
            with ThreadPoolExecutor(max_workers=2) as own:
                made_inside = list(own.map(lambda _: read_mine(), range(4)))
        outside = pool.submit(current).result()
    finally:
        pool.shutdown()
    assert inside == "pooled" and made_inside == ["pooled"] * 4
    assert outside is PosixModuleBackend.NATIVE


def test_asyncio_tasks_and_to_thread_keep_their_block() -> None:
    async def reader(name: str, started: asyncio.Event, other: asyncio.Event) -> list[str]:
        with backend("managed", file_system=memory_with(name)):
            started.set()
            await other.wait()  # the other task is inside its own block meanwhile
            direct = read_mine()
            threaded = await asyncio.to_thread(read_mine)
            return [direct, threaded]

    async def main() -> list[list[str]]:
        a_in, b_in = asyncio.Event(), asyncio.Event()
        return list(await asyncio.gather(reader("a", a_in, b_in), reader("b", b_in, a_in)))

    assert asyncio.run(main()) == [["a", "a"], ["b", "b"]]
    assert current() is PosixModuleBackend.NATIVE


def test_asyncio_run_inside_a_block_serves_its_tasks_from_it() -> None:
    async def read() -> str:
        return await asyncio.to_thread(read_mine)

    with backend("managed", file_system=memory_with("loop")):
        assert asyncio.run(read()) == "loop"
