"""The file system ``backend('managed')`` gets when none is given.

A fresh MemoryFileSystem shaped like a small Linux system (``/tmp`` with the sticky bit, the
user's home directory, the current directory, all empty and writable), with the interpreter's
own library and site-packages mounted read-only at their real paths, as GraalVM gives a guest
read access to its "language home": tracebacks with source lines, ``inspect.getsource``,
``linecache`` and ``importlib.resources`` keep working inside the block. (Imports themselves
never go through ``os`` stand-ins: the import system calls the real ``posix`` module.)

Its memory is capped as a tmpfs mounted with no options is (what ``/tmp`` and ``/dev/shm``
usually are): half of the machine's physical memory for file data, half as many inodes as that
has pages, so a program that fills it gets ENOSPC, which it can handle, rather than a
MemoryError or the out-of-memory killer. ``backend('managed')``, ``Permissions.sandbox()`` and
the launcher's ``--fs=memory`` all get it; pass ``max_bytes``/``max_inodes`` (None: no cap), or
give those a file system of your own (``MemoryFileSystem(max_bytes=...)``), to choose another.
"""

from __future__ import annotations

import functools
import posix
import posixpath
import site
import sys
import sysconfig
import threading
from collections.abc import Iterable
from typing import Final, Literal

import compat
from vfs import FileSystem, HostFileSystem, Identity, MemoryFileSystem
from vfs.host import host_is_directory
from vfs.memory import tmpfs_defaults
from vfs.memory.template import MemoryTemplate
from vfs.mount import MountFileSystem
from vfs.readonly import ReadOnlyFileSystem

TMPFS: Final = "tmpfs"
"""The default of :func:`default_file_system`'s caps: what a tmpfs mounted without options gets."""

CONTENTS = compat.declare(
    id="switch.defaultfs.contents",
    function="os.open",
    aspect="what the default memory file system holds",
    level=compat.Level.INFO,
    explanation="only /tmp, the home directory, the current directory and the interpreter's "
    "library exist: no /dev (providers hold no device files, so os.devnull is missing), no "
    "/proc, /etc or host programs (shutil.which finds no tar, zip or shell)",
)

READ_ONLY_LIBRARY = compat.declare(
    id="switch.defaultfs.read_only_library",
    function="os.open",
    aspect="the interpreter's library in the default memory file system",
    level=compat.Level.INFO,
    explanation="the interpreter's library and site-packages are mounted read-only (as "
    "GraalVM gives a guest its language home): writing there fails with EROFS, so nothing "
    "can be installed or compiled into them",
)

_shared_lock = threading.Lock()
_shared: dict[str, FileSystem] = {}
"""One read-only host provider per library directory, shared by every default file system."""
_libraries: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[str, ...]] = {}
_LIBRARIES_KEPT: Final = 64


def library_directories(cwd: str, keep: Iterable[str] = ()) -> list[str]:
    """The interpreter's library directories to show: existing, not nested, and hiding none of
    the writable directories ``keep`` (nor ``cwd``): a script run from /tmp puts /tmp on
    sys.path, yet /tmp must stay the memory file system's own. The answer is kept for the
    same arguments and ``sys.path`` (every block of a test suite asks the same question)."""
    kept = (cwd, *keep)
    key = (kept, tuple(entry for entry in sys.path if isinstance(entry, str)))
    with _shared_lock:
        known = _libraries.get(key)
    if known is None:
        known = _library_directories(cwd, kept)
        with _shared_lock:
            if len(_libraries) >= _LIBRARIES_KEPT:
                _libraries.clear()
            _libraries[key] = known
    return list(known)


def _library_directories(cwd: str, kept: tuple[str, ...]) -> tuple[str, ...]:
    entries = [entry for entry in sys.path if isinstance(entry, str)]
    found: list[str] = []
    for candidate in dict.fromkeys([*_installation_directories(), *entries]):
        if not candidate:
            continue
        path = posixpath.normpath(posixpath.join(cwd, candidate))
        if any(_covers(path, directory) for directory in kept) or not host_is_directory(path):
            continue
        found.append(path)
    return tuple(_outermost(found))


@functools.cache
def _installation_directories() -> tuple[str, ...]:
    """sysconfig's and site's library directories (worked out once, as the import finder's
    native roots are: they are fixed for the life of the process)."""
    paths = sysconfig.get_paths()
    candidates = [paths.get(key, "") for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    candidates += site.getsitepackages() if hasattr(site, "getsitepackages") else []
    return tuple(dict.fromkeys(candidates))


def default_file_system(
    *,
    max_bytes: int | Literal["tmpfs"] | None = TMPFS,
    max_inodes: int | Literal["tmpfs"] | None = TMPFS,
) -> tuple[FileSystem, str]:
    """A new default file system for a managed block, and the directory to start in.

    Its memory holds at most ``max_bytes`` of file data in ``max_inodes`` inodes (see
    :class:`~vfs.MemoryFileSystem`); by default a tmpfs's defaults (half of physical memory,
    half as many inodes as it has pages), None for no cap.
    """
    data, inodes = tmpfs_defaults()
    me = Identity.current()
    cwd = host_cwd()
    home = posix.environ.get(b"HOME", b"/root" if me.is_root else b"/home/user").decode(
        sys.getfilesystemencoding(), "surrogateescape"
    )
    home = posixpath.normpath("/" + home.lstrip("/"))  # as mkdir -p "$HOME" from / makes it
    libraries = tuple(library_directories(cwd, ("/tmp", home)))
    caps = (
        data if isinstance(max_bytes, str) else max_bytes,
        inodes if isinstance(max_inodes, str) else max_inodes,
    )
    memory = _template(me, home, cwd, libraries, caps).new()
    mounts = {path: _read_only_host(path) for path in libraries}
    return MountFileSystem(memory, mounts, create_mount_points=True), cwd


_templates: dict[tuple[object, ...], MemoryTemplate] = {}
_TEMPLATES_KEPT: Final = 16


def _template(
    me: Identity,
    home: str,
    cwd: str,
    libraries: tuple[str, ...],
    caps: tuple[int | None, int | None],
) -> MemoryTemplate:
    """The memory file system's tree for these arguments, built once (a test suite asks for
    the same one before every test): /tmp, the home and current directories, the mount
    points, the caps; ``me`` owns the home and current directories and is whose permissions
    are checked."""
    key = (me, home, cwd, libraries, caps)
    with _shared_lock:
        template = _templates.get(key)
    if template is None:

        def build(memory: MemoryFileSystem) -> None:
            for path, mode, owned in _directories(home, cwd, libraries):
                memory.mkdir(path, mode)
                if owned:
                    memory.chown(path, me.uid, me.gid)
            memory.identity = me

        template = MemoryTemplate(
            build, identity=Identity.root(), max_bytes=caps[0], max_inodes=caps[1]
        )
        with _shared_lock:
            if len(_templates) >= _TEMPLATES_KEPT:
                _templates.clear()
            _templates[key] = template
    return template


def _directories(home: str, cwd: str, libraries: Iterable[str]) -> list[tuple[str, int, bool]]:
    """The memory's directories, parents first: (path, mode, whether it is the user's). /tmp
    (sticky), the home and current directories (the user's; their missing parents root's
    0755 ones) and the mount points of ``libraries`` (root's, 0755, as a Mount makes them).
    Worked out from the (canonical) paths alone, so that each is made with one mkdir and no
    lookup of what is there yet: a fresh file system holds only what came before."""
    made: dict[str, tuple[int, bool]] = {}

    def make(path: str, mode: int, owned: bool) -> None:
        current = ""
        last_made = False
        for part in path.split("/"):
            if not part:
                continue
            current += "/" + part
            last_made = current not in made
            if last_made:
                made[current] = (0o755, False)
        if last_made:
            made[current] = (mode, owned)

    make("/tmp", 0o1777, False)
    make(home, 0o755, True)
    make(cwd, 0o755, True)
    for library in libraries:
        make(library, 0o755, False)
    return [(path, mode, owned) for path, (mode, owned) in made.items()]


def _read_only_host(path: str) -> FileSystem:
    """The shared read-only view of the host directory ``path``."""
    with _shared_lock:
        provider = _shared.get(path)
        if provider is None:
            provider = _shared[path] = ReadOnlyFileSystem(HostFileSystem(path))
        return provider


def host_cwd() -> str:
    """The process's real working directory (through posix), or / when it was removed."""
    try:
        return posix.getcwd()
    except OSError:  # the process's directory was removed: start at / instead
        return "/"


def _covers(path: str, directory: str) -> bool:
    """Whether mounting ``path`` would hide ``directory`` (it is that or one of its parents)."""
    return directory == path or directory.startswith(path.rstrip("/") + "/")


def _outermost(paths: Iterable[str]) -> list[str]:
    """The paths with duplicates and paths inside another of them removed, sorted."""
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not any(path.startswith(outer + "/") for outer in kept):
            kept.append(path)
    return kept
