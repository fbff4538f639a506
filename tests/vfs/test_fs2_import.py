"""PyFilesystem2 imports with or without ``pkg_resources`` (gone from setuptools 82+ and from
Python 3.12+ virtual environments)."""

from __future__ import annotations

import subprocess
import sys

WITHOUT_PKG_RESOURCES = """
import importlib.abc, sys

class Gone(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "pkg_resources":
            raise ModuleNotFoundError("No module named 'pkg_resources'", name=name)
        return None

sys.meta_path.insert(0, Gone())
from vfs.adapters.fs2_import import import_fs
fs = import_fs()
from fs.memoryfs import MemoryFS
import fs.opener
memory = MemoryFS()
memory.writetext("/note", "hello")
assert memory.readtext("/note") == "hello"
assert "mem" in fs.opener.registry.protocols, "entry points were not found"
assert fs.open_fs("mem://").listdir("/") == []
assert "pkg_resources" not in sys.modules, "the stand-in was left behind"
print("imported without pkg_resources")
"""


def test_fs_imports_without_pkg_resources() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_PKG_RESOURCES], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "imported without pkg_resources" in result.stdout


def test_fs_imports_with_pkg_resources_quietly() -> None:
    code = (
        "import warnings; warnings.simplefilter('error')\n"
        "from vfs.adapters.fs2_import import import_fs; import_fs()\n"
        "from fs.memoryfs import MemoryFS; MemoryFS().makedir('/d')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
