"""The pytest plugin: ``managed_fs`` fixtures and the ``posixbackend`` marker.

Registered through the ``pytest11`` entry point as ``posixbackend`` (``-p no:posixbackend``
turns it off). ``managed_fs`` is a fresh managed block per test; ``managed_fs_module`` and
``managed_fs_session`` one file system per module or session (their tests share its files;
the block is entered for each test, so blocks always end in the order they began). A test asks
for options with ``@pytest.mark.posixbackend(fs=..., permissions=..., time_resolution_ns=...,
umask=..., cwd=..., identity=..., max_bytes=...)``. When the test also uses ``tmp_path`` (or
``tmpdir``), that directory exists, empty, in the managed file system too.

A fixture's block serves the test's own code alone (see :class:`_Served`): pytest's work
between the phases runs on the real os with nothing in its way.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Generator, Iterator
from contextvars import ContextVar
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


OWN_PACKAGES = ("posixbackend", "vfs", "compat")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """The plugin registers: the library's packages are no longer marked for assertion
    rewriting. pytest marks every package of a distribution with a pytest11 entry point
    (from the wheel's list of files), so the library's own modules imported from now on
    would be recompiled with rewritten asserts; the test's modules and conftests are not
    concerned. pytest has no public call for this: the rewrite hook's set of marked names
    is left as it is when it is not there."""
    hook = pluginmanager.rewrite_hook  # (this is the first call the plugin gets)
    marked = getattr(hook, "_must_rewrite", None)
    cache = getattr(hook, "_marked_for_rewrite_cache", None)
    if isinstance(marked, set) and isinstance(cache, dict):
        marked.difference_update(OWN_PACKAGES)
        cache.clear()  # its verdicts on names already looked at


def pytest_configure(config: pytest.Config) -> None:
    listed = any(config.getoption(name, False) for name in ("setupshow", "setuponly", "setupplan"))
    config.stash[SERVED] = _Served(fast=not listed)
    # With pyfakefs's plugin loaded, its fixture may be active when a managed fixture first
    # loads the switch, which must bind the real os, never pyfakefs's replacements (import
    # posixbackend refuses that first use): load it now, before any test patches.
    _register_harness(load="pyfakefs.pytest_plugin" in sys.modules)
    _skipped_by_pyfakefs()
    config.addinivalue_line(
        "markers",
        f"{MARKER}(fs=None, permissions=None, time_resolution_ns=10**9, umask=0o022, cwd=None, "
        "identity=None, max_bytes=None): options of the managed_fs fixtures' block",
    )


def _register_harness(*, load: bool = False) -> None:
    """pytest's modules are the harness's (see posixbackend.switch.harness) once the switch is
    loaded, by a managed fixture (``load``) or by anyone: a run that never loads the library
    imports nothing for it. Looked at as the plugin starts, as every test starts and after
    every fixture's set-up (a fixture of the user's own may enter a block that spans phases)."""
    harness: Any = sys.modules.get("posixbackend.switch.harness")
    if harness is None:
        if not load:
            return
        harness = importlib.import_module("posixbackend.switch.harness")
    if HARNESS[0] not in harness.PREFIXES:  # (a fresh module after pytester dropped one)
        harness.register(HARNESS, on_behalf=ON_BEHALF)


def _helper(node: pytest.Item | pytest.Collector) -> ManagedFs:
    """The helper the marker of ``node`` (the test, or the module or session of a shared
    fixture) asks for. Its ``permissions`` apply to the test function alone
    (see pytest_pyfunc_call): the fixture's own block, entered from its set-up to its
    teardown, restricts nothing (pytest's work is never judged by them)."""
    helper_module = _HELPER_MODULE[0] if _HELPER_MODULE else _load_helper_module()
    _register_harness(load=True)
    marker = node.get_closest_marker(MARKER)
    if marker is None:  # the common case: nothing to check, no permissions
        return helper_module.ManagedFs()  # type: ignore[no-any-return]
    options = helper_module.managed_marker_options(marker)
    permissions = options.pop("permissions", None)
    helper: ManagedFs = helper_module.ManagedFs(**options)
    if permissions is not None:
        _CALL_PERMISSIONS[helper] = permissions
    return helper


_HELPER_MODULE: list[Any] = []
"""posixbackend.testing.helper, once a managed fixture has loaded it (a run that never uses
one imports none of the library for it)."""


def _load_helper_module() -> Any:
    """Import the helper module at the first managed fixture and keep it for the next ones
    (an import statement in the fixture would look it up again at every test)."""
    module = importlib.import_module("posixbackend.testing.helper")
    _HELPER_MODULE[:] = [module]
    return module


_CALL_PERMISSIONS: dict[ManagedFs, Any] = {}
"""Helpers whose marker asked for permissions -> the permissions (keyed by the helper itself,
hashed by identity: ``id()`` is an audited call, which the switch's audit hook pays for)."""


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """The test function of a managed test whose marker gives permissions runs under them."""
    if not _CALL_PERMISSIONS or not _managed(pyfuncitem):
        return (yield)
    restricted = [
        (helper, _CALL_PERMISSIONS[helper])
        for name in MANAGED_FIXTURES
        if (helper := pyfuncitem.funcargs.get(name)) is not None and helper in _CALL_PERMISSIONS
    ]
    if not restricted:
        return (yield)
    helper, permissions = restricted[0]
    with helper.restricted(permissions):
        return (yield)


def _with_temporary_directories(request: pytest.FixtureRequest, helper: ManagedFs) -> None:
    """tmp_path's directory (made on the real disk by pytest) exists in the block too."""
    names = request.fixturenames  # (a list built at each look-up: once)
    for name in TEMPORARY_FIXTURES:
        if name in names:
            path = request.getfixturevalue(name)
            helper.create_dir(str(path), perm_bits=0o700, apply_umask=False)


@pytest.fixture
def managed_fs(request: pytest.FixtureRequest) -> Iterator[ManagedFs]:
    """A fresh managed file system for this test, whose code runs inside its block."""
    entered = request.node.stash.get(FAST, None)
    if entered is not None:  # the test's set-up entered it (see _enter_fast): a fixture
        yield entered  # depending on it, or getfixturevalue, gets that one
        return
    helper = _helper(request.node)
    _with_temporary_directories(request, helper)
    try:
        yield from _opened(request, helper)
    finally:
        if _CALL_PERMISSIONS:
            _CALL_PERMISSIONS.pop(helper, None)


@pytest.fixture(scope="module")
def managed_fs_module_state(request: pytest.FixtureRequest) -> Iterator[ManagedFs]:
    """The module's shared managed file system (its block is entered by managed_fs_module
    for each test, so that blocks always end in the order they began)."""
    helper = _helper(request.node)
    yield helper
    _CALL_PERMISSIONS.pop(helper, None)


@pytest.fixture(scope="session")
def managed_fs_session_state(request: pytest.FixtureRequest) -> Iterator[ManagedFs]:
    """The session's shared managed file system (see managed_fs_module_state)."""
    helper = _helper(request.node)
    yield helper
    _CALL_PERMISSIONS.pop(helper, None)


@pytest.fixture
def managed_fs_module(
    request: pytest.FixtureRequest, managed_fs_module_state: ManagedFs
) -> Iterator[ManagedFs]:
    """The module's managed file system (every test of the module using it shares its
    files), its block entered for this test."""
    yield from _opened(request, managed_fs_module_state)


@pytest.fixture
def managed_fs_session(
    request: pytest.FixtureRequest, managed_fs_session_state: ManagedFs
) -> Iterator[ManagedFs]:
    """The session's managed file system (shared by every test using it), its block entered
    for this test."""
    yield from _opened(request, managed_fs_session_state)


def _opened(request: pytest.FixtureRequest, helper: ManagedFs) -> Iterator[ManagedFs]:
    """The helper's block entered for the rest of the test (left by this fixture's
    teardown), served to the test's own code alone (see :class:`_Served`)."""
    served = request.config.stash[SERVED]
    outside_native = served.inside_ours or served.can_step()
    with helper:
        served.opened(stepping=outside_native)
        try:
            yield helper
        finally:
            served.closed()


class _Served:
    """The managed blocks the running test has open, served only while its own code runs.

    A managed fixture's block is entered when the fixture is set up and left at its
    teardown, but pytest's own work in between (output capture, reports, the
    ``PYTEST_CURRENT_TEST`` variable, other plugins' hooks) needs the real ``os``: rather
    than have the stand-ins tell pytest's calls from the test's one by one
    (:mod:`posixbackend.switch.harness`), the plugin steps out of the blocks between the
    test's phases and back in around the test's code: fixture set-up (a fixture set up after
    a managed one may use it), the test call, and teardown (the finalizers). Stepping is
    setting the switch's context variables (the serving backend, the permissions) to what
    they are outside, and back to what the test's code left them at, so whatever that code
    did to them (a pause, a block of its own, a managed fixture asked for in the test body)
    carries over to its next phase. Only when the outside is plain native (no block, no
    permissions, no anchor): otherwise the blocks stay entered throughout and the harness
    check serves pytest's calls."""

    __slots__ = ("_depth", "_inside", "_stepping", "fast", "open")

    def __init__(self, *, fast: bool = True) -> None:
        self.fast = fast
        """Whether a test's set-up may enter its managed_fs block (see _enter_fast)."""
        self.open = 0
        """Managed fixtures of the running test whose block is entered."""
        self._stepping = False
        """Whether the blocks are stepped out of between phases (see the class docstring)."""
        self._inside: tuple[Any, Any] = (None, None)
        """The switch's context variables as the test's code left them."""
        self._depth = 0
        """Nested stretches of the test's code running (a fixture set up inside the call)."""

    @property
    def inside_ours(self) -> bool:
        """Whether the test's code runs, stepped into the open blocks."""
        return self._depth > 0 and self.open > 0 and self._stepping

    @staticmethod
    def can_step() -> bool:
        """Whether the calling thread is served natively without permissions or an anchor."""
        active, policy, anchor_of_caller = _switch_variables()
        return active.get() is None and policy.get() is None and anchor_of_caller() is None

    def opened(self, *, stepping: bool) -> None:
        """A managed fixture's block was entered."""
        if self.open == 0:
            self._stepping = stepping
        self.open += 1

    def closed(self) -> None:
        """A managed fixture's block was left (in its teardown)."""
        self.open -= 1

    def code_starts(self) -> None:
        """The test's code is about to run: into the open blocks (the outermost stretch)."""
        self._depth += 1
        if self._depth == 1 and self.open and self._stepping:
            active, policy, _ = _switch_variables()
            active.set(self._inside[0])
            policy.set(self._inside[1])

    def code_ends(self) -> None:
        """The test's code is done for now: out of the blocks, keeping where it left them
        (when the outermost stretch ends)."""
        self._depth -= 1
        if self._depth:
            return
        if self.open and self._stepping:
            active, policy, _ = _switch_variables()
            self._inside = (active.get(), policy.get())
            active.set(None)
            policy.set(None)
        elif not self.open:  # the last block was left: the outside is back
            self._inside = (None, None)

    # ``with served:`` is a stretch of the test's own code (a fixture's set-up, the call, the
    # finalizers). The object itself is the context manager, nested stretches counted by
    # _depth: a generator-based one would build two objects at every phase of every test.
    def __enter__(self) -> None:
        self.code_starts()

    def __exit__(self, *exc_info: object) -> None:
        self.code_ends()


SERVED: pytest.StashKey[_Served] = pytest.StashKey()
_VARIABLES: list[tuple[ContextVar[Any], ContextVar[Any], Callable[[], object]]] = []


def _switch_variables() -> tuple[ContextVar[Any], ContextVar[Any], Callable[[], object]]:
    """The switch's context variables (the serving backend, the permissions) and its look-up
    of the calling thread's anchor, imported at the first managed fixture's set-up."""
    if not _VARIABLES:
        from posixbackend.permissions.anchors import anchor_of_caller
        from posixbackend.permissions.current import POLICY
        from posixbackend.switch.active import ACTIVE

        _VARIABLES.append((ACTIVE, POLICY, anchor_of_caller))
    return _VARIABLES[0]


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    """A fixture set up after a managed one runs in its block (it may depend on it); a
    managed fixture's own set-up steps out of its block once it has entered it."""
    served = request.config.stash.get(SERVED, None)
    if served is None:
        return (yield)
    try:
        with served:
            return (yield)
    finally:
        _register_harness()


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """The test runs in its managed blocks (see :class:`_Served`)."""
    served = item.config.stash.get(SERVED, None)
    if served is None:
        return (yield)
    with served:
        return (yield)


MANAGED_FIXTURES = frozenset({"managed_fs", "managed_fs_module", "managed_fs_session"})
_bridged: list[bool] = []
"""Holds the stand-ins in place from one managed test's teardown to the next one's set-up
(``[True]`` while it does): a run of managed tests never parks and unparks them in between."""


def _managed(item: pytest.Item | None) -> bool:
    return item is not None and not MANAGED_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    """The test's finalizers run in its managed blocks, until the managed fixtures' own
    finalizers leave them (see :class:`_Served`); the stand-ins stay in place for the next
    test when it is managed too."""
    if not _bridged and _managed(item) and _managed(nextitem):
        from posixbackend.switch.installation import INSTALLATION

        INSTALLATION.enter()
        _bridged.append(True)
    served = item.config.stash.get(SERVED, None)
    if served is None:
        return (yield)
    with served:
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None]:
    _register_harness()
    if not _managed(item):
        _park()  # a test of its own (pyfakefs's, mock's) sees the real os from its start
        entered = None
    else:
        entered = _enter_fast(item) if isinstance(item, pytest.Function) else None
    try:
        return (yield)
    finally:
        if entered is not None:
            _leave_fast_at_teardown(item, entered)
        _end_bridge()


FAST: pytest.StashKey[ManagedFs] = pytest.StashKey()
"""The helper of a test whose ``managed_fs`` block its set-up entered (see _enter_fast)."""
_FAST_VERDICTS: dict[int, tuple[list[str], bool]] = {}
"""id(a test function's fixture closure) -> (the closure, whether its tests take the fast
path): the closure list is shared by the function's parametrized tests (kept in the value,
so that its id is never another list's)."""


def _enter_fast(item: pytest.Function) -> ManagedFs | None:
    """Enter the block of a test's ``managed_fs`` as its set-up starts, and hand the helper to
    pytest as the fixture's value, when that is exactly what the fixture would do: pytest's
    fixture machinery (a request, two hook calls, a generator and its finalizer) is most of
    what the fixture costs a test. Only where nothing can tell: managed_fs, this plugin's own,
    comes first of the test's fixtures (so it is set up first and torn down last, as here),
    no tmp_path (made before the block), no --setup-show/--setup-only/--setup-plan (they list
    the fixtures set up). None when the fixture takes its ordinary path."""
    names = item.fixturenames
    verdict = _FAST_VERDICTS.get(id(names))
    if verdict is None or verdict[0] is not names:
        verdict = _FAST_VERDICTS[id(names)] = (names, _may_go_fast(item, names))
    if not verdict[1]:
        return None
    served = item.config.stash.get(SERVED, None)
    if served is None or not served.fast:
        return None
    helper = _helper(item)
    # as the fixture's set-up does: in a stretch of the test's code, whose end steps out
    with served:
        outside_native = served.inside_ours or served.can_step()
        helper.start()
        served.opened(stepping=outside_native)
    item.stash[FAST] = helper
    funcargs = item.funcargs
    funcargs["managed_fs"] = helper  # pytest fills only the fixtures not there yet
    # and the fixture's own argument, the test's request (pytest's value for "request": it
    # would otherwise build a fixture definition for it, its signature read, at every test)
    funcargs["request"] = item._request
    return helper


def _may_go_fast(item: pytest.Function, names: list[str]) -> bool:
    """Whether the tests of ``item``'s function may take the fast path (see _enter_fast)."""
    if type(item) is not pytest.Function or not names or names[0] != "managed_fs":
        return False
    if not set(TEMPORARY_FIXTURES).isdisjoint(names):
        return False
    definitions = item._fixtureinfo.name2fixturedefs.get("managed_fs", ())
    function = definitions[-1].func if definitions else None
    own = getattr(function, "__module__", None) == __name__  # not a conftest's override
    stack = getattr(getattr(item.session, "_setupstate", None), "stack", None)
    request = getattr(item, "_request", None)
    return (
        own
        and getattr(function, "__name__", None) == "managed_fs"
        and type(stack) is dict
        and isinstance(request, pytest.FixtureRequest)
    )


def _leave_fast_at_teardown(item: pytest.Item, helper: ManagedFs) -> None:
    """Leave the fast path's block as the ordinary fixture would: after the finalizers of the
    test's other fixtures, before those of its module or session (the test's own list of
    finalizers, ahead of the others; the first is the item's teardown). Now, when the set-up
    failed before the test itself was set up."""
    served = item.config.stash[SERVED]

    def leave() -> None:
        del item.stash[FAST]  # the items live as long as the session: not its helper
        try:
            served.closed()
        finally:
            helper.stop()
            if _CALL_PERMISSIONS:
                _CALL_PERMISSIONS.pop(helper, None)

    entry = item.session._setupstate.stack.get(item)
    if entry is None:
        with served:
            leave()
    else:
        entry[0].insert(1, leave)


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
