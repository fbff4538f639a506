"""PyFilesystem2's own test suite (fs.test.FSTestCases) over our providers, exposed as FSs.

Adding a provider is one line in PROVIDERS: a name and a function from a fresh host
directory to a provider.
"""

from __future__ import annotations

import shutil
import tempfile
import unittest
from collections.abc import Callable
from typing import Any

from vfs import FileSystem, HostFileSystem, Identity, MemoryFileSystem, OverlayFileSystem
from vfs.adapters.fs2_import import import_fs
from vfs.adapters.pyfilesystem import ProviderFS
from vfs.adapters.pyfilesystem.library import FS

import_fs()
from fs.test import FSTestCases  # noqa: E402

PROVIDERS: dict[str, Callable[[str], FileSystem]] = {
    "Memory": lambda root: MemoryFileSystem(identity=Identity.root()),
    "Host": HostFileSystem,
    "Overlay": lambda root: OverlayFileSystem(
        MemoryFileSystem(identity=Identity.root()), HostFileSystem(root)
    ),
}


def _case(name: str, make: Callable[[str], FileSystem]) -> type[unittest.TestCase]:
    """A TestCase running every FSTestCases test on ``make``'s provider."""

    class Case(FSTestCases, unittest.TestCase):
        # fs 2.4.16's test_remove calls the alias Python 3.12 removed from unittest
        assertRaisesRegexp = unittest.TestCase.assertRaisesRegex

        def make_fs(self) -> FS:
            self._root = tempfile.mkdtemp(prefix="pb-fs2-")
            return ProviderFS(make(self._root), own=True)

        def destroy_fs(self, fs: Any) -> None:
            fs.close()
            shutil.rmtree(self._root, ignore_errors=True)

    Case.__name__ = Case.__qualname__ = f"Test{name}ProviderFS"
    return Case


for _name, _make in PROVIDERS.items():
    globals()[f"Test{_name}ProviderFS"] = _case(_name, _make)
