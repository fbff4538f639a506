"""The composing providers against the provider they wrap: what a stat through them costs.

Times stat of a file five directories deep on a MemoryFileSystem directly, through a
MountFileSystem (the file inside a mounted MemoryFileSystem, so the mount's prefix is part of
the path, and through a Mount with no mounts) and through ReadOnlyFileSystem, and prints the
median time per call and its ratio to the direct stat.

Target (issue 5): a stat through Mount at most 1.5x the same stat on the underlying
MemoryFileSystem. Run: ``python -m benchmarks.bench_compose [--quick]``.
"""

from __future__ import annotations

import argparse
import functools
import os

from benchmarks.bench_vfs import median_ns
from vfs import FileSystem, MemoryFileSystem
from vfs.mount import MountFileSystem
from vfs.readonly import ReadOnlyFileSystem

DEEP = "/a/b/c/d/e/f"
TARGET = 1.5


def deep_tree() -> MemoryFileSystem:
    fs = MemoryFileSystem()
    path = ""
    for part in DEEP.strip("/").split("/")[:-1]:
        path += "/" + part
        fs.mkdir(path, 0o755)
    fs.open(DEEP, os.O_CREAT | os.O_WRONLY, 0o644).close()
    return fs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    args = parser.parse_args()
    number, repeat = (2000, 5) if args.quick else (20000, 25)
    memory = deep_tree()
    root = MemoryFileSystem()
    root.mkdir("/mnt", 0o755)
    contenders: dict[str, tuple[FileSystem, str]] = {
        "memory": (memory, DEEP),
        "mount: in /mnt": (MountFileSystem(root, {"/mnt": memory}), "/mnt" + DEEP),
        "mount: root only": (MountFileSystem(memory), DEEP),
        "read-only": (ReadOnlyFileSystem(memory), DEEP),
    }
    results = {}
    for name, (fs, path) in contenders.items():
        fs.stat(path)  # warm any cache, as every later call finds it
        results[name] = median_ns(functools.partial(fs.stat, path), number, repeat)
    base = results["memory"]
    print(f"stat 5 deep: median ns per call ({repeat} batches of {number}); ratio to memory")
    for name, value in results.items():
        print(f"  {name:18} {value:8.0f} ns ({value / base:5.2f}x)")
    ratio = results["mount: in /mnt"] / base
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"\ntarget: mount stat {ratio:.2f}x of memory stat (target <= {TARGET}x): {verdict}")


if __name__ == "__main__":
    main()
