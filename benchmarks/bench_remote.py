"""The remote provider against the provider it serves: what crossing the socket costs.

Times, on a MemoryFileSystem directly and through a RemoteFileSystem served from another
thread of the same process (what a child Python of a --fs=memory program pays per call, less
the process switch): a stat five directories deep, a 4 KiB pread, and an open-read-close of a
64 KiB file; prints the median time per call and its ratio. No target: a request is a round
trip on a socket, so a remote call costs tens of microseconds whatever the provider.
Run: ``python -m benchmarks.bench_remote [--quick]``.
"""

from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Callable

from benchmarks.bench_compose import DEEP, deep_tree
from benchmarks.bench_vfs import median_ns
from vfs import FileSystem
from vfs.remote import RemoteFileSystem, serve_pair


def read_whole(fs: FileSystem, path: str) -> bytes:
    with fs.open(path, os.O_RDONLY) as handle:
        return handle.pread(1 << 16, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    args = parser.parse_args()
    number, repeat = (200, 3) if args.quick else (2000, 15)
    memory = deep_tree()
    with memory.open("/big", os.O_CREAT | os.O_RDWR, 0o644) as handle:
        handle.pwrite(b"x" * (1 << 16), 0)
    remote = RemoteFileSystem(serve_pair(memory))
    print(f"median ns per call ({repeat} batches of {number}); ratio remote / memory")
    try:
        local_handle, remote_handle = memory.open(DEEP, os.O_RDWR), remote.open(DEEP, os.O_RDWR)
        local_handle.pwrite(b"y" * 4096, 0)
        calls: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
            "stat 5 deep": (functools.partial(memory.stat, DEEP),
                            functools.partial(remote.stat, DEEP)),
            "pread 4 KiB": (functools.partial(local_handle.pread, 4096, 0),
                            functools.partial(remote_handle.pread, 4096, 0)),
            "open+read 64 KiB+close": (functools.partial(read_whole, memory, "/big"),
                                       functools.partial(read_whole, remote, "/big")),
        }  # fmt: skip
        for name, (local_call, remote_call) in calls.items():
            local = median_ns(local_call, number, repeat)
            served = median_ns(remote_call, number, repeat)
            ratio = served / local
            print(f"  {name:24} memory {local:9.0f}  remote {served:9.0f}  ({ratio:6.1f}x)")
        local_handle.close()
        remote_handle.close()
    finally:
        remote.close()


if __name__ == "__main__":
    main()
