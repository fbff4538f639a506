"""backend(...) blocks: names, nesting, exceptions, and what current() says."""

from __future__ import annotations

import os

import pytest

from posixbackend import PosixModuleBackend, backend, current, current_emulated
from vfs import Identity, MemoryFileSystem


def memory() -> MemoryFileSystem:
    return MemoryFileSystem(identity=Identity.root())


@pytest.mark.parametrize(
    ("name", "member"),
    [
        ("native", PosixModuleBackend.NATIVE),
        ("java", PosixModuleBackend.JAVA),
        ("managed", PosixModuleBackend.JAVA),
        ("emulated", PosixModuleBackend.JAVA),
        ("Managed", PosixModuleBackend.JAVA),
    ],
)
def test_names_and_aliases(name: str, member: PosixModuleBackend) -> None:
    assert PosixModuleBackend(name) is member
    fs = None if member is PosixModuleBackend.NATIVE else memory()
    assert backend(name, file_system=fs).kind is member


def test_an_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="native, java, managed, emulated"):
        backend("jvm")


def test_the_native_backend_refuses_emulation_options() -> None:
    with pytest.raises(TypeError, match="file_system, cwd"):
        backend("native", file_system=memory(), cwd="/")


def test_blocks_nest_and_restore_the_outer_backend() -> None:
    outer_fs, inner_fs = memory(), memory()
    outer_fs.mkdir("/outer")
    inner_fs.mkdir("/inner")
    assert current() is PosixModuleBackend.NATIVE
    with backend("managed", file_system=outer_fs) as outer:
        assert current() is PosixModuleBackend.JAVA
        assert current_emulated() is outer.emulated
        assert os.listdir("/") == ["outer"]
        with backend("java", file_system=inner_fs):
            assert os.listdir("/") == ["inner"]
            with backend("native"):
                assert current() is PosixModuleBackend.NATIVE
                assert "outer" not in os.listdir("/")
            assert os.listdir("/") == ["inner"]
        assert os.listdir("/") == ["outer"]
    assert current() is PosixModuleBackend.NATIVE and current_emulated() is None


def test_an_exception_leaves_every_block_it_crosses() -> None:
    with (
        pytest.raises(ZeroDivisionError),
        backend("managed", file_system=memory()),
        backend("managed", file_system=memory()),
    ):
        raise ZeroDivisionError
    assert current() is PosixModuleBackend.NATIVE


def test_a_block_may_be_entered_again_and_keeps_its_state() -> None:
    block = backend("managed", file_system=memory())
    with block:
        os.mkdir("/kept")
        os.chdir("/kept")
    assert current() is PosixModuleBackend.NATIVE
    with block:
        assert os.getcwd() == "/kept"


def test_the_block_names_its_backend_and_file_system() -> None:
    fs = memory()
    block = backend("managed", file_system=fs, cwd="/", time_resolution_ns=1)
    assert block.file_system is fs and block.emulated is not None
    assert block.emulated.time_resolution_ns == 1
    assert backend("native").file_system is None
    assert "java" in repr(block)
