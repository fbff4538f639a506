"""The emulated sides a program runs on: a backend over each provider, each seeded with the
tree :func:`~tests.posixbackend.fuzzing.execution.seed` makes natively.

Over an overlay the seed is in the lower layer (so programs copy up); with a mount, ``m`` is
the root of a second provider of the same kind (natively, a tmpfs).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from posixbackend.emulated import EmulatedBackend
from tests.posixbackend.fuzzing import execution
from vfs import (
    FileSystem,
    HostFileSystem,
    Identity,
    MemoryFileSystem,
    MountFileSystem,
    OverlayFileSystem,
)


@attrs.frozen
class Configuration:
    """How to build a file system for one run; ``mount``: ``m`` is a mount point."""

    name: str
    build: Callable[[Callable[[], str]], FileSystem]
    mount: bool = False


def _memory(directory: Callable[[], str]) -> FileSystem:
    return MemoryFileSystem(identity=Identity.root())


def _host(directory: Callable[[], str]) -> FileSystem:
    return HostFileSystem(directory())


def _seeded(file_system: FileSystem, mount: bool = False, only_m: bool = False) -> FileSystem:
    backend = EmulatedBackend(file_system, identity=Identity.root(), standard_streams=False)
    if only_m:
        fd = backend.open("c", 0o1101, 0o644)  # O_WRONLY | O_CREAT | O_TRUNC
        backend.write(fd, execution.SEED_FILES["m/c"])
        backend.close(fd)
    else:
        execution.seed(backend, mount=mount)
    return file_system


def _overlay(lower: Callable[[Callable[[], str]], FileSystem]) -> Any:
    def build(directory: Callable[[], str]) -> FileSystem:
        return OverlayFileSystem(_memory(directory), _seeded(lower(directory)))

    return build


def _mounted(root: Callable[[Callable[[], str]], FileSystem], overlay: bool) -> Any:
    def build(directory: Callable[[], str]) -> FileSystem:
        root_fs = root(directory)
        if overlay:
            lower = root_fs.lower  # type: ignore[attr-defined]
            _seeded(lower, mount=False)
            mounted: FileSystem = OverlayFileSystem(_memory(directory), _memory(directory))
            _seeded(mounted.lower, only_m=True)  # type: ignore[attr-defined]
        else:
            mounted = root(directory)
        return MountFileSystem(root_fs, {"/m": mounted}, create_mount_points=True)

    return build


def _bare_overlay(lower: Callable[[Callable[[], str]], FileSystem]) -> Any:
    def build(directory: Callable[[], str]) -> FileSystem:
        return OverlayFileSystem(_memory(directory), lower(directory))

    return build


CONFIGURATIONS = {
    c.name: c
    for c in (
        Configuration("memory", _memory),
        Configuration("host", _host),
        Configuration("overlay-memory", _overlay(_memory)),
        Configuration("overlay-host", _overlay(_host)),
        Configuration("mount-memory", _mounted(_memory, overlay=False), mount=True),
        Configuration("mount-host", _mounted(_host, overlay=False), mount=True),
        Configuration(
            "mount-overlay-memory", _mounted(_bare_overlay(_memory), overlay=True), mount=True
        ),
        Configuration(
            "mount-overlay-host", _mounted(_bare_overlay(_host), overlay=True), mount=True
        ),
    )
}
"""Every emulated side, by name."""


@contextlib.contextmanager
def backend_for(configuration: Configuration) -> Iterator[EmulatedBackend]:
    """A fresh backend over ``configuration``, seeded; host directories removed afterwards."""
    made: list[str] = []

    def directory() -> str:
        made.append(tempfile.mkdtemp(prefix="pb-fuzz-", dir="/tmp"))
        os.chmod(made[-1], 0o755)  # as the native tmpfs and test directory
        return made[-1]

    try:
        file_system = configuration.build(directory)
        overlaid = configuration.name.startswith(("overlay", "mount-overlay"))
        if not overlaid:
            _seeded(file_system, mount=configuration.mount)
        backend = EmulatedBackend(
            file_system, identity=Identity.root(), standard_streams=False
        )
        try:
            yield backend
        finally:
            file_system.close()
    finally:
        for path in made:
            shutil.rmtree(path, ignore_errors=True)
