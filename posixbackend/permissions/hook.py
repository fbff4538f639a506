"""The audit hook: the active permissions enforced on events the stand-ins cannot see.

Defence in depth (PEP 578 says hooks are no security boundary): the stand-ins refuse what
goes through ``os``, ``open`` and ``subprocess``; this hook refuses the same things when
they are reached another way -- the real ``posix`` functions found by introspection
(``importlib._bootstrap_external._os``, ``gc.get_objects``), ``_io.open`` and C code opening
files, ``ctypes``, sockets (connect, bind, sendto, name resolution), ``pty.spawn``, and the
import of C extension modules. It is installed by the first block entered with restricting
permissions (or :func:`install_hook`) and cannot be removed; outside such a block it lets
everything through at the cost of a dictionary lookup per audit event.
"""

from __future__ import annotations

import errno
import importlib.machinery
import os
import posixpath
import sys
import sysconfig
import threading
import types
from collections.abc import Callable
from typing import Any, Final

from posixbackend.permissions.current import get_policy
from posixbackend.permissions.denials import denied
from posixbackend.permissions.policy import Access, Permissions, socket_address_allowed

Check = Callable[[Permissions, str, tuple[Any, ...]], None]

LIBRARY_PACKAGES: Final = ("posixbackend", "vfs", "compat")
"""The library's own packages: their code reaches the host for the backends it serves."""
IMPORT_MODULES: Final = ("importlib._bootstrap_external", "importlib._bootstrap", "zipimport")
"""The import system's modules: trusted to read (never to write) the host's files."""
NATIVE_GATEWAYS: Final = frozenset({
    "_ctypes", "_cffi_backend", "_testcapi", "_testinternalcapi", "_testbuffer",
    "_testmultiphase", "_testsinglephase", "_testimportmultiple", "_xxtestfuzz",
    "_xxsubinterpreters", "_xxinterpchannels",
})  # fmt: skip
"""Standard-library extension modules that give raw access to memory or the C API."""


class _TrustedCode:
    """The code objects of the library and of the import system, found lazily."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.library: set[types.CodeType] = set()
        self.importer: set[types.CodeType] = set()
        self._scanned: set[str] = set()

    def refresh(self) -> None:
        """Collect the code of modules imported since the last look."""
        with self._lock:
            for name, module in list(sys.modules.items()):
                if name in self._scanned or not isinstance(module, types.ModuleType):
                    continue
                root = name.partition(".")[0]
                if root in LIBRARY_PACKAGES:
                    target = self.library
                elif name in IMPORT_MODULES or name.startswith("_frozen_importlib"):
                    target = self.importer
                else:
                    continue
                self._scanned.add(name)
                for value in list(vars(module).values()):
                    _collect(value, name, target)

    def kind_of(self, code: types.CodeType) -> str | None:
        """ "library", "importer" or None for code of neither."""
        for attempt in (0, 1):
            if code in self.library:
                return "library"
            if code in self.importer:
                return "importer"
            if attempt == 0:
                self.refresh()
        return None


def _collect(value: Any, module: str, target: set[types.CodeType]) -> None:
    """Add the code objects of a module's functions and classes (and their nested code)."""
    if isinstance(value, staticmethod | classmethod):
        value = value.__func__
    if isinstance(value, property):
        for accessor in (value.fget, value.fset, value.fdel):
            if accessor is not None:
                _collect(accessor, module, target)
        return
    if isinstance(value, types.FunctionType):
        if value.__module__ == module:
            _add_code(value.__code__, target)
        wrapped = getattr(value, "__wrapped__", None)
        if isinstance(wrapped, types.FunctionType) and wrapped.__module__ == module:
            _add_code(wrapped.__code__, target)
    elif isinstance(value, type) and value.__module__ == module:
        for member in list(vars(value).values()):
            _collect(member, module, target)
    elif isinstance(value, types.CodeType):
        _add_code(value, target)


def _add_code(code: types.CodeType, target: set[types.CodeType]) -> None:
    target.add(code)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            _add_code(constant, target)


TRUSTED: Final = _TrustedCode()


def _caller_kind() -> str | None:
    """Whose Python code made the call that raised the event being checked: "library",
    "importer", "interpreter" when no Python code runs at all (python's start-up reading the
    script of a child process the policy was handed to), or None (the guest's, or C code's
    called from it)."""
    try:
        frame = sys._getframe(3)  # _caller_kind <- the check <- the hook <- the caller
    except ValueError:
        return "interpreter"
    return TRUSTED.kind_of(frame.f_code)


# -- the checks --------------------------------------------------------------------------


def _file_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
    """open and the os.* file events: host files only with allow_io='all'."""
    if policy.allow_io is Access.ALL:
        return
    kind = _caller_kind()
    if kind == "library" or (kind in ("importer", "interpreter") and _reads(event, args)):
        return
    filename = args[0] if args and isinstance(args[0], str | bytes | int) else None
    label = "open" if event == "open" else event
    raise denied(label, "allow_io", code=errno.EACCES, filename=filename)


def _reads(event: str, args: tuple[Any, ...]) -> bool:
    """Whether an event only reads (the import system may read, never write)."""
    if event == "open":
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else -1
        mode = args[1] if len(args) > 1 else None
        if flags >= 0:
            return flags & os.O_ACCMODE == os.O_RDONLY and not flags & (os.O_CREAT | os.O_TRUNC)
        return isinstance(mode, str) and set(mode) <= set("rbt")
    return event in ("os.listdir", "os.scandir")


def _process_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
    if not policy.allow_create_process:
        raise denied(event, "allow_create_process")


def _native_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
    if not policy.allow_native_access:
        raise denied(event, "allow_native_access")


def _import_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
    """The import of a C extension module (the event with a file name, before loading)."""
    if policy.allow_native_access or len(args) < 2 or not isinstance(args[1], str):
        return
    name, filename = args[0], args[1]
    if not filename.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
        return
    if _standard_extension(filename) and name.rpartition(".")[2] not in NATIVE_GATEWAYS:
        return
    raise denied(f"importing the C extension module {name!r}", "allow_native_access")


def _standard_extension(filename: str) -> bool:
    """Whether a file is one of the interpreter's own extension modules (lib-dynload)."""
    directory = posixpath.dirname(posixpath.abspath(filename))
    return directory in STANDARD_EXTENSION_DIRECTORIES


def _standard_extension_directories() -> frozenset[str]:
    """Where the interpreter's own extension modules live (DESTSHARED, lib-dynload)."""
    found = {posixpath.join(sysconfig.get_paths()["stdlib"], "lib-dynload")}
    shared = sysconfig.get_config_var("DESTSHARED")
    if isinstance(shared, str):
        found.add(shared)
    return frozenset(posixpath.abspath(directory) for directory in found)


def _socket_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
    """connect, bind, sendto, sendmsg: the address; name resolution: the host name."""
    grant = policy.allow_host_sockets
    if grant is Access.ALL:
        return
    if event in ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"):
        address = args[1] if len(args) > 1 else None
        if address is None:
            return
        if isinstance(address, tuple) and len(address) >= 2 and isinstance(address[0], str):
            if socket_address_allowed(grant, address[0], address[1]):
                return
            shown = f"{address[0]}:{address[1]}"
        else:
            shown = repr(address)
        raise denied(f"{event} to {shown}", "allow_host_sockets")
    host: Any = args[0] if args else None  # a name, bytes, or getnameinfo's sockaddr
    if isinstance(host, tuple):
        host = host[0] if host else None
    if host is None:
        return
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    port = args[1] if event == "socket.getaddrinfo" and len(args) > 1 else None
    if socket_address_allowed(grant, str(host), port):
        return
    raise denied(f"{event} of {host!r}", "allow_host_sockets")


STANDARD_EXTENSION_DIRECTORIES: Final = _standard_extension_directories()

FILE_EVENTS: Final = (
    "open", "os.listdir", "os.scandir", "os.chdir", "os.chflags", "os.chmod", "os.chown",
    "os.link", "os.mkdir", "os.remove", "os.rename", "os.rmdir", "os.symlink", "os.truncate",
    "os.utime", "os.listxattr", "os.getxattr", "os.setxattr", "os.removexattr", "os.fwalk",
)  # fmt: skip
PROCESS_EVENTS: Final = (
    "os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system",
    "subprocess.Popen", "pty.spawn",
)  # fmt: skip
SOCKET_EVENTS: Final = (
    "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
    "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr",
    "socket.getnameinfo",
)  # fmt: skip
INTROSPECTION_EVENTS: Final = ("gc.get_objects", "gc.get_referrers", "gc.get_referents")
"""Ways to reach any object of the interpreter (the real posix, the real fork_exec)."""

CHECKS: Final[dict[str, Check]] = {
    **{event: _file_event for event in FILE_EVENTS},
    **{event: _process_event for event in PROCESS_EVENTS},
    **{event: _socket_event for event in SOCKET_EVENTS},
    **{event: _native_event for event in INTROSPECTION_EVENTS},
    "import": _import_event,
}


def _hook(event: str, args: tuple[Any, ...]) -> None:
    check = CHECKS.get(event)
    if check is None:
        if event.startswith("ctypes."):
            check = _native_event
        else:
            return
    policy = get_policy()
    if policy is not None:
        check(policy, event, args)


class _Installation:
    """The hook's one installation in this interpreter."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.installed = False


_INSTALLATION: Final = _Installation()


def install_hook() -> None:
    """Install the hook for good (PEP 578 hooks cannot be removed); a second call does nothing."""
    with _INSTALLATION.lock:
        if _INSTALLATION.installed:
            return
        TRUSTED.refresh()
        sys.addaudithook(_hook)
        _INSTALLATION.installed = True


def hook_installed() -> bool:
    """Whether the hook is in place."""
    return _INSTALLATION.installed


def is_sandboxed() -> bool:
    """Whether the caller runs under restricting permissions with the audit hook enforcing
    them (erlang_python's ``is_sandboxed()``)."""
    policy = get_policy()
    return _INSTALLATION.installed and policy is not None and policy.denies_anything
