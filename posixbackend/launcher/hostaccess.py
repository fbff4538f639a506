"""The host paths a sandboxed program may reach through the kernel, from what it was granted.

Read: the interpreter's and this library's code with the shared libraries they need (the
:mod:`~posixbackend.isolation.hostview`), the program's own directory, the host directories
its file system shows; with processes, what host programs need to run (the program
directories, ``/etc`` without its secrets, ``/dev/null``...); with host sockets, what name
resolution reads. Written: the host directories its file system shows writable, nothing else.
"""

from __future__ import annotations

import posix
import posixpath
import stat
import sys
from collections.abc import Iterable

import attrs

from vfs import FileSystem, HostFileSystem, MemoryFileSystem, MountFileSystem, OverlayFileSystem
from vfs.delegate import DelegatingFileSystem
from vfs.denyio import DenyIOFileSystem
from vfs.readonly import ReadOnlyFileSystem

PROGRAM_DIRECTORIES = ("/bin", "/sbin", "/usr", "/lib", "/lib32", "/lib64", "/libx32")
"""Where host programs and their libraries live (read and executed when processes may run)."""
ETC = "/etc"
SECRETS = frozenset({
    "shadow", "shadow-", "gshadow", "gshadow-", "sudoers", "sudoers.d", "ssh", "ssl/private",
    "krb5.keytab", "security/opasswd", "ipsec.secrets", "ipsec.d/private", "wireguard",
    "NetworkManager/system-connections", "credstore", "credstore.encrypted", "pki/tls/private",
})  # fmt: skip
"""Entries of /etc never readable, even when host programs may run (credentials and keys)."""
DEVICES_READ = ("/dev/zero", "/dev/urandom", "/dev/random", "/dev/full")
DEVICES_WRITE = ("/dev/null",)
"""Devices host programs commonly open (written: only /dev/null, which keeps nothing)."""
RESOLVER_FILES = (
    "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf",
    "/etc/services", "/etc/protocols",
)  # fmt: skip
"""What the C library's name resolution reads (when host sockets are granted)."""


@attrs.frozen
class HostAccess:
    """Host paths to read below, and to write below."""

    readable: tuple[str, ...] = ()
    writable: tuple[str, ...] = ()

    def plus(self, readable: Iterable[str] = (), writable: Iterable[str] = ()) -> HostAccess:
        return HostAccess(
            tuple(dict.fromkeys([*self.readable, *readable])),
            tuple(dict.fromkeys([*self.writable, *writable])),
        )


class UnknownProvider(Exception):
    """A provider whose host files cannot be told (an adapter to another library)."""


def file_system_access(file_system: FileSystem) -> HostAccess:
    """The host directories ``file_system`` shows, readable and writable (UnknownProvider
    if it holds a provider whose host files cannot be told)."""
    readable: list[str] = []
    writable: list[str] = []
    _walk(file_system, True, readable, writable)
    return HostAccess(tuple(dict.fromkeys(readable)), tuple(dict.fromkeys(writable)))


def _walk(provider: FileSystem, write: bool, readable: list[str], writable: list[str]) -> None:
    if isinstance(provider, HostFileSystem):
        (writable if write else readable).append(provider.root or "/")
    elif isinstance(provider, ReadOnlyFileSystem):
        _walk(provider.inner, False, readable, writable)
    elif isinstance(provider, DelegatingFileSystem):
        _walk(provider.inner, write, readable, writable)
    elif isinstance(provider, MountFileSystem):
        for mounted in provider.mounts.values():
            _walk(mounted, write, readable, writable)
    elif isinstance(provider, OverlayFileSystem):
        _walk(provider.upper, write, readable, writable)
        _walk(provider.lower, False, readable, writable)  # an overlay never writes its lower
    elif not isinstance(provider, MemoryFileSystem | DenyIOFileSystem):
        raise UnknownProvider(type(provider).__name__)


def process_access() -> HostAccess:
    """What host programs need to run: the program directories and the interpreter's own
    (read and executed), /etc but its secrets, and the common devices."""
    interpreter = posixpath.dirname(sys.executable)
    readable = [*PROGRAM_DIRECTORIES, interpreter, *etc_without_secrets(), *DEVICES_READ]
    return HostAccess(tuple(readable), DEVICES_WRITE)


def etc_without_secrets(root: str = ETC, secrets: frozenset[str] = SECRETS) -> list[str]:
    """Every entry of ``root`` except the secrets (a secret nested deeper, ``ssl/private``,
    leaves its directory's other entries)."""
    nested: dict[str, set[str]] = {}
    for secret in secrets:
        head, slash, rest = secret.partition("/")
        if slash:
            nested.setdefault(head, set()).add(rest)
    try:
        names = sorted(posix.listdir(root))
    except OSError:
        return []
    kept: list[str] = []
    for name in names:
        path = f"{root}/{name}"
        if name in secrets:
            continue
        if name in nested and _is_directory(path):
            inner = frozenset(nested[name])
            kept += etc_without_secrets(path, inner)
            continue
        kept.append(path)
    return kept


def _is_directory(path: str) -> bool:
    try:
        return stat.S_ISDIR(posix.lstat(path).st_mode)
    except OSError:
        return False
