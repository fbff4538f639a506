"""The C stand-ins (posixbackend/_standin.c) against the Python ones: the same results and
errors for the same calls, outside every block (the C fast path: the real function) and inside
one (the C route: the serving backend's method called in C while no harness is registered;
else both hand the call to ``StandIn.__call__``), and the same face (names, signature,
pickling, repr); plus what only the C type promises (immutable, configured once). The C
stand-in of a module's builtin (os.stat...) is itself a builtin function; of anything else
(os.makedirs) an object of the C StandIn type.

pytest's own modules are a registered harness in this process (the plugin registers them), so
the C route inside blocks is only taken where a test empties ``harness.PREFIXES`` for a while
(:func:`no_harness`), as it is in every program not run by pytest."""

from __future__ import annotations

import contextlib
import copy
import errno
import fcntl
import importlib.util
import inspect
import os
import pickle
import posix
import subprocess
import sys
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import posixbackend
from posixbackend import Permissions, backend
from posixbackend.switch import harness, standins
from posixbackend.switch._realobjects import real_object
from posixbackend.switch.active import ACTIVE
from posixbackend.switch.installation import INSTALLATION
from vfs import Identity, MemoryFileSystem

NEEDS_C_STAND_INS = [
    pytest.mark.skipif(
        importlib.util.find_spec("posixbackend._standin") is None,
        reason="posixbackend._standin was not built",
    ),
    pytest.mark.skipif(
        standins.FAST_STAND_IN is None, reason="the C stand-ins are off (POSIXBACKEND_PURE_PYTHON)"
    ),
]
"""Skips when posixbackend._standin is not built or not used."""
pytestmark = NEEDS_C_STAND_INS

SAMPLE = ("stat", "lstat", "listdir", "access", "readlink", "mkdir", "rmdir", "unlink", "getcwd",
          "open", "close", "chmod", "scandir")  # fmt: skip
"""os functions compared: path calls that succeed or fail in many ways, and the descriptor ones."""


def pair(name: str) -> tuple[Any, Any]:
    """(C stand-in, Python stand-in) of os.<name>, around the real function, not installed:
    the C one a builtin function (see posixbackend/_standin.c)."""
    native = getattr(posix, name)
    c_stand_in = standins.make_stand_in("os", name, native, name, builtin=True)
    python_stand_in = standins.StandIn("os", name, native, name)
    assert type(c_stand_in) is types.BuiltinFunctionType
    assert standins.parts_of(c_stand_in) == (native, name, name)
    return c_stand_in, python_stand_in


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """What a call gives: its result (stat results by their fields, scandir by names), or its
    error's class, errno, message and file names."""
    try:
        result = call()
    except OSError as error:
        return "error", (type(error), error.errno, error.strerror, error.filename,
                         error.filename2)  # fmt: skip
    except (TypeError, ValueError) as error:
        return "error", (type(error), str(error))
    if isinstance(result, os.stat_result):
        return "stat", tuple(result)[:7]
    if hasattr(result, "__next__"):
        with result:
            return "entries", sorted(entry.name for entry in result)
    return "result", result


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x")
    (tmp_path / "link").symlink_to("d/f")
    yield tmp_path


ARGUMENTS = st.sampled_from([
    "d", "d/f", "link", "missing", "d/f/under-a-file", "", "d/", "link/", "\0nul",
]).flatmap(lambda path: st.tuples(st.just(path), st.sampled_from([0, 1])))  # fmt: skip


def calls(root: str, path: str, variant: int) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """(function, args, kwargs) of the sample on ``path`` below ``root``."""
    full = os.path.join(root, path) if path else path
    return [
        ("stat", (full,), {"follow_symlinks": bool(variant)}),
        ("lstat", (full,), {}),
        ("listdir", (full,), {}),
        ("scandir", (full,), {}),
        ("access", (full, os.R_OK if variant else os.W_OK), {}),
        ("readlink", (full,), {}),
        ("chmod", (full, 0o755), {}),
        ("getcwd", (), {}),
        ("stat", (), {}),  # a TypeError: the real function's own message
        ("stat", (full,), {"no_such_keyword": 1}),
    ]


def compare_sample(root: str, path: str, variant: int) -> None:
    for name, args, kwargs in calls(root, path, variant):
        c_stand_in, python_stand_in = pair(name)
        c_result = outcome(lambda: c_stand_in(*args, **kwargs))  # noqa: B023 - called at once
        python_result = outcome(lambda: python_stand_in(*args, **kwargs))  # noqa: B023
        assert c_result == python_result, (name, args, kwargs)


@pytest.mark.usefixtures("uninstalled")
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # read-only (chmod: same)
@given(arguments=ARGUMENTS)
def test_outside_blocks_the_c_stand_in_answers_as_the_python_one(
    tree: Path, arguments: tuple[str, int]
) -> None:
    compare_sample(str(tree), *arguments)


@contextlib.contextmanager
def no_harness() -> Iterator[None]:
    """harness.PREFIXES emptied in place (the list the C stand-ins were configured with) for
    the duration, as in a program pytest does not run; put back whatever happens."""
    saved = list(harness.PREFIXES)
    harness.PREFIXES.clear()
    try:
        yield
    finally:
        harness.PREFIXES[:] = saved


def fallback_calls(call: Callable[[], Any]) -> int:
    """How many times StandIn.__call__ (the Python decision) ran during ``call()``."""
    code = standins.StandIn.__call__.__code__
    seen = [0]

    def profile(frame: Any, event: str, _: Any) -> None:
        if event == "call" and frame.f_code is code:
            seen[0] += 1

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return seen[0]


@pytest.mark.usefixtures("uninstalled")
@settings(max_examples=40, deadline=None)
@given(arguments=ARGUMENTS, harnessed=st.booleans())
def test_inside_a_block_the_c_stand_in_answers_as_the_python_one(
    arguments: tuple[str, int], harnessed: bool
) -> None:
    fs = MemoryFileSystem(identity=Identity.root())
    with backend("managed", file_system=fs, cwd="/"):
        os.makedirs("/t/d")
        with open("/t/d/f", "wb") as file:
            file.write(b"x")
        os.symlink("d/f", "/t/link")
        with contextlib.nullcontext() if harnessed else no_harness():
            compare_sample("/t", *arguments)
        assert sorted(os.listdir("/t")) == ["d", "link"]


@pytest.mark.usefixtures("uninstalled")
def test_inside_a_block_with_no_harness_the_backend_is_called_from_c() -> None:
    """No Python decision per call while no harness is registered; with one (pytest's here),
    every call asks StandIn.__call__, whose frame walk tells the harness's calls apart."""
    c_stand_in, _ = pair("stat")
    with backend("managed", file_system=MemoryFileSystem(), cwd="/"):
        os.makedirs("/t")
        with no_harness():
            assert fallback_calls(lambda: [c_stand_in("/t") for _ in range(5)]) == 0
            served = c_stand_in("/t")
        assert fallback_calls(lambda: [c_stand_in("/t") for _ in range(5)]) == 5
        assert served == os.stat("/t")


class FakeBackend:
    """What ACTIVE may hold, as far as a stand-in looks: a method, none, or a lookup that
    fails otherwise than with AttributeError."""

    def stat(self, *args: Any, **kwargs: Any) -> Any:
        return ("stat", args, kwargs)

    @property
    def lstat(self) -> Any:
        raise LookupError("lookup failed")

    @property
    def access(self) -> Any:
        raise AttributeError("a property's own AttributeError")


@pytest.mark.usefixtures("uninstalled")
@pytest.mark.parametrize("name", ["stat", "lstat", "access", "readlink"])
def test_the_c_route_asks_the_backend_as_the_python_stand_in_does(name: str) -> None:
    """The method found, missing (the "not supported" ENOSYS of the Python stand-in: its gap is
    hit once per call either way) or failing to be looked up: the same result or error."""
    c_stand_in, python_stand_in = pair(name)
    token = ACTIVE.set(FakeBackend())
    try:
        with no_harness():
            results: list[tuple[Any, ...]] = []
            for stand_in in (c_stand_in, python_stand_in):
                try:
                    results.append(("result", stand_in("/p", dir_fd=None)))
                except OSError as error:
                    results.append(("error", type(error), error.errno, str(error)))
                except LookupError as error:
                    results.append(("error", type(error), str(error)))
    finally:
        ACTIVE.reset(token)
    assert results[0] == results[1]
    expected = {"stat": "result", "lstat": "error", "access": "error", "readlink": "error"}
    assert results[0][0] == expected[name]
    if name in ("access", "readlink"):
        assert results[0][2] == errno.ENOSYS and f"os.{name} is not supported" in results[0][3]


@pytest.mark.usefixtures("uninstalled")
def test_descriptors_and_creation_match(tmp_path: Path) -> None:
    """open/close/mkdir/rmdir/unlink: each stand-in on its own file, natively and managed."""
    fs = MemoryFileSystem(identity=Identity.root())
    for where, root in (("native", str(tmp_path)), ("managed", "/")):
        results = []
        for kind in (0, 1):
            stand = {name: pair(name)[kind] for name in ("open", "close", "mkdir", "rmdir",
                                                         "unlink")}  # fmt: skip
            base = os.path.join(root, f"k{kind}")

            def run() -> list[tuple[str, Any]]:
                made = [outcome(lambda: stand["mkdir"](base, 0o700))]  # noqa: B023
                made.append(outcome(lambda: stand["mkdir"](base)))  # noqa: B023 - EEXIST
                fd = stand["open"](base + "/f", os.O_CREAT | os.O_WRONLY, 0o600)  # noqa: B023
                made.append(outcome(lambda: stand["close"](fd)))  # noqa: B023
                made.append(outcome(lambda: stand["close"](fd)))  # noqa: B023 - EBADF
                made.append(outcome(lambda: stand["rmdir"](base)))  # noqa: B023 - ENOTEMPTY
                made.append(outcome(lambda: stand["unlink"](base + "/f")))  # noqa: B023
                made.append(outcome(lambda: stand["rmdir"](base)))  # noqa: B023
                return [(kind_, value) for kind_, value in made if kind_ != "error"] + [
                    (kind_, value[:3]) for kind_, value in made if kind_ == "error"
                ]

            if where == "native":
                results.append(run())
            else:
                with backend("managed", file_system=fs, cwd="/"):
                    results.append(run())
        assert results[0] == results[1], where


def signature_of(function: Any) -> object:
    """inspect.signature's answer, or its error (3.13.0 cannot parse some of posix's own
    text signatures, e.g. chmod's ``follow_symlinks=(os.name != 'nt')``: the stand-in's
    must fail the same way)."""
    try:
        return inspect.signature(function)
    except ValueError as error:
        return ("ValueError", str(error))


@pytest.mark.parametrize("name", SAMPLE)
def test_the_c_stand_in_looks_like_the_python_one(name: str) -> None:
    """The builtin stand-in has the real function's face (its __self__ a module, as the real
    one's: inspect strips $module, repr and pickling go by name), the Python one's names."""
    c_stand_in, python_stand_in = pair(name)
    real = getattr(posix, name)
    for attribute in ("__name__", "__qualname__", "__module__", "__doc__"):
        assert getattr(c_stand_in, attribute) == getattr(python_stand_in, attribute), attribute
    assert c_stand_in.__module__ == "os"
    assert c_stand_in.__text_signature__ == real.__text_signature__
    assert signature_of(c_stand_in) == signature_of(real)
    assert repr(c_stand_in) == repr(python_stand_in) == repr(real)
    assert c_stand_in.__reduce__() == python_stand_in.__reduce__() == name
    assert inspect.ismodule(c_stand_in.__self__) and inspect.isbuiltin(c_stand_in)
    assert not hasattr(c_stand_in, "__wrapped__")  # as the real one: parts_of gives it
    assert not hasattr(c_stand_in, "__get__")  # a class attribute stays unbound, as a builtin
    assert standins.parts_of(python_stand_in) == standins.parts_of(c_stand_in)
    assert copy.copy(c_stand_in) is copy.deepcopy(c_stand_in) is c_stand_in
    assert c_stand_in != pair(name)[0] and c_stand_in != real  # told apart by their selves


def test_a_python_function_gets_the_c_stand_in_type() -> None:
    """A native that is no module's builtin (os.makedirs) keeps the StandIn type, with the
    Python stand-in's attributes; builtin_stand_in declines it."""
    from posixbackend import _standin

    c_stand_in = standins.make_stand_in("os", "makedirs", os.makedirs, "makedirs", builtin=True)
    python_stand_in = standins.StandIn("os", "makedirs", os.makedirs, "makedirs")
    assert type(c_stand_in) is standins.FAST_STAND_IN
    for attribute in ("__name__", "__qualname__", "__module__", "__doc__", "__wrapped__",
                      "_native", "_method", "_name"):  # fmt: skip
        assert getattr(c_stand_in, attribute) == getattr(python_stand_in, attribute), attribute
    assert standins.parts_of(c_stand_in) == (os.makedirs, "makedirs", "makedirs")
    assert inspect.signature(c_stand_in) == inspect.signature(os.makedirs)
    natives: tuple[Any, ...] = (os.makedirs, [].append, str.join, print)
    for native in natives:  # print: a builtin of builtins (whose self is a module)
        declined = native is not print
        assert (_standin.builtin_stand_in("os", "x", native, "x") is None) is declined
    assert standins.parts_of(posix.stat) is None and standins.parts_of(os) is None


@pytest.mark.usefixtures("uninstalled")
@pytest.mark.parametrize("name", ["getcwd", "fspath", "close", "stat", "open", "listdir"])
def test_each_kind_of_c_function_gets_the_real_errors(name: str) -> None:
    """The real function's C function is called straight away for its own kinds (no
    arguments: getcwd; one: fspath; fast calls: close; with keywords: stat, open); a call
    its kind refuses goes through the real function's call, for the real error."""
    c_stand_in, python_stand_in = pair(name)
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((), {}), ((0,), {}), (("/",), {}), ((), {"path": "/"}), (("/", 0), {}),
        ((1, 2, 3, 4, 5), {}), ((b"/",), {"x": 1}),
    ]  # fmt: skip
    for args, kwargs in calls:
        if name in ("open", "close") and args[:1] in ((0,), ("/",)) and len(args) < 3:
            continue  # would open or close something for real
        assert outcome(lambda: c_stand_in(*args, **kwargs)) == outcome(  # noqa: B023
            lambda: python_stand_in(*args, **kwargs)  # noqa: B023
        ), (args, kwargs)


@pytest.mark.usefixtures("uninstalled")
def test_installed_os_functions_are_builtins_the_others_keep_wrapped() -> None:
    """os's stand-ins are builtin functions (the real ones read through parts_of, as
    real_object and the installation's record read them); fcntl's keep ``__wrapped__``, which
    the library reads for the real fcntl.fcntl (posixbackend/emulated/hostfcntl.py)."""
    posixbackend.install()
    assert type(os.stat) is types.BuiltinFunctionType
    assert standins.parts_of(os.stat) == (posix.stat, "stat", "stat")
    assert real_object("stat") is posix.stat and real_object("getcwd") is posix.getcwd
    assert type(fcntl.fcntl) is standins.FAST_STAND_IN
    real_fcntl = fcntl.fcntl.__wrapped__  # type: ignore[attr-defined]
    assert type(real_fcntl) is types.BuiltinFunctionType and standins.parts_of(real_fcntl) is None
    assert real_object("fcntl_fcntl") is real_fcntl
    posixbackend.uninstall()
    assert os.stat is posix.stat and fcntl.fcntl is real_fcntl


@pytest.mark.usefixtures("uninstalled")
def test_installed_c_stand_ins_pickle_by_reference() -> None:
    posixbackend.install()
    assert standins.parts_of(os.stat) is not None
    assert pickle.loads(pickle.dumps(os.stat)) is os.stat
    assert pickle.loads(pickle.dumps(os.getcwd, protocol=0)) is os.getcwd
    assert pickle.loads(pickle.dumps(open)) is open


@pytest.mark.parametrize("native", [posix.stat, os.makedirs], ids=["builtin", "function"])
def test_the_c_type_cannot_be_changed_or_reconfigured(native: Any) -> None:
    c_stand_in = standins.make_stand_in("os", native.__name__, native, native.__name__,
                                        builtin=True)  # fmt: skip
    with pytest.raises(TypeError, match="immutable"):
        type(c_stand_in).__call__ = lambda *args: None
    with pytest.raises(AttributeError):
        c_stand_in._native = posix.lstat
    with pytest.raises(TypeError):
        type("Sub", (type(c_stand_in),), {})
    if type(c_stand_in) is types.BuiltinFunctionType:  # its state: out of Python's reach
        with pytest.raises(AttributeError):
            setattr(c_stand_in, "__self__", os)  # noqa: B010 - mypy knows it is read-only
        vars(c_stand_in.__self__).update(_native=posix.lstat, __wrapped__=posix.lstat)
        assert standins.parts_of(c_stand_in) == (posix.stat, "stat", "stat")
        with pytest.raises(TypeError):
            type(c_stand_in)()
    from posixbackend import _standin

    with pytest.raises(RuntimeError, match="configured already"):
        _standin.configure(ACTIVE, {}, standins.StandIn.__call__, [])


@pytest.mark.usefixtures("uninstalled")
def test_a_pending_park_takes_the_python_path_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first C stand-in call outside every block parks the stand-ins (pending mirrored)."""
    monkeypatch.setattr("posixbackend.switch.installation.EAGER_PARKING", frozenset())
    with backend("managed", file_system=MemoryFileSystem()):
        pass
    assert INSTALLATION.pending and not ACTIVE.get()
    assert os.getcwd() == posix.getcwd()
    assert os.getcwd is posix.getcwd  # parked by that call
    assert not INSTALLATION.installed


@pytest.mark.usefixtures("uninstalled")
def test_an_anchored_thread_anywhere_sends_calls_to_the_python_path(tmp_path: Path) -> None:
    """While a restricting block anchors one thread, the C stand-ins of every thread ask
    StandIn.__call__ (the anchored one is refused; another is served natively)."""
    posixbackend.install()
    inside, go_on = threading.Event(), threading.Event()
    seen: list[Any] = []

    def guest() -> None:
        with backend("native", permissions=Permissions(allow_io="none")):
            inside.set()
            go_on.wait(10)
            try:
                os.stat(tmp_path)
            except PermissionError as error:
                seen.append(error.errno)

    thread = threading.Thread(target=guest)
    thread.start()
    try:
        assert inside.wait(10)
        assert os.stat(tmp_path) == posix.stat(tmp_path)  # this thread: not anchored
    finally:
        go_on.set()
        thread.join(10)
    assert seen == [errno.EACCES]


def test_pure_python_switch_gives_the_python_stand_ins() -> None:
    code = ("import os, posixbackend\nposixbackend.install()\n"
            "print(type(os.stat).__module__, type(os.stat).__name__)")  # fmt: skip
    environment = {**os.environ, "POSIXBACKEND_PURE_PYTHON": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True,
                          text=True, check=True)  # fmt: skip
    assert done.stdout == "posixbackend.switch.standins StandIn\n", done.stderr
