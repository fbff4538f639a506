"""What the PyFilesystem2 adapter costs per call, in both directions.

Wrapped: PyFilesystemProvider over fs.memoryfs.MemoryFS against MemoryFS itself (stat against
getinfo with the same namespaces, a small open+read+close against openbin+read+close).
Exposed: ProviderFS over MemoryFileSystem against the provider itself (getinfo against stat,
openbin+read+close against open+pread+close). Prints the median time per call and the
adapter's overhead. Run: ``python -m benchmarks.bench_pyfilesystem [--quick]``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from benchmarks.bench_vfs import median_ns
from vfs import MemoryFileSystem
from vfs.adapters.fs2_import import import_fs
from vfs.adapters.pyfilesystem import ProviderFS, PyFilesystemProvider
from vfs.adapters.pyfilesystem.stats import NAMESPACES

import_fs()
from fs.memoryfs import MemoryFS  # noqa: E402

DEEP = "/a/b/c/d/e"
DATA = b"x" * 100
Pair = tuple[str, Callable[[], object], Callable[[], object]]


def wrapped_pairs() -> list[Pair]:
    """(operation, the wrapped library alone, through the adapter) over one MemoryFS."""
    library = MemoryFS()
    library.makedirs(DEEP)
    library.writebytes(DEEP + "/f", DATA)
    provider = PyFilesystemProvider(library, own=False)
    path = DEEP + "/f"

    def library_read() -> bytes:
        with library.openbin(path, "r") as f:
            data: bytes = f.read()
            return data

    def adapter_read() -> bytes:
        with provider.open(path, os.O_RDONLY) as h:
            return h.pread(4096, 0)

    return [
        ("stat 5 deep", lambda: library.getinfo(path, NAMESPACES), lambda: provider.stat(path)),
        ("open+read+close", library_read, adapter_read),
    ]


def exposed_pairs() -> list[Pair]:
    """(operation, the provider alone, through ProviderFS) over one MemoryFileSystem."""
    provider = MemoryFileSystem()
    exposed = ProviderFS(provider)
    exposed.makedirs(DEEP)
    exposed.writebytes(DEEP + "/f", DATA)
    path = DEEP + "/f"

    def provider_read() -> bytes:
        with provider.open(path, os.O_RDONLY) as h:
            return h.pread(4096, 0)

    def exposed_read() -> bytes:
        with exposed.openbin(path, "r") as f:
            data: bytes = f.read()
            return data

    return [
        ("stat 5 deep", lambda: provider.stat(path), lambda: exposed.getinfo(path, ["details"])),
        ("open+read+close", provider_read, exposed_read),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer calls (smoke test)")
    args = parser.parse_args()
    number, repeat = (200, 3) if args.quick else (5000, 7)
    for title, base, pairs in (
        ("wrapped: PyFilesystemProvider(MemoryFS)", "MemoryFS", wrapped_pairs()),
        ("exposed: ProviderFS(MemoryFileSystem)", "provider", exposed_pairs()),
    ):
        print(title)
        for name, alone, adapted in pairs:
            alone_ns = median_ns(alone, number, repeat)
            adapted_ns = median_ns(adapted, number, repeat)
            print(
                f"  {name:<16} {base} {alone_ns / 1000:8.2f} us   adapter "
                f"{adapted_ns / 1000:8.2f} us   overhead {(adapted_ns - alone_ns) / 1000:+8.2f} us"
                f" ({adapted_ns / alone_ns:.1f}x)"
            )


if __name__ == "__main__":
    main()
