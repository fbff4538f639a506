"""The isolated guest's file system: memory, with the interpreter's library read-only.

Shaped like the managed backend's default file system (``/tmp`` with the sticky bit, the
guest's working directory, the library and site-packages mounted read-only at their real
paths, minus any that would hide a directory the guest's files go in), filled with the files
the parent sent. The host's own files are not there: the child's Landlock rules would refuse
them anyway, and its writes never leave memory. Its memory is capped as a tmpfs on a machine
of the guest's memory limit would be: half of ``Limits.memory_bytes`` for file data (holes
cost nothing), half as many inodes as that has pages; a guest that fills it gets ENOSPC
before its memory limit ends the run. Files sent that do not fit fail the setup.

A pool's zygote builds the memory part of the usual guest's file system once
(:func:`prepare_template`: /tmp, the working directory, the mount points), before it forks:
its children stamp out a copy of it (:class:`~vfs.memory.template.MemoryTemplate`) instead of
making each directory through the file system, then add the guest's files and open the
host's library directories themselves, in their minimal root: no descriptor the zygote
opened reaches a guest. The zygote even makes that copy ahead (:func:`make_ready`): each
child takes its own forked copy of it and sets its times to its start.
"""

from __future__ import annotations

import posix
import posixpath
from collections.abc import Callable, Mapping
from typing import Final

import attrs

import compat
from posixbackend.defaultfs import library_directories
from posixbackend.isolation.filesize import FileSizeLimit
from vfs import (
    FileSystem,
    HostFileSystem,
    Identity,
    MemoryFileSystem,
    MountFileSystem,
    ReadOnlyFileSystem,
)
from vfs.makedirs import make_directories
from vfs.memory import tmpfs_defaults
from vfs.memory.template import MemoryTemplate
from vfs.provider import write_all

NO_HOST_FILES = compat.declare(
    id="isolation.no_host_files",
    function="builtins.open",
    aspect="files in isolated mode",
    level=compat.Level.INFO,
    explanation="the isolated guest sees a memory file system holding only the files "
    "given to run_isolated (and its script), /tmp, its working directory and the "
    "interpreter's library read-only; what it writes comes back as a snapshot, never on disk",
)

IMPORTS_FROM_LIBRARY = compat.declare(
    id="isolation.imports_from_library",
    function="builtins.__import__",
    aspect="importing the guest's own modules in isolated mode",
    level=compat.Level.INFO,
    explanation="imports read the interpreter's library and site-packages from the host, "
    "never the guest's memory file system: a module given in files= cannot be imported, and "
    "a script's directory is not put on sys.path (the child runs with python -I)",
)


@attrs.frozen
class GuestFileSystem:
    """The provider the guest's backend serves, and its writable memory part."""

    namespace: FileSystem
    """Memory with the library mounts: what the guest sees."""
    memory: MemoryFileSystem
    """The guest's own files (the snapshot's source)."""
    sizes: FileSizeLimit | None
    """The file size limit over the memory, when there is one."""


def guest_file_system(
    cwd: str,
    files: Mapping[str, bytes],
    file_size_limit: int | None,
    memory_limit: int | None = None,
) -> GuestFileSystem:
    """A new guest file system holding ``files``, with ``cwd`` made if missing, capped for
    ``memory_limit`` (the guest's; the machine's physical memory if None)."""
    me = Identity.current()
    caps = tmpfs_defaults(memory_limit)
    kept = ["/tmp", *{posixpath.dirname(path) for path in files}]
    libraries = tuple(library_directories(cwd, kept))
    key = (me, cwd, libraries, caps)
    template = _templates.get(key)
    if template is not None:  # the mount points are made already: the Mount finds them
        ready = _ready.pop(key, None)
        memory = template.new() if ready is None else ready[0]
        memory.identity = Identity.root()  # (the files' directories are given away below)
        if ready is not None:
            ready[1]()  # its times: now
    else:
        memory = _bare(me, cwd, caps)
    for path, data in sorted(files.items()):
        _make_directories(memory, posixpath.dirname(path), 0o755, me)
        _write_file(memory, path, data, me)
    memory.identity = me
    sizes = None if file_size_limit is None else FileSizeLimit(memory, file_size_limit)
    mounts: dict[str, FileSystem] = {
        path: ReadOnlyFileSystem(HostFileSystem(path)) for path in libraries
    }
    writable = memory if sizes is None else sizes
    namespace = MountFileSystem(writable, mounts, create_mount_points=True)
    return GuestFileSystem(namespace, memory, sizes)


_templates: dict[tuple[Identity, str, tuple[str, ...], tuple[int, int]], MemoryTemplate] = {}
"""The templates :func:`prepare_template` built, by (owner, working directory, library
directories, caps): a guest whose file system would have the same directories gets a copy."""
TEMPLATES_KEPT: Final = 4


def prepare_template(cwd: str = "/tmp", memory_limit: int | None = None) -> None:
    """Build, once, the memory part of the file system of a guest that starts in ``cwd``
    under ``memory_limit`` with no file whose directory would hide a library directory (any
    other guest builds its own): what :func:`guest_file_system` makes before the guest's
    files, and the mount points its Mount makes, as it makes them. For a pool's zygote
    (the library directories are the host view's, which its children share)."""
    me = Identity.current()
    caps = tmpfs_defaults(memory_limit)
    libraries = tuple(library_directories(cwd, ["/tmp"]))
    key = (me, cwd, libraries, caps)
    if key in _templates:
        return

    def build(memory: MemoryFileSystem) -> None:
        _fill(memory, me, cwd)
        memory.identity = me
        # The mount points, made by a Mount as the guest's makes them (its identity's, 0755,
        # each missing component); what is mounted does not matter: only directories stay.
        MountFileSystem(memory, dict.fromkeys(libraries, MemoryFileSystem()),
                        create_mount_points=True)  # fmt: skip

    template = MemoryTemplate(
        build, identity=Identity.root(), max_bytes=caps[0], max_inodes=caps[1]
    )
    if len(_templates) >= TEMPLATES_KEPT:
        _templates.clear()
        _ready.clear()
    _templates[key] = template


_ready: dict[
    tuple[Identity, str, tuple[str, ...], tuple[int, int]],
    tuple[MemoryFileSystem, Callable[[], None]],
] = {}
"""A copy of each template made ahead (:func:`make_ready`), taken by the next guest, with
what sets its times to the moment it is taken."""


def make_ready() -> None:
    """Make a copy of each template ahead, for the next :func:`guest_file_system` of this
    process to take. For a pool's zygote, after its last own use: it never takes the copy
    itself, and each child it forks takes its own (copy-on-write) one, so no two guests
    share a node, and a child writes to a few of the zygote's pages instead of making every
    node anew. The child stamps the copy's times when it takes it, inode by inode
    (MemoryTemplate.new_ahead: a utime by path per directory, as before, walked each path:
    ~0.15 ms and ~45 more copied pages per guest)."""
    for key, template in _templates.items():
        _ready[key] = template.new_ahead()


def _bare(me: Identity, cwd: str, caps: tuple[int, int]) -> MemoryFileSystem:
    """A new guest memory with /tmp and ``cwd`` (its mount points come with the Mount)."""
    memory = MemoryFileSystem(identity=Identity.root(), max_bytes=caps[0], max_inodes=caps[1])
    _fill(memory, me, cwd)
    return memory


def _fill(memory: MemoryFileSystem, me: Identity, cwd: str) -> None:
    """/tmp (sticky, root's) and ``cwd`` (``me``'s), made in ``memory`` (as root: the
    guest's files are made as root too, and given to ``me``)."""
    _make_directories(memory, "/tmp", 0o1777, Identity.root())
    _make_directories(memory, cwd, 0o755, me)


def _make_directories(memory: MemoryFileSystem, path: str, mode: int, owner: Identity) -> None:
    """mkdir -p ``path``; the directories made belong to ``owner``, the last with ``mode``."""
    for made in make_directories(memory, path, 0o755):
        memory.chown(made, owner.uid, owner.gid)
        if made == path:
            memory.chmod(made, mode)


def _write_file(memory: MemoryFileSystem, path: str, data: bytes, owner: Identity) -> None:
    """Create ``path`` holding ``data``, owned by ``owner``, mode 0644."""
    flags = posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC
    with memory.open(path, flags, 0o644) as handle:
        write_all(handle, data, 0)  # ENOSPC past the cap, never a shorter file
    memory.chown(path, owner.uid, owner.gid)
