"""Running one stdlib scenario natively and on the managed backend, and comparing the results.

A scenario is a plain function ``scenario(root) -> result`` that works below the directory
``root`` with the standard library only and returns a JSON-like summary. :func:`compare` runs it
natively in a fresh ``tempfile.mkdtemp()`` directory and inside ``backend('managed', ...)`` in a
directory made there, replaces each run's root with ``<root>`` and asserts the two are equal.

Both runs start with umask 0o022 (the managed backend always does: gap
``emulated.umask.initial``), and with the scenario's directory as the current directory when
``chdir=True`` (natively the process's, restored afterwards).

The managed run must not touch the host: an audit hook records every file event a real ``posix``
or ``_io`` function raises during the run whose Python caller is not this library (the
providers) or the import system, and there must be none; the native root must be invisible in
the managed file system, and the managed root must not exist on the host afterwards.
"""

from __future__ import annotations

import contextlib
import errno
import lzma
import os
import pathlib
import shutil
import stat
import sys
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import posixbackend
from posixbackend.switch import harness
from vfs import MemoryFileSystem

Scenario = Callable[[str], Any]
EXPECTED_ERRORS = (
    OSError, ValueError, TypeError, NotImplementedError, RuntimeError, KeyError,
    EOFError, tarfile.TarError, zipfile.BadZipFile, lzma.LZMAError,
)  # fmt: skip
"""What :func:`outcome` records as a result (shutil.Error is an OSError)."""
ROOT = "<root>"
UMASK = 0o022
OWN_CODE = tuple(
    str(pathlib.Path(module.__file__).parent) + os.sep
    for module in (posixbackend, sys.modules["vfs"], sys.modules["compat"])
    if module.__file__ is not None
)
"""Frames in these directories are the backend and its providers, not the guest."""
HOST_EVENTS = frozenset({
    "open", "os.chdir", "os.chflags", "os.chmod", "os.chown", "os.getxattr", "os.link",
    "os.listdir", "os.listxattr", "os.lockf", "os.mkdir", "os.remove", "os.removexattr",
    "os.rename", "os.rmdir", "os.scandir", "os.setxattr", "os.symlink", "os.truncate",
    "os.utime",
})  # fmt: skip
"""Audit events the real posix and _io functions raise for file operations."""


class _HostWatch:
    """Collects host file events raised by guest code while a managed run is under way."""

    def __init__(self) -> None:
        self.active = False
        self.events: list[tuple[str, tuple[Any, ...], str]] = []
        self._installed = False
        self._lock = threading.Lock()

    def install(self) -> None:
        with self._lock:
            if not self._installed:
                sys.addaudithook(self._hook)
                self._installed = True

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active or event not in HOST_EVENTS:
            return
        caller = sys._getframe(1).f_code.co_filename
        if caller.startswith(OWN_CODE) or caller.startswith("<frozen importlib"):
            return  # a provider's own host call, or the import system (meant to see the host)
        if harness.PREFIXES and harness.called_by_harness(sys._getframe(1)):
            return  # pytest's own work (rewriting a module imported in the block)
        self.events.append((event, args, caller))

    @contextlib.contextmanager
    def watching(self) -> Iterator[list[tuple[str, tuple[Any, ...], str]]]:
        self.install()
        self.events = []
        self.active = True
        try:
            yield self.events
        finally:
            self.active = False


HOST_WATCH = _HostWatch()


# -- running ------------------------------------------------------------------------------------


def compare(
    scenario: Scenario,
    *,
    chdir: bool = False,
    time_resolution_ns: int = 10**9,
    default_file_system: bool = False,
) -> Any:
    """Run ``scenario`` natively and managed, assert equal results, return the native one."""
    native = run_native(scenario, chdir=chdir)
    managed = run_managed(
        scenario,
        chdir=chdir,
        time_resolution_ns=time_resolution_ns,
        default_file_system=default_file_system,
    )
    assert managed == native, "managed differs from native:\n" + "\n".join(
        differences(native, managed)
    )
    return native


def differences(native: Any, managed: Any, where: str = "") -> list[str]:
    """Where two results differ, as readable lines (the assertion message of :func:`compare`)."""
    if isinstance(native, dict) and isinstance(managed, dict):
        found: list[str] = []
        for key in sorted(native.keys() | managed.keys(), key=repr):
            if key not in managed or key not in native:
                found.append(
                    f"{where}[{key!r}]: native {native.get(key, '<missing>')!r}, "
                    f"managed {managed.get(key, '<missing>')!r}"
                )
            else:
                found += differences(native[key], managed[key], f"{where}[{key!r}]")
        return found
    if (
        isinstance(native, list | tuple)
        and isinstance(managed, list | tuple)
        and len(native) == len(managed)
    ):
        return [
            line
            for index, (left, right) in enumerate(zip(native, managed, strict=True))
            for line in differences(left, right, f"{where}[{index}]")
        ]
    return [] if native == managed else [f"{where}: native {native!r}, managed {managed!r}"]


def run_native(scenario: Scenario, *, chdir: bool = False) -> Any:
    """The scenario's result in a fresh host temp directory (removed afterwards)."""
    root = tempfile.mkdtemp(prefix="stdlib-native-")
    previous_umask = os.umask(UMASK)
    previous_cwd = os.getcwd()
    try:
        if chdir:
            os.chdir(root)
        return placeholder(scenario(root), root)
    finally:
        os.chdir(previous_cwd)
        os.umask(previous_umask)
        shutil.rmtree(root, onerror=_force_remove)


def run_managed(
    scenario: Scenario,
    *,
    chdir: bool = False,
    time_resolution_ns: int = 10**9,
    default_file_system: bool = False,
) -> Any:
    """The scenario's result in a directory of a new managed file system.

    The file system is a bare MemoryFileSystem with a sticky /tmp, or with
    ``default_file_system`` the one ``backend('managed')`` makes (the interpreter's library
    mounted read-only).
    """
    witness = tempfile.mkdtemp(prefix="stdlib-witness-")  # a host directory the guest must miss
    try:
        if default_file_system:
            block = posixbackend.backend("managed", time_resolution_ns=time_resolution_ns)
        else:
            memory = MemoryFileSystem()
            memory.mkdir("/tmp", 0o777)
            memory.chmod("/tmp", 0o1777)
            block = posixbackend.backend(
                "managed", file_system=memory, cwd="/", time_resolution_ns=time_resolution_ns
            )
        with HOST_WATCH.watching() as host_events:
            try:
                with block:
                    assert not os.path.exists(witness), "the managed file system shows the host"
                    root = tempfile.mkdtemp(prefix="stdlib-managed-", dir="/tmp")
                    if chdir:
                        os.chdir(root)
                    result = scenario(root)
            finally:
                assert host_events == [], f"the managed run touched the host: {host_events}"
        assert not os.path.lexists(root), f"the managed root {root} appeared on the host"
        return placeholder(result, root)
    finally:
        os.rmdir(witness)


def _force_remove(function: Any, path: str, exc_info: Any) -> None:
    """rmtree's onerror for the native cleanup: a scenario may leave directories unreadable."""
    parent = os.path.dirname(path)
    os.chmod(parent, 0o700)
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, 0o700)
        shutil.rmtree(path)
    else:
        os.unlink(path)


def placeholder(value: Any, root: str) -> Any:
    """``value`` with the root path replaced by ``<root>`` in every string, bytes and path."""
    if isinstance(value, str):
        return value.replace(root, ROOT)
    if isinstance(value, bytes):
        return value.replace(os.fsencode(root), os.fsencode(ROOT))
    if isinstance(value, os.PathLike):
        return placeholder(os.fspath(value), root)
    if isinstance(value, dict):
        return {placeholder(k, root): placeholder(v, root) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(placeholder(item, root) for item in value)
    return value


# -- summaries ----------------------------------------------------------------------------------


def outcome(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``("ok", result)``, or the error a call raised as :func:`error_facts` gives it."""
    try:
        return ("ok", function(*args, **kwargs))
    except EXPECTED_ERRORS as caught:
        return error_facts(caught)


def error_facts(caught: BaseException) -> tuple[Any, ...]:
    """An exception as comparable facts: class, errno name, filenames, or its args."""
    if isinstance(caught, OSError) and caught.errno is not None:
        return (
            type(caught).__name__,
            errno.errorcode.get(caught.errno, caught.errno),
            caught.strerror,
            caught.filename,
            caught.filename2,
        )
    return (type(caught).__name__, [str(arg) for arg in caught.args])


def stat_facts(path: str | os.PathLike[str], *, follow: bool = False, times: bool = False) -> Any:
    """The fields of a stat that must agree: type and mode, size, links, owner is caller.

    Inode and device numbers, owners' numeric ids and times differ from run to run and between
    file systems, so they are left out (``times=True`` adds mtime in whole seconds, for files
    whose times the scenario set itself).
    """
    status = os.stat(path, follow_symlinks=follow)
    size: Any = status.st_size
    if stat.S_ISDIR(status.st_mode):
        size = None  # file systems count directory sizes their own way (tmpfs, ext4, memory)
    elif stat.S_ISLNK(status.st_mode):  # the target's length: it may hold the root's path
        size = ("target length", status.st_size == len(os.fsencode(os.readlink(path))))
    facts: dict[str, Any] = {
        "mode": stat.filemode(status.st_mode),
        "size": size,
        "nlink": status.st_nlink if not stat.S_ISDIR(status.st_mode) else None,
        "mine": (status.st_uid, status.st_gid) == (os.getuid(), os.getgid()),
    }
    if times:
        facts["mtime"] = status.st_mtime_ns // 10**9
    return facts


def tree(root: str | os.PathLike[str], *, times: bool = False, contents: bool = True) -> Any:
    """Every entry below ``root``: relative path -> stat facts, file contents, link targets."""
    found: dict[str, Any] = {}
    base = os.fspath(root)
    for directory, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(directory, name)
            facts = stat_facts(path, times=times)
            if os.path.islink(path):
                facts["target"] = os.readlink(path)
                facts.pop("mtime", None)  # when the link was made: utime follows links
            elif contents and os.path.isfile(path):
                with open(path, "rb") as file:
                    facts["data"] = file.read()
            found[os.path.relpath(path, base)] = facts
    return found


@pytest.fixture(autouse=True, scope="module")
def uninstall_after_module() -> Iterator[None]:
    """Take the stand-ins out when a scenario module is done (import it into the module)."""
    yield
    posixbackend.uninstall()
