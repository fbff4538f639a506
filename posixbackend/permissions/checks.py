"""What the audit hook checks for each event it knows, under the permissions in force.

Each check takes the permissions, the event and its arguments, returns when the call may go
on and raises the denial (:mod:`posixbackend.permissions.denials`) when it may not. "Who made
the call" (:func:`responsible`) is asked only when the permissions alone do not allow it.
"""

from __future__ import annotations

import errno
import importlib.machinery
import os
import posixpath
import socket
import sys
import sysconfig
import types
from collections.abc import Callable
from typing import Any, Final

from posixbackend.permissions.denials import denied
from posixbackend.permissions.policy import Access, Permissions, socket_address_allowed
from posixbackend.permissions.trusted import (
    CODE_ROOTS,
    IMPORTER,
    INTERPRETER,
    LIBRARY,
    caller,
    calling_frame,
)

Check = Callable[[Permissions, str, tuple[Any, ...]], None]

NATIVE_GATEWAYS: Final = frozenset({
    "_ctypes", "_cffi_backend", "_testcapi", "_testinternalcapi", "_testbuffer",
    "_testmultiphase", "_testsinglephase", "_testimportmultiple", "_xxtestfuzz",
    "_xxsubinterpreters", "_xxinterpchannels",
})  # fmt: skip
"""Standard-library extension modules that give raw access to memory or the C API."""
SOCKET_FAMILIES: Final = frozenset({socket.AF_INET, socket.AF_INET6, socket.AF_UNIX})
"""The address families a guest may create sockets of without allow_host_sockets='all' (the
others -- netlink, packet, vsock... -- configure or bypass the host's network)."""


def responsible() -> str | None:
    """Who made the call being checked (see :func:`~posixbackend.permissions.trusted.caller`;
    the frames: responsible <- the check <- the hook <- the caller)."""
    return caller(calling_frame(3))


# -- files ---------------------------------------------------------------------------------


def file_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
    """open and the os.* file events: host files only with allow_io='all'; the import system
    may read below the code roots."""
    if policy.allow_io is Access.ALL:
        return
    kind = responsible()
    if kind == LIBRARY:
        return
    path = args[0] if args else None
    if kind == INTERPRETER and _reads(event, args):
        return
    if kind == IMPORTER and _reads(event, args) and CODE_ROOTS.contain(path):
        return
    filename = path if isinstance(path, str | bytes | int) else None
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


def host_provider_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
    """A vfs.HostFileSystem being made: the host's files, so allow_io='all' (or the library
    making one for a block, e.g. the default file system's library mounts)."""
    if policy.allow_io is Access.ALL or responsible() == LIBRARY:
        return
    root = args[0] if args and isinstance(args[0], str) else None
    raise denied(event, "allow_io", code=errno.EACCES, filename=root)


# -- processes, native access, imports ---------------------------------------------------------


def process_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
    if not policy.allow_create_process:
        raise denied(event, "allow_create_process")


def native_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
    if not policy.allow_native_access:
        raise denied(event, "allow_native_access")


def signal_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
    """os.kill, os.killpg of a real process: only where processes are granted (the emulated
    backend's kill reaches its own children without this)."""
    if policy.allow_create_process or responsible() == LIBRARY:
        return
    target = args[0] if args else "?"
    raise denied(f"{event} of process {target}", "allow_create_process")


def process_state_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
    """What acts on the embedding process itself -- resource limits, signals to its threads,
    audit hooks (which would run for the embedder too): native access."""
    if policy.allow_native_access or responsible() == LIBRARY:
        return
    if event == "resource.prlimit" and (len(args) < 3 or args[2] is None):
        return  # reading a limit changes nothing
    raise denied(event, "allow_native_access")


def host_call_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
    """vfs.host.openat2: the host provider's C call, which opens host files from any directory
    descriptor -- the library's own (its HostFileSystem at work), or native access."""
    if policy.allow_native_access or responsible() == LIBRARY:
        return
    raise denied(event, "allow_native_access")


def import_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
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


STANDARD_EXTENSION_DIRECTORIES: Final = _standard_extension_directories()


# -- real descriptors by number ----------------------------------------------------------------


def descriptor_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
    """fcntl.fcntl, ioctl, flock, lockf and mmap of a descriptor number: the process's real
    descriptor of that number, which is the embedder's unless the guest may touch host files
    (on the emulated backend a guest's numbers are never real ones)."""
    fd = args[0] if args else None
    if event == "mmap.__new__" and fd == -1:
        return  # an anonymous map
    if policy.allow_native_access or policy.allow_io is Access.ALL:
        return
    if responsible() == LIBRARY:
        return
    raise denied(f"{event} of descriptor {fd}", "allow_native_access")


# -- sockets -------------------------------------------------------------------------------


def socket_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
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


def new_socket_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
    """A socket object being made: of an address family that reaches no further than the
    network the other checks watch, and from a descriptor only where the standard library
    makes one of a socket it already has (accept, socketpair, dup, ssl) -- ``socket(fileno=3)``
    would take over the embedder's descriptor 3."""
    family = args[1] if len(args) > 1 else -1
    if policy.allow_native_access and policy.allow_host_sockets is Access.ALL:
        return
    frame = calling_frame(2)  # the Python code that called _socket.socket.__init__
    if caller(frame) == LIBRARY:
        return
    if not policy.allow_native_access and not _fresh_or_standard(frame):
        raise denied("socket.socket from a descriptor number", "allow_native_access")
    if policy.allow_host_sockets is not Access.ALL and family not in (*SOCKET_FAMILIES, -1):
        raise denied(f"a socket of family {_family_name(family)}", "allow_host_sockets='all'")


def _family_name(family: Any) -> str:
    """AF_NETLINK for 16, or the number of a family socket does not name."""
    try:
        return socket.AddressFamily(family).name
    except ValueError:
        return str(family)


def _fresh_or_standard(frame: types.FrameType | None) -> bool:
    """Whether the socket is made by socket.socket() without a descriptor, or from one by the
    standard library's own code that holds it (its frame called socket.socket.__init__)."""
    if frame is None or frame.f_code is not socket.socket.__init__.__code__:
        return False  # _socket.socket made directly: its descriptor cannot be told
    if frame.f_locals.get("fileno") is None:
        return True
    maker = frame.f_back
    return maker is not None and maker.f_code in descriptor_makers()


def descriptor_makers() -> set[types.CodeType]:
    """The standard library's code that makes a socket object of a descriptor it holds."""
    makers = {socket.socket.accept.__code__, socket.socket.dup.__code__}
    makers.add(socket.socketpair.__code__)
    ssl = sys.modules.get("ssl")
    if ssl is not None:
        create = getattr(ssl.SSLSocket, "_create", None)
        function = getattr(create, "__func__", None)
        if isinstance(function, types.FunctionType):
            makers.add(function.__code__)
    return makers


def host_state_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
    """socket.sethostname: the host's identity on the network."""
    if policy.allow_host_sockets is Access.ALL or responsible() == LIBRARY:
        return
    raise denied(event, "allow_host_sockets='all'")
