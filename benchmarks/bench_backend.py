"""The emulated backend against native os (and pyfakefs's fake os), in one run.

Times, through the backend object over a MemoryFileSystem: stat of a file five directories
deep, open+read+close of a small file, an lseek+read and an lseek+write loop on an open
file (the write is untargeted: it shows the offset's hot path without the accelerator); and the
throughput of an in-memory pipe between two threads. Prints medians and ratios to native.

Targets (issue 4): stat, open+read+close and lseek/read at most 1.0x native. The emulated
backend is measured with its C accelerator (when built) and with the Python code alone.
Run: ``python -m benchmarks.bench_backend [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from benchmarks.bench_vfs import median_ns
from posixbackend.emulated import EmulatedBackend, accelerator
from vfs import MemoryFileSystem

DEEP = "/a/b/c/d/e"
DATA = b"x" * 100
OPERATIONS = ("stat 5 deep", "open+read+close", "lseek+read", "lseek+write")
TARGETED = OPERATIONS[:3]
Ops = dict[str, Callable[[], object]]


def os_like_ops(osmod: Any, root: str) -> Ops:
    """The operations on anything shaped like os (native os, the backend, a fake os)."""
    deep = root + DEEP
    path = deep + "/f"

    def read() -> bytes:
        fd = osmod.open(path, os.O_RDONLY)
        try:
            data: bytes = osmod.read(fd, 4096)
            return data
        finally:
            osmod.close(fd)

    fd = osmod.open(path, os.O_RDONLY)

    def seek_read() -> bytes:
        osmod.lseek(fd, 0, os.SEEK_SET)
        data: bytes = osmod.read(fd, 4096)
        return data

    out = osmod.open(deep + "/w", os.O_CREAT | os.O_WRONLY, 0o644)

    def seek_write() -> int:
        osmod.lseek(out, 0, os.SEEK_SET)
        written: int = osmod.write(out, DATA)
        return written

    return {
        "stat 5 deep": lambda: osmod.stat(path),
        "open+read+close": read,
        "lseek+read": seek_read,
        "lseek+write": seek_write,
    }


def native_ops() -> tuple[Ops, str]:
    root = tempfile.mkdtemp(prefix="bench-backend-")
    os.makedirs(root + DEEP)
    with open(root + DEEP + "/f", "wb") as f:
        f.write(DATA)
    return os_like_ops(os, root), root


def backend_ops(accelerated: bool) -> Ops:
    backend = EmulatedBackend(MemoryFileSystem(), accelerated=accelerated)
    path = ""
    for part in DEEP.strip("/").split("/"):
        path += "/" + part
        backend.mkdir(path)
    fd = backend.open(DEEP + "/f", os.O_CREAT | os.O_WRONLY, 0o644)
    backend.write(fd, DATA)
    backend.close(fd)
    return os_like_ops(backend, "")


def pyfakefs_ops() -> Ops:
    from pyfakefs.fake_filesystem import FakeFilesystem
    from pyfakefs.fake_os import FakeOsModule

    fake = FakeFilesystem()
    fake.create_file(DEEP + "/f", contents=DATA)
    return os_like_ops(FakeOsModule(fake), "")


def pipe_throughput(osmod: Any, total: int, chunk: int = 65536) -> float:
    """MB/s of a writer thread pushing ``total`` bytes through a pipe to a reader thread."""
    reader, writer = osmod.pipe()
    payload = b"p" * chunk

    def produce() -> None:
        sent = 0
        while sent < total:
            sent += osmod.write(writer, payload)
        osmod.close(writer)

    thread = threading.Thread(target=produce)
    start = time.perf_counter()
    thread.start()
    received = 0
    while True:
        data = osmod.read(reader, chunk)
        if not data:
            break
        received += len(data)
    thread.join()
    elapsed = time.perf_counter() - start
    osmod.close(reader)
    return received / elapsed / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    args = parser.parse_args()
    number, repeat = (200, 5) if args.quick else (2000, 25)
    pipe_bytes = (4 if args.quick else 64) << 20
    native, root = native_ops()
    try:
        contenders = {"native": native}
        if accelerator.AVAILABLE:
            contenders["emulated"] = backend_ops(accelerated=True)
        contenders["emulated, Python"] = backend_ops(accelerated=False)
        contenders["pyfakefs os"] = pyfakefs_ops()
        results = {
            (name, op): median_ns(ops[op], number, repeat)
            for name, ops in contenders.items()
            for op in OPERATIONS
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        "C accelerator: "
        + ("built (the emulated column)" if accelerator.AVAILABLE else accelerator.MISSING)
    )
    print(f"median ns per call ({repeat} batches of {number}); ratio to native in parentheses")
    print(f"{'':18}" + "".join(f"{name:>22}" for name in contenders))
    for op in OPERATIONS:
        base = results[("native", op)]
        print(
            f"{op:18}"
            + "".join(
                f"{results[(name, op)]:>10.0f} ({results[(name, op)] / base:7.2f}x)".rjust(22)
                for name in contenders
            )
        )
    speeds = {
        name: statistics.median(pipe_throughput(osmod, pipe_bytes) for _ in range(3))
        for name, osmod in (("native", os), ("emulated", EmulatedBackend(MemoryFileSystem())))
    }
    print(
        "\npipe throughput, 64 KiB writes between two threads: "
        f"native {speeds['native']:.0f} MB/s, "
        f"emulated {speeds['emulated']:.0f} MB/s ({speeds['emulated'] / speeds['native']:.2f}x)"
    )
    print("\ntargets (at most 1.0x native):")
    for name in contenders:
        if name.startswith("emulated"):
            for op in TARGETED:
                ratio = results[(name, op)] / results[("native", op)]
                verdict = "met" if ratio <= 1.0 else "MISSED"
                print(f"  {name:17} {op:18} {ratio:5.2f}x: {verdict}")


if __name__ == "__main__":
    main()
