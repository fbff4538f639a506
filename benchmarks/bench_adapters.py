"""What each adapter adds per call over the library it wraps (fsspec and pyfakefs).

For stat of a file three directories deep and for open+read(100 bytes)+close of a small file,
times the wrapped library called directly (fsspec's memory file system: ``info`` and
``cat_file``; pyfakefs: its ``FakeOsModule``) and the same through the adapter, and prints
the median time per call, the overhead in microseconds and the ratio. Also the reverse
direction: a MemoryFileSystem provider read through the ``vfs`` fsspec protocol against the
provider called directly. Run: ``python -m benchmarks.bench_adapters [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import fsspec
from fsspec.implementations.memory import MemoryFileSystem as FsspecMemory
from pyfakefs.fake_filesystem import FakeFilesystem
from pyfakefs.fake_os import FakeOsModule

from vfs import FileSystem, Identity, MemoryFileSystem
from vfs.adapters.fsspec import FsspecProvider, ProviderFsspec
from vfs.adapters.pyfakefs import PyfakefsFileSystem

DEEP = "/a/b/c"
FILE = DEEP + "/f"
DATA = b"x" * 100
Pair = tuple[Callable[[], object], Callable[[], object]]


def median_ns(call: Callable[[], object], number: int, repeat: int) -> float:
    """Median over ``repeat`` batches of the time per call, in nanoseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(number):
            call()
        samples.append((time.perf_counter_ns() - start) / number)
    return statistics.median(samples)


def provider_read(fs: FileSystem) -> Callable[[], bytes]:
    def read() -> bytes:
        with fs.open(FILE, os.O_RDONLY) as handle:
            return handle.pread(4096, 0)

    return read


def fsspec_pairs() -> dict[str, Pair]:
    """(wrapped library, through the adapter) for the fsspec memory file system."""
    store = FsspecMemory(global_store=False, skip_instance_cache=True)
    store.makedirs(DEEP, exist_ok=True)
    store.pipe_file(FILE, DATA)
    adapter = FsspecProvider(store, "/")

    def direct_read() -> bytes:
        with store.open(FILE, "rb") as f:
            data: bytes = f.read(4096)
            return data

    return {
        "stat": (lambda: store.info(FILE), lambda: adapter.stat(FILE)),
        "open+read+close": (direct_read, provider_read(adapter)),
    }


def pyfakefs_pairs() -> dict[str, Pair]:
    """(wrapped library, through the adapter) for a pyfakefs FakeFilesystem."""
    fake = FakeFilesystem(path_separator="/")
    fake_os = FakeOsModule(fake)
    fake.create_file(FILE, contents=DATA)
    adapter = PyfakefsFileSystem(fake)

    def direct_read() -> bytes:
        fd = fake_os.open(FILE, os.O_RDONLY)
        try:
            return fake_os.read(fd, 4096)
        finally:
            fake_os.close(fd)

    return {
        "stat": (lambda: fake_os.stat(FILE), lambda: adapter.stat(FILE)),
        "open+read+close": (direct_read, provider_read(adapter)),
    }


def exposed_pairs() -> dict[str, Pair]:
    """(provider called directly, through fsspec's ``vfs`` protocol) for a memory provider."""
    provider = MemoryFileSystem(identity=Identity.root())
    for depth in range(1, 4):
        provider.mkdir(DEEP[: 2 * depth], 0o755)
    with provider.open(FILE, os.O_WRONLY | os.O_CREAT, 0o644) as handle:
        handle.pwrite(DATA, 0)
    exposed: ProviderFsspec = fsspec.filesystem("vfs", provider=provider)

    def exposed_read() -> bytes:
        with exposed.open(FILE, "rb") as f:
            data: bytes = f.read(4096)
            return data

    return {
        "stat": (lambda: provider.stat(FILE), lambda: exposed.info(FILE)),
        "open+read+close": (provider_read(provider), exposed_read),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (a smoke run)")
    options = parser.parse_args()
    number, repeat = (200, 3) if options.quick else (5000, 7)
    groups = {
        "fsspec memory -> FsspecProvider": fsspec_pairs(),
        "pyfakefs -> PyfakefsFileSystem": pyfakefs_pairs(),
        "MemoryFileSystem -> fsspec vfs://": exposed_pairs(),
    }
    print(
        f"{'adapter':36} {'operation':16} {'wrapped':>10} {'adapter':>10} {'overhead':>10}  ratio"
    )
    for title, pairs in groups.items():
        for operation, (direct, adapted) in pairs.items():
            base = median_ns(direct, number, repeat)
            over = median_ns(adapted, number, repeat)
            print(
                f"{title:36} {operation:16} {base / 1000:8.2f}us {over / 1000:8.2f}us "
                f"{(over - base) / 1000:+8.2f}us  {over / base:5.2f}x"
            )


if __name__ == "__main__":
    main()
