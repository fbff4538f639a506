"""The pytest plugin: ``managed_fs`` fixtures and the ``posixbackend`` marker.

Registered through the ``pytest11`` entry point as ``posixbackend`` (``-p no:posixbackend``
turns it off). ``managed_fs`` is a fresh managed block per test; ``managed_fs_module`` and
``managed_fs_session`` one file system per module or session (their tests share its files;
the block is entered for each test, so blocks always end in the order they began). A test asks
for options with ``@pytest.mark.posixbackend(fs=..., permissions=..., time_resolution_ns=...,
umask=..., cwd=..., identity=..., max_bytes=...)``. When the test also uses ``tmp_path`` (or
``tmpdir``), that directory exists, empty, in the managed file system too.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from posixbackend.testing.helper import ManagedFs

MARKER = "posixbackend"
TEMPORARY_FIXTURES = ("tmp_path", "tmpdir")


HARNESS: tuple[str, ...] = ("_pytest", "pytest", "pluggy", "xdist", "execnet", "py.")
"""The modules whose calls inside a managed block are pytest's own (served natively; see
posixbackend.switch.harness)."""
ON_BEHALF: tuple[str, ...] = ("_pytest.monkeypatch",)
"""pytest's modules that act for the test: monkeypatch.setenv and chdir change the block's."""


def pytest_configure(config: pytest.Config) -> None:
    from posixbackend.switch import harness

    harness.register(HARNESS, on_behalf=ON_BEHALF)
    _skipped_by_pyfakefs()
    config.addinivalue_line(
        "markers",
        f"{MARKER}(fs=None, permissions=None, time_resolution_ns=10**9, umask=0o022, cwd=None, "
        "identity=None, max_bytes=None): options of the managed_fs fixtures' block",
    )


def _helper(request: pytest.FixtureRequest) -> ManagedFs:
    """The helper the marker asks for. Its ``permissions`` apply to the test function alone
    (see pytest_pyfunc_call): the fixture's own block, active while pytest works between the
    test's phases, restricts nothing."""
    from posixbackend.testing.helper import ManagedFs, managed_marker_options

    options = managed_marker_options(request.node.get_closest_marker(MARKER))
    permissions = options.pop("permissions", None)
    helper = ManagedFs(**options)
    if permissions is not None:
        _CALL_PERMISSIONS[id(helper)] = (helper, permissions)
    return helper


_CALL_PERMISSIONS: dict[int, tuple[ManagedFs, Any]] = {}
"""Helpers whose marker asked for permissions -> (helper, permissions)."""


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """The test function of a managed test whose marker gives permissions runs under them."""
    if not _CALL_PERMISSIONS or not _managed(pyfuncitem):
        return (yield)
    restricted = [
        _CALL_PERMISSIONS[id(helper)]
        for name in MANAGED_FIXTURES
        if (helper := pyfuncitem.funcargs.get(name)) is not None and id(helper) in _CALL_PERMISSIONS
    ]
    if not restricted:
        return (yield)
    helper, permissions = restricted[0]
    with helper.restricted(permissions):
        return (yield)


def _with_temporary_directories(request: pytest.FixtureRequest, helper: ManagedFs) -> None:
    """tmp_path's directory (made on the real disk by pytest) exists in the block too."""
    for name in TEMPORARY_FIXTURES:
        if name in request.fixturenames:
            path = request.getfixturevalue(name)
            helper.create_dir(str(path), perm_bits=0o700, apply_umask=False)


@pytest.fixture
def managed_fs(request: pytest.FixtureRequest) -> Iterator[ManagedFs]:
    """A fresh managed file system for this test, whose code runs inside its block."""
    helper = _helper(request)
    _with_temporary_directories(request, helper)
    try:
        with helper:
            yield helper
    finally:
        _CALL_PERMISSIONS.pop(id(helper), None)


@pytest.fixture(scope="module")
def managed_fs_module_state(request: pytest.FixtureRequest) -> Iterator[ManagedFs]:
    """The module's shared managed file system (its block is entered by managed_fs_module
    for each test, so that blocks always end in the order they began)."""
    helper = _helper(request)
    yield helper
    _CALL_PERMISSIONS.pop(id(helper), None)


@pytest.fixture(scope="session")
def managed_fs_session_state(request: pytest.FixtureRequest) -> Iterator[ManagedFs]:
    """The session's shared managed file system (see managed_fs_module_state)."""
    helper = _helper(request)
    yield helper
    _CALL_PERMISSIONS.pop(id(helper), None)


@pytest.fixture
def managed_fs_module(managed_fs_module_state: ManagedFs) -> Iterator[ManagedFs]:
    """The module's managed file system (every test of the module using it shares its
    files), its block entered for this test."""
    with managed_fs_module_state as helper:
        yield helper


@pytest.fixture
def managed_fs_session(managed_fs_session_state: ManagedFs) -> Iterator[ManagedFs]:
    """The session's managed file system (shared by every test using it), its block entered
    for this test."""
    with managed_fs_session_state as helper:
        yield helper


MANAGED_FIXTURES = frozenset({"managed_fs", "managed_fs_module", "managed_fs_session"})
_bridged: list[bool] = []
"""Holds the stand-ins in place from one managed test's teardown to the next one's set-up
(``[True]`` while it does): a run of managed tests never parks and unparks them in between."""


def _managed(item: pytest.Item | None) -> bool:
    return item is not None and not MANAGED_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    if not _bridged and _managed(item) and _managed(nextitem):
        from posixbackend.switch.installation import INSTALLATION

        INSTALLATION.enter()
        _bridged.append(True)
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None]:
    if not _managed(item):
        _park()  # a test of its own (pyfakefs's, mock's) sees the real os from its start
    try:
        return (yield)
    finally:
        _end_bridge()


def _park() -> None:
    """Park stand-ins left in place by an earlier block (a pending park), when the library
    was loaded at all."""
    installation = sys.modules.get("posixbackend.switch.installation")
    if installation is not None:
        installation.INSTALLATION.settle()


def pytest_sessionfinish(session: pytest.Session) -> None:
    del session
    _end_bridge()


def _end_bridge() -> None:
    if _bridged:
        from posixbackend.switch.installation import INSTALLATION

        _bridged.clear()
        INSTALLATION.leave()


def _library_roots() -> tuple[str, ...]:
    """Where the frames of this library's own code come from (found without importing it:
    most pytest runs never use the plugin)."""
    roots = []
    for package in ("posixbackend", "vfs", "compat"):
        spec = importlib.util.find_spec(package)
        roots += [location + "/" for location in (spec and spec.submodule_search_locations) or ()]
    return tuple(roots)


LIBRARY_ROOTS = _library_roots()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A test that fails inside a block is reported as natively: an error raised by an os
    call shows the test's own frames, not the emulated backend's beneath the call (as
    nothing shows below a native os call). ``--fulltrace`` keeps every frame."""
    excinfo = call.excinfo
    if excinfo is not None and not item.config.getoption("fulltrace", False):
        entries = list(excinfo.traceback)
        cut = len(entries)
        while cut > 1 and _ours(str(entries[cut - 1].path)):
            cut -= 1
        caller = str(entries[cut - 1].path)  # the frame that called into the library
        if cut < len(entries) and not _ours(caller) and not _harness(caller):
            # pytest rebuilds tracebacks from the raw chain: the chain itself ends there
            entries[cut - 1]._rawentry.tb_next = None
            excinfo.traceback = excinfo.traceback[:cut]
    return (yield)


def _ours(path: str) -> bool:
    return path.startswith(LIBRARY_ROOTS)


def _harness(path: str) -> bool:
    """Whether a frame is pytest's (an error in setting the fixture up shows every frame)."""
    return path.startswith(HARNESS_ROOTS)


HARNESS_ROOTS = tuple(
    location + "/"
    for package in ("_pytest", "pluggy")
    for spec in (importlib.util.find_spec(package),)
    for location in (spec and spec.submodule_search_locations) or ()
)


def _skipped_by_pyfakefs() -> None:
    """When pyfakefs is loaded: it must never put its fake modules into this library's own
    modules (a managed block entered while pyfakefs patches would then serve pyfakefs's
    files through the library's internals). Its skip list holds module names."""
    unittest_module = sys.modules.get("pyfakefs.fake_filesystem_unittest")
    patcher = getattr(unittest_module, "Patcher", None)
    names = getattr(patcher, "SKIPNAMES", None)
    if not isinstance(names, set):
        return
    for package in ("posixbackend", "vfs", "compat"):
        spec = importlib.util.find_spec(package)
        for location in (spec and spec.submodule_search_locations) or ():
            for directory, _, files in os.walk(location):  # the files: nothing is imported
                dotted = package + directory[len(location) :].replace("/", ".")
                names.add(dotted)
                names.update(
                    f"{dotted}.{name[:-3]}"
                    for name in files
                    if name.endswith(".py") and name != "__init__.py"
                )
