"""install() and uninstall(): what is replaced, what is not, and that nothing is left behind."""

from __future__ import annotations

import _io
import _posixsubprocess
import builtins
import io
import os
import pickle
import posix
import sys
import threading
import types
from collections.abc import Iterator
from concurrent.futures.thread import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import posixbackend
from posixbackend import backend
from vfs import Identity, MemoryFileSystem

pytestmark = pytest.mark.usefixtures("uninstalled")
NAMESPACES: tuple[Any, ...] = (
    os, io, builtins, _posixsubprocess, posix, _io, threading.Thread, ThreadPoolExecutor,
)  # fmt: skip


def state() -> dict[str, dict[str, int]]:
    """Every attribute of every switched namespace, by identity."""
    return {
        repr(space): {name: id(value) for name, value in vars(space).items()}
        for space in NAMESPACES
    }


def make_module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(source, module.__dict__)
    return module


@pytest.fixture
def copies() -> Iterator[types.ModuleType]:
    """A module that took os's objects under its own names before the stand-ins came."""
    source = (
        "import os\nfrom os import stat, environ, supports_fd\nfrom io import open as io_open\n"
        "class Globber:\n"  # as 3.13's glob._StringGlobber
        "    scandir = staticmethod(os.scandir)\n"
        "    lstat = os.lstat\n"
        "    other = staticmethod(len)\n"
    )
    module = make_module("_pb_copies", source)
    yield module
    del sys.modules["_pb_copies"]


def test_uninstall_leaves_every_namespace_exactly_as_before(copies: types.ModuleType) -> None:
    before = state()
    copied = dict(vars(copies))
    members = dict(vars(copies.Globber))
    posixbackend.install()
    assert os.stat is not posix.stat and builtins.open is not _io.open
    assert _posixsubprocess.fork_exec is not None
    posixbackend.uninstall()
    assert state() == before
    assert dict(vars(copies)) == copied
    assert dict(vars(copies.Globber)) == members


def test_installing_twice_changes_nothing_more() -> None:
    posixbackend.install()
    once = state()
    posixbackend.install()
    assert state() == once


def test_what_is_replaced(copies: types.ModuleType) -> None:
    kept = ("fspath", "strerror", "WEXITSTATUS", "major", "fsencode", "walk", "makedirs", "getenv")
    unswitched = {name: getattr(os, name) for name in kept}
    spawnv = os.spawnv
    posixbackend.install()
    switched = ("stat", "open", "read", "listdir", "scandir", "chdir", "getcwd", "putenv", "fork")
    for name in switched:
        assert getattr(os, name) is not getattr(posix, name), name
    assert os.spawnv is not spawnv, "os's own spawn* run fork; the backend has its own"
    assert {name: getattr(os, name) for name in kept} == unswitched, "pure or built on os.*"
    assert io.open is builtins.open and io.open is not _io.open
    assert io.FileIO is not _io.FileIO and io.open_code is not _io.open_code
    assert copies.stat is os.stat and copies.environ is os.environ and copies.io_open is io.open
    assert copies.supports_fd is os.supports_fd
    globber = copies.Globber
    assert globber.scandir is os.scandir and globber.lstat is os.lstat, "class attributes too"
    assert isinstance(vars(globber)["scandir"], staticmethod) and globber.other is len


def test_the_real_posix_and_io_modules_are_never_touched() -> None:
    untouched = {name: id(value) for name, value in vars(posix).items()}
    untouched_io = {name: id(value) for name, value in vars(_io).items()}
    posixbackend.install()
    assert {name: id(value) for name, value in vars(posix).items()} == untouched
    assert {name: id(value) for name, value in vars(_io).items()} == untouched_io


def test_posix_imported_after_install_is_switched_and_earlier_imports_keep_the_real_one(
    tmp_path: Path,
) -> None:
    posixbackend.install()
    module = make_module("_pb_posix_user", "import posix")
    try:
        switched = module.posix
        assert switched is sys.modules["posix"] and switched is not posix
        assert switched.stat is os.stat and switched.O_RDONLY == posix.O_RDONLY
        assert switched.stat_result is posix.stat_result
        with posixbackend.backend("managed", file_system=MemoryFileSystem()):
            fd = switched.open("/made", switched.O_CREAT | switched.O_WRONLY)
            assert switched.write(fd, b"abc") == 3
            switched.close(fd)
            assert switched.environ is not posix.environ
            assert switched.stat("/made").st_size == 3
            assert os.path.exists("/made")
        assert switched.stat(str(tmp_path)) == posix.stat(str(tmp_path))
        posixbackend.uninstall()
        assert sys.modules["posix"] is posix and module.posix is posix
    finally:
        del sys.modules["_pb_posix_user"]


def test_modules_that_copied_stand_ins_get_the_real_objects_back() -> None:
    posixbackend.install()
    source = "from os import lstat\nimport builtins\nopener = builtins.open"
    module = make_module("_pb_late", source)
    try:
        assert module.lstat is os.lstat and module.lstat is not posix.lstat
        posixbackend.uninstall()
        assert module.lstat is posix.lstat and module.opener is _io.open
    finally:
        del sys.modules["_pb_late"]


def test_stand_ins_look_like_the_functions_they_replace(tmp_path: Path) -> None:
    posixbackend.install()
    assert os.stat.__name__ == "stat" and os.stat.__doc__ == posix.stat.__doc__
    assert pickle.loads(pickle.dumps(os.stat)) is os.stat
    assert os.stat in os.supports_fd and os.stat in os.supports_dir_fd
    assert posix.stat in os.supports_fd, "the real function is still a member natively"
    assert repr(os.stat) == repr(posix.stat)

    class Holder:  # a builtin kept as a class attribute is not bound to instances
        stat: Any = os.stat
        opener: Any = open

    assert Holder().stat(str(tmp_path)) == posix.stat(str(tmp_path))
    Holder().opener(tmp_path / "made", "w").close()
    assert {os.open, os.stat, os.unlink, os.rmdir} <= os.supports_dir_fd
    assert isinstance(os.supports_fd | set(), set)
    with open(tmp_path / "f", "wb") as raw_holder:
        assert isinstance(raw_holder.raw, io.FileIO)


def test_native_behaviour_is_the_real_one_errors_included(tmp_path: Path) -> None:
    def observe() -> list[Any]:
        seen: list[Any] = []
        for call in (
            lambda: os.stat(str(tmp_path / "missing")),
            lambda: open(tmp_path / "missing"),  # noqa: SIM115 - it fails
            lambda: os.open(str(tmp_path), os.O_WRONLY),
            lambda: os.read(-1, 1),
            lambda: os.stat(b"a\0b"),
            lambda: os.stat(3.5),  # type: ignore[arg-type]
            lambda: os.listdir(str(tmp_path)),
            lambda: io.FileIO(str(tmp_path / "nope")),
            lambda: os.environ.get("PATH"),
        ):
            try:
                seen.append(call())
            except Exception as error:  # noqa: BLE001 - recording what native raises
                seen.append((type(error), str(error), getattr(error, "errno", None)))
        return seen

    before = observe()
    posixbackend.install()
    assert observe() == before


def test_os_environ_natively_is_the_process_environment() -> None:
    posixbackend.install()
    os.environ["PB_SWITCH_TEST"] = "1"
    try:
        assert posix.environ[b"PB_SWITCH_TEST"] == b"1"
        assert os.getenv("PB_SWITCH_TEST") == "1" and os.environb[b"PB_SWITCH_TEST"] == b"1"
    finally:
        del os.environ["PB_SWITCH_TEST"]
    assert b"PB_SWITCH_TEST" not in posix.environ


def test_os_environ_in_a_block_is_the_backends() -> None:
    fs = MemoryFileSystem(identity=Identity.root())
    with backend("managed", file_system=fs, environ={b"ONLY": b"here"}):
        assert dict(os.environ) == {"ONLY": "here"}
        os.environ["NEW"] = "v"
        assert os.getenv("NEW") == "v" and os.environb[b"NEW"] == b"v"
        assert (os.environ | {"X": "y"})["X"] == "y"
    assert "NEW" not in os.environ and "ONLY" not in os.environ


COPY_FORMS = {
    "name": "from os import stat as copied\n",
    "default": "def f(x, s=os.stat):\n    pass\n",
    "keyword default": "def f(*, s=os.stat):\n    pass\n",
    "class attribute": "class C:\n    s = os.stat\n",
    "staticmethod": "class C:\n    s = staticmethod(os.stat)\n",
    "method default": "class C:\n    def m(self, s=os.stat):\n        pass\n",
    "staticmethod default": "class C:\n    @staticmethod\n    def m(s=os.stat):\n        pass\n",
    "classmethod keyword default": "class C:\n    @classmethod\n    def m(cls, *, s=os.stat):\n"
    "        pass\n",
}
"""Every place the scan for copies looks at, each holding the real os.stat."""
NO_COPY_FORMS = {
    "module": "import os\n",
    "call": "def f(x):\n    return os.stat(x)\n",
    "other default": "def f(x, s=len):\n    pass\n",
    "imported class": "from collections import OrderedDict\n",
    "class of another module": "class C:\n    pass\nC.__module__ = 'elsewhere'\nC.s = os.stat\n",
}
"""Places the scan does not look at (a class another module defines is scanned there)."""


@given(
    copies=st.lists(st.sampled_from(sorted(COPY_FORMS)), max_size=3, unique=True),
    others=st.lists(st.sampled_from(sorted(NO_COPY_FORMS)), max_size=3, unique=True),
)
@settings(max_examples=60, deadline=None)
def test_the_quick_look_for_copies_misses_none(copies: list[str], others: list[str]) -> None:
    """The C-level look that picks the modules to scan (installation._may_hold) says yes for
    every module the exact scan finds a copy in, whatever the mix of places."""
    from posixbackend.switch import installation

    source = "import os\n" + "".join(
        "\n" + (COPY_FORMS.get(form) or NO_COPY_FORMS[form]) for form in [*others, *copies]
    )
    module = make_module("_pb_forms", source)
    try:
        table = {id(posix.stat): (posix.stat, object())}
        found = list(installation.Installation._copies(table, [("_pb_forms", module)]))
        assert bool(found) == bool(copies)
        assert installation._may_hold("_pb_forms", module, table.keys()) == bool(copies)
    finally:
        del sys.modules["_pb_forms"]


def test_the_quick_look_changes_nothing_the_scan_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over every module loaded in this process, with every real object the switch replaces:
    the scan finds the same copies with the quick look as without it."""
    from posixbackend.switch import installation

    natives = [*vars(posix).values(), *vars(_io).values(), *vars(_posixsubprocess).values()]
    table = {id(value): (value, object()) for value in natives if callable(value)}
    modules = list(sys.modules.items())

    def found() -> list[tuple[Any, ...]]:
        # a staticmethod found becomes a fresh staticmethod each time: compared by function
        return [
            tuple(item.__func__ if isinstance(item, staticmethod) else item for item in copy)
            for copy in installation.Installation._copies(table, modules)
        ]

    quick = found()
    monkeypatch.setattr(installation, "_may_hold", lambda *arguments: True)
    assert quick == found()
    assert len(quick) > 10  # the real world holds copies (tempfile's defaults, shutil's...)
