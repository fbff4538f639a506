"""The audit hook: the active permissions enforced on events the stand-ins cannot see.

Defence in depth (PEP 578 says hooks are no security boundary): the stand-ins refuse what
goes through ``os``, ``open`` and ``subprocess``; this hook refuses the same things when
they are reached another way -- the real ``posix`` functions found by introspection
(``importlib._bootstrap_external._os``, ``gc.get_objects``), ``_io.open`` and C code opening
files, ``ctypes``, sockets (connect, bind, sendto, name resolution, families beyond the
internet and unix ones, sockets made of a descriptor number), ``fcntl`` and ``mmap`` on
descriptor numbers, host and process state (``sethostname``, ``kill``, ``setrlimit``, audit
hooks), ``pty.spawn``, and the import of C extension
modules (see :mod:`posixbackend.permissions.checks`). Library code reaching the host passes
only when it was entered through one of the library's entry points
(:mod:`posixbackend.permissions.entrypoints`). It is installed by the first block entered
with restricting permissions (or :func:`install_hook`) and cannot be removed; outside such a
block it lets everything through at the cost of a dictionary lookup per audit event it
checks (the others never reach it: :mod:`posixbackend.audithooks`).
"""

from __future__ import annotations

import threading
from typing import Any, Final

from posixbackend.audithooks import add_hook
from posixbackend.permissions import checks, tracesetters
from posixbackend.permissions.checks import Check
from posixbackend.permissions.current import get_policy
from posixbackend.permissions.trusted import CODE_ROOTS, TRUSTED, closure_event

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
DESCRIPTOR_EVENTS: Final = (
    "fcntl.fcntl", "fcntl.ioctl", "fcntl.flock", "fcntl.lockf", "mmap.__new__",
)  # fmt: skip
PROCESS_STATE_EVENTS: Final = (
    "signal.pthread_kill", "resource.setrlimit", "resource.prlimit", "sys.addaudithook",
)  # fmt: skip
CLOSURE_EVENTS: Final = ("function.__new__", "exec", "object.__setattr__")
"""Ways to give the library's code cells of one's own (see trusted.closure_event)."""

CHECKS: Final[dict[str, Check]] = {
    **{event: checks.file_event for event in FILE_EVENTS},
    **{event: checks.process_event for event in PROCESS_EVENTS},
    **{event: checks.socket_event for event in SOCKET_EVENTS},
    **{event: checks.native_event for event in INTROSPECTION_EVENTS},
    **{event: checks.descriptor_event for event in DESCRIPTOR_EVENTS},
    **{event: checks.process_state_event for event in PROCESS_STATE_EVENTS},
    "os.kill": checks.signal_event,
    "os.killpg": checks.signal_event,
    "socket.__new__": checks.new_socket_event,
    "socket.sethostname": checks.host_state_event,
    "vfs.HostFileSystem": checks.host_provider_event,
    "vfs.host.openat2": checks.host_call_event,
    "import": checks.import_event,
    **{event: closure_event for event in CLOSURE_EVENTS},
}
"""Event -> its check (``ctypes.*`` events are native access); other modules add theirs with
:func:`add_check`."""


def add_check(event: str, check: Check) -> None:
    """Check ``event`` with ``check`` (the thread stand-ins check raw thread starts)."""
    CHECKS[event] = check


PREFIXES: Final = ("ctypes.",)
"""Every event starting with one of these is native access (checked by :func:`_hook`)."""


def _hook(event: str, args: tuple[Any, ...]) -> None:
    check = CHECKS.get(event)
    if check is None:
        if event.startswith(PREFIXES):
            check = checks.native_event
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
    """Install the hook for good (PEP 578 hooks cannot be removed); a second call does nothing.
    The import system's code roots are fixed now, before any guest code runs."""
    with _INSTALLATION.lock:
        if _INSTALLATION.installed:
            return
        TRUSTED.refresh()
        CODE_ROOTS.capture()
        add_hook(_hook, CHECKS, PREFIXES)
        tracesetters.install()  # a Python hook makes 3.11's settrace refuse other threads
        _INSTALLATION.installed = True


def hook_installed() -> bool:
    """Whether the hook is in place."""
    return _INSTALLATION.installed


def is_sandboxed() -> bool:
    """Whether the caller runs under restricting permissions with the audit hook enforcing
    them (erlang_python's ``is_sandboxed()``)."""
    policy = get_policy()
    return _INSTALLATION.installed and policy is not None and policy.denies_anything
