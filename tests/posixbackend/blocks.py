"""One scenario natively in a temporary directory, then inside managed blocks over a memory
and a host file system: the logs it returns must be equal (as test_fcntl and test_mmap use it).

The scenario gets the directory to work in (``/work`` in the blocks) and calls ``os`` itself,
so it runs through the switch as a program would.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import posixbackend
from vfs import HostFileSystem, MemoryFileSystem

PROVIDERS = ("memory", "host")


@contextlib.contextmanager
def native_directory(prefix: str) -> Iterator[str]:
    root = tempfile.mkdtemp(prefix=f"{prefix}-native-")
    try:
        yield root
    finally:
        shutil.rmtree(root)


@contextlib.contextmanager
def managed_directory(provider: str, prefix: str) -> Iterator[str]:
    """``/work`` inside a managed block over a memory file system or a host directory."""
    host = tempfile.mkdtemp(prefix=f"{prefix}-host-")
    try:
        system = HostFileSystem(root=host) if provider == "host" else MemoryFileSystem()
        with posixbackend.backend("managed", file_system=system, cwd="/"):
            os.mkdir("/work")
            yield "/work"
    finally:
        shutil.rmtree(host)


def compare_in_blocks(scenario: Callable[[str], list[Any]], prefix: str) -> list[Any]:
    """The scenario's log natively, then on memory and on a host directory: all equal."""
    with native_directory(prefix) as root:
        native = scenario(root)
    for provider in PROVIDERS:
        with managed_directory(provider, prefix) as root:
            managed = scenario(root)
        assert managed == native, f"{provider}: {managed} != native {native}"
    return native
