"""Providers against native os, pyfakefs and PyFilesystem2, in one run.

Times four operations — stat of a file five directories deep, listdir of a 20-entry directory,
open+read+close of a small file, create+write+close of a new file — on native ``os`` (in a
temporary directory), MemoryFileSystem, HostFileSystem(root=...), pyfakefs's fake ``os`` and
PyFilesystem2's MemoryFS, and prints the median time per call and its ratio to native.

Targets (issue 2): MemoryFileSystem stat and small read at most 1.0x native; HostFileSystem
with a root at most 3x. Run: ``python -m benchmarks.bench_vfs [--quick]``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable

from vfs import FileSystem, HostFileSystem, MemoryFileSystem
from vfs.adapters.fs2_import import import_fs

DEEP = "/a/b/c/d/e"
DATA = b"x" * 100
OPERATIONS = ("stat 5 deep", "listdir 20", "open+read+close", "create+write+close")
TARGETS = {
    ("memory", "stat 5 deep"): 1.0,
    ("memory", "open+read+close"): 1.0,
    ("host(root)", "stat 5 deep"): 3.0,
}
Ops = dict[str, Callable[[], object]]


def median_ns(call: Callable[[], object], number: int, repeat: int) -> float:
    """Median over ``repeat`` batches of the time per call, in nanoseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(number):
            call()
        samples.append((time.perf_counter_ns() - start) / number)
    return statistics.median(samples)


def native_ops(root: str) -> Ops:
    deep = root + DEEP
    os.makedirs(deep)
    os.makedirs(root + "/list")
    for n in range(20):
        open(f"{root}/list/f{n}", "wb").close()
    with open(deep + "/f", "wb") as f:
        f.write(DATA)
    os.makedirs(root + "/new")
    names = itertools.count()

    def read() -> bytes:
        fd = os.open(deep + "/f", os.O_RDONLY)
        try:
            return os.read(fd, 4096)
        finally:
            os.close(fd)

    def create() -> None:
        fd = os.open(f"{root}/new/f{next(names)}", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        os.write(fd, DATA)
        os.close(fd)

    return {
        "stat 5 deep": lambda: os.stat(deep + "/f"),
        "listdir 20": lambda: os.listdir(root + "/list"),
        "open+read+close": read,
        "create+write+close": create,
    }


def provider_ops(fs: FileSystem) -> Ops:
    path = ""
    for part in DEEP.strip("/").split("/"):
        path += "/" + part
        fs.mkdir(path, 0o755)
    fs.mkdir("/list", 0o755)
    for n in range(20):
        fs.open(f"/list/f{n}", os.O_CREAT | os.O_WRONLY, 0o644).close()
    with fs.open(DEEP + "/f", os.O_CREAT | os.O_WRONLY, 0o644) as h:
        h.pwrite(DATA, 0)
    fs.mkdir("/new", 0o755)
    names = itertools.count()

    def read() -> bytes:
        h = fs.open(DEEP + "/f", os.O_RDONLY)
        try:
            return h.pread(4096, 0)
        finally:
            h.close()

    def create() -> None:
        h = fs.open(f"/new/f{next(names)}", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        h.pwrite(DATA, 0)
        h.close()

    return {
        "stat 5 deep": lambda: fs.stat(DEEP + "/f"),
        "listdir 20": lambda: fs.listdir("/list"),
        "open+read+close": read,
        "create+write+close": create,
    }


def pyfakefs_ops() -> Ops:
    from pyfakefs.fake_filesystem import FakeFilesystem
    from pyfakefs.fake_os import FakeOsModule

    fake = FakeFilesystem()
    fake_os = FakeOsModule(fake)
    fake.create_file(DEEP + "/f", contents=DATA)
    for n in range(20):
        fake.create_file(f"/list/f{n}")
    fake.create_dir("/new")
    names = itertools.count()

    def read() -> bytes:
        fd = fake_os.open(DEEP + "/f", os.O_RDONLY)
        try:
            data: bytes = fake_os.read(fd, 4096)
            return data
        finally:
            fake_os.close(fd)

    def create() -> None:
        fd = fake_os.open(f"/new/f{next(names)}", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        fake_os.write(fd, DATA)
        fake_os.close(fd)

    return {
        "stat 5 deep": lambda: fake_os.stat(DEEP + "/f"),
        "listdir 20": lambda: fake_os.listdir("/list"),
        "open+read+close": read,
        "create+write+close": create,
    }


def pyfilesystem2_ops() -> Ops:
    import_fs()
    from fs.memoryfs import MemoryFS

    memory = MemoryFS()
    memory.makedirs(DEEP)
    memory.writebytes(DEEP + "/f", DATA)
    memory.makedir("/list")
    for n in range(20):
        memory.create(f"/list/f{n}")
    memory.makedir("/new")
    names = itertools.count()

    def read() -> bytes:
        with memory.openbin(DEEP + "/f", "r") as f:
            data: bytes = f.read(4096)
            return data

    def create() -> None:
        with memory.openbin(f"/new/f{next(names)}", "w") as f:
            f.write(DATA)

    return {
        "stat 5 deep": lambda: memory.getinfo(DEEP + "/f", namespaces=["details"]),
        "listdir 20": lambda: memory.listdir("/list"),
        "open+read+close": read,
        "create+write+close": create,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    args = parser.parse_args()
    number, repeat = (200, 5) if args.quick else (2000, 25)
    native_root = tempfile.mkdtemp(prefix="bench-native-")
    host_root = tempfile.mkdtemp(prefix="bench-host-")
    host = HostFileSystem(host_root)
    resolver = host.resolver
    try:
        contenders = {
            "native": native_ops(native_root),
            "memory": provider_ops(MemoryFileSystem()),
            "host(root)": provider_ops(host),
            "pyfakefs": pyfakefs_ops(),
            "PyFilesystem2": pyfilesystem2_ops(),
        }
        results = {
            (name, op): median_ns(ops[op], number, repeat)
            for name, ops in contenders.items()
            for op in OPERATIONS
        }
    finally:
        host.close()
        shutil.rmtree(native_root, ignore_errors=True)
        shutil.rmtree(host_root, ignore_errors=True)
    print(f"median ns per call ({repeat} batches of {number}); ratio to native in parentheses")
    print(f"HostFileSystem(root) resolves paths with: {resolver}")
    print(f"{'':20}" + "".join(f"{name:>22}" for name in contenders))
    for op in OPERATIONS:
        base = results[("native", op)]
        cells = "".join(
            f"{results[(name, op)]:>10.0f} ({results[(name, op)] / base:7.2f}x)".rjust(22)
            for name in contenders
        )
        print(f"{op:20}{cells}")
    print("\ntargets:")
    for (name, op), limit in TARGETS.items():
        ratio = results[(name, op)] / results[("native", op)]
        verdict = "met" if ratio <= limit else "MISSED"
        print(f"  {name:12} {op:18} {ratio:5.2f}x (target <= {limit}x): {verdict}")


if __name__ == "__main__":
    main()
