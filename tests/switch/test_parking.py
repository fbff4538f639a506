"""Parked stand-ins: once no block is active, every replaced name holds the real object again
(other libraries -- pyfakefs, mock -- see the real os), and the next block puts them back.
Parking waits for the first stand-in called outside every block (or pyfakefs being loaded, or
an explicit park), so that a run of blocks does not park and unpark between them."""

from __future__ import annotations

import _io
import builtins
import os
import posix
import sys
import threading
import types
from unittest import mock

import pytest

import posixbackend
from posixbackend import Permissions, backend
from posixbackend.switch.installation import INSTALLATION
from vfs import MemoryFileSystem

pytestmark = pytest.mark.usefixtures("uninstalled", "lazy_parking")


@pytest.fixture
def lazy_parking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parking waits for a native call even though pyfakefs is loaded (its pytest plugin
    imports it into every test run)."""
    monkeypatch.setattr("posixbackend.switch.installation.EAGER_PARKING", frozenset())


def make_module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(source, module.__dict__)
    return module


def parked_at_first_call() -> bool:
    """Whether a native call outside every block parks the stand-ins (and gets the real
    answer)."""
    assert INSTALLATION.pending
    assert os.getcwd() == posix.getcwd()
    return real_objects_in_place()


def real_objects_in_place() -> bool:
    return (
        os.stat is posix.stat
        and builtins.open is _io.open
        and sys.modules["posix"] is posix
        and threading.Thread.start.__module__ == "threading"
    )


def test_the_stand_ins_are_parked_when_the_last_block_ends() -> None:
    with backend("managed", file_system=MemoryFileSystem()):
        assert not real_objects_in_place()
        with backend("managed", file_system=MemoryFileSystem()):
            assert not real_objects_in_place()
        assert not real_objects_in_place(), "the outer block still runs"
    assert parked_at_first_call()
    with backend("managed", file_system=MemoryFileSystem()):
        open("/x", "w").close()
        assert os.path.exists("/x")
    assert not os.path.exists("/x") and real_objects_in_place()


def test_a_run_of_blocks_is_not_parked_in_between(monkeypatch: pytest.MonkeyPatch) -> None:
    with backend("managed", file_system=MemoryFileSystem()):
        pass
    parks: list[bool] = []
    monkeypatch.setattr(INSTALLATION, "_park", lambda: parks.append(True))
    for _ in range(3):
        with backend("managed", file_system=MemoryFileSystem()):
            assert not real_objects_in_place()
        assert not real_objects_in_place() and INSTALLATION.pending
    assert not parks
    posixbackend.switch.park()
    assert parks == [True] and not INSTALLATION.pending


def test_an_explicit_park_and_pyfakefs_park_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with backend("managed", file_system=MemoryFileSystem()):
        pass
    assert not real_objects_in_place()
    posixbackend.switch.park()
    assert real_objects_in_place()
    monkeypatch.setitem(sys.modules, "pyfakefs.fake_filesystem_unittest", types.ModuleType("p"))
    monkeypatch.setattr(
        "posixbackend.switch.installation.EAGER_PARKING",
        frozenset({"pyfakefs.fake_filesystem_unittest"}),
    )
    with backend("managed", file_system=MemoryFileSystem()):
        assert not real_objects_in_place()
    assert real_objects_in_place() and not INSTALLATION.pending


class _RefusingVariable:
    """ACTIVE refusing to change (what it holds is read first: None, outside blocks)."""

    def get(self) -> None:
        return None

    def set(self, value: object) -> None:
        raise PermissionError("refused while entering")


@pytest.mark.parametrize("permissions", [None, Permissions.all()], ids=["plain", "permissions"])
def test_a_block_that_fails_to_enter_parks_them_again(
    monkeypatch: pytest.MonkeyPatch, permissions: Permissions | None
) -> None:
    """Both ways in: a block without permissions anywhere (its short path) and one with."""
    from posixbackend.switch.block import BackendBlock

    def refuse(self: BackendBlock, policy: object) -> None:
        raise PermissionError("refused while entering")

    monkeypatch.setattr(BackendBlock, "_serving", refuse)
    monkeypatch.setattr("posixbackend.switch.block.ACTIVE", _RefusingVariable())
    with pytest.raises(PermissionError), backend(
        "managed", file_system=MemoryFileSystem(), permissions=permissions
    ):
        pass
    assert parked_at_first_call()


def test_copies_made_in_a_block_and_while_parked_follow() -> None:
    with backend("managed", file_system=MemoryFileSystem()):
        source = "from os import stat\nimport builtins\no = builtins.open"
        during = make_module("_pb_during", source)
        assert during.stat is os.stat and during.stat is not posix.stat
    posixbackend.switch.park()
    parked = make_module("_pb_parked", "from os import lstat")
    try:
        assert during.stat is posix.stat and during.o is _io.open
        assert parked.lstat is posix.lstat
        with backend("managed", file_system=MemoryFileSystem()):
            assert during.stat is os.stat is not posix.stat
            assert parked.lstat is os.lstat is not posix.lstat
        during.stat("/")  # the first call of a copy parks them all
        assert during.stat is posix.stat and parked.lstat is posix.lstat
    finally:
        del sys.modules["_pb_during"], sys.modules["_pb_parked"]


def test_a_mock_keeps_its_name_across_blocks() -> None:
    mocked = mock.Mock(return_value="mocked")
    with mock.patch("os.stat", mocked):
        with backend("managed", file_system=MemoryFileSystem()):
            assert os.stat is mocked
        assert os.stat is mocked
    assert parked_at_first_call()
    with backend("managed", file_system=MemoryFileSystem()):
        with mock.patch("os.listdir", return_value=["m"]):
            assert os.listdir("/") == ["m"]
        assert os.listdir("/") != ["m"]
    assert os.listdir("/") == posix.listdir("/")
    assert os.listdir is posix.listdir


def test_a_thread_started_in_a_block_keeps_them_until_it_ends() -> None:
    release, ready = threading.Event(), threading.Event()
    seen: list[bool] = []

    def work() -> None:
        ready.set()
        release.wait(10)
        seen.append(os.path.exists("/in-memory"))

    with backend("managed", file_system=MemoryFileSystem()):
        open("/in-memory", "w").close()
        thread = threading.Thread(target=work)
        thread.start()
        ready.wait(10)
    assert not real_objects_in_place(), "the thread still runs under the block's backend"
    release.set()
    thread.join(10)
    assert seen == [True]
    assert parked_at_first_call()


def test_restricting_blocks_and_explicit_installs_keep_them() -> None:
    with backend("managed", permissions=Permissions(allow_io="all", allow_create_process=False)):
        pass
    assert not real_objects_in_place(), "a restricted guest's context may outlive its block"
    posixbackend.uninstall()
    posixbackend.install()
    with backend("managed", file_system=MemoryFileSystem()):
        pass
    assert not real_objects_in_place()
    assert INSTALLATION.installed


def test_a_park_from_a_finder_during_an_import_skips_no_finder() -> None:
    """A finder after the path finder calls os.stat (a stand-in) while an import walks
    sys.meta_path: the park that call makes must not shift the list under the walk (the
    next finder, which provides the module, would be skipped)."""
    import importlib.abc
    import importlib.machinery
    import importlib.util

    class Calling(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname: str, path: object, target: object = None) -> None:
            os.stat("/")

    class Providing(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(
            self, fullname: str, path: object, target: object = None
        ) -> importlib.machinery.ModuleSpec | None:
            if fullname != "_pb_provided":
                return None
            return importlib.util.spec_from_loader(fullname, self)

        def exec_module(self, module: types.ModuleType) -> None:
            module.VALUE = "provided"  # type: ignore[attr-defined]

    with backend("managed", file_system=MemoryFileSystem()):
        pass
    finders = [Calling(), Providing()]
    sys.meta_path.extend(finders)
    try:
        assert INSTALLATION.pending
        import _pb_provided  # type: ignore[import-not-found]

        assert _pb_provided.VALUE == "provided" and real_objects_in_place()
    finally:
        for finder in finders:
            sys.meta_path.remove(finder)
        sys.modules.pop("_pb_provided", None)
