"""Real os functions taken as default argument values get stand-ins too (tempfile's closer)."""

from __future__ import annotations

import posix
import sys
import tempfile
import types
from collections.abc import Iterator

import pytest

import posixbackend
from vfs import MemoryFileSystem

SOURCE = """
import os
def remove(path, unlink=os.unlink):
    unlink(path)
class Closer:
    def close(self, *, stat=os.stat, text="kept"):
        return stat
    @staticmethod
    def scan(path=".", scandir=os.scandir):
        return scandir
"""


@pytest.fixture
def defaults_module(uninstalled: None) -> Iterator[types.ModuleType]:
    """A module whose functions took real os functions as defaults before any install."""
    module = types.ModuleType("_pb_defaults")
    sys.modules[module.__name__] = module
    exec(SOURCE, module.__dict__)
    yield module
    del sys.modules[module.__name__]


def test_defaults_get_the_stand_ins_and_get_the_real_objects_back(defaults_module) -> None:
    closer = defaults_module.Closer
    posixbackend.install()
    import os

    assert defaults_module.remove.__defaults__ == (os.unlink,)
    assert os.unlink is not posix.unlink
    assert closer.close.__kwdefaults__ == {"stat": os.stat, "text": "kept"}
    assert closer.scan() is os.scandir
    posixbackend.uninstall()
    assert defaults_module.remove.__defaults__ == (posix.unlink,)
    assert closer.close.__kwdefaults__ == {"stat": posix.stat, "text": "kept"}
    assert closer.scan() is posix.scandir


def test_defaults_taken_from_stand_ins_get_the_real_objects_back(uninstalled: None) -> None:
    posixbackend.install()
    module = types.ModuleType("_pb_late_defaults")
    sys.modules[module.__name__] = module
    try:
        exec(SOURCE, module.__dict__)
        posixbackend.uninstall()
        assert module.remove.__defaults__ == (posix.unlink,)
    finally:
        del sys.modules[module.__name__]


def test_named_temporary_file_is_removed_from_the_managed_file_system(uninstalled: None) -> None:
    memory = MemoryFileSystem()
    with posixbackend.backend("managed", file_system=memory, cwd="/"):
        with tempfile.NamedTemporaryFile(dir="/") as file:
            name = file.name
            import os

            assert os.path.exists(name)
        assert not os.path.exists(name)
