"""Computing an interpreter's view of the host: the files it needs to go on running Python.

The standard library (with lib-dynload), the site-packages directories it imports from, each
of this library's package directories on its own (an editable install's source checkout, with
its ``.git`` and tests, stays out), the interpreter's executable and ``pyvenv.cfg``, the
loader's cache, and the closure of the shared libraries the interpreter and every extension
module there need; with the layout of the minimal root that shows them. Computed by the
isolated mode's parent (once) and by the launcher's sandbox, never by a confined process.
"""

from __future__ import annotations

import functools
import importlib.util
import posix
import posixpath
import site
import stat
import sys
import sysconfig
from collections.abc import Iterable, Iterator

from posixbackend.isolation.elf import read_elf
from posixbackend.isolation.hostview import HostView
from posixbackend.isolation.libraries import (
    ALWAYS_LOADED_LATER,
    LOADER_CACHE,
    Resolver,
    loader_cache,
    real_path,
    startup_library_path,
)
from posixbackend.isolation.minimalroot import layout

LIBRARY_PACKAGES = ("posixbackend", "vfs", "compat", "attr", "attrs")
"""This library's packages and its dependency's, each shown on its own."""


def package_directories() -> list[str]:
    """The directory of each of :data:`LIBRARY_PACKAGES` (those found)."""
    found = []
    for name in LIBRARY_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin is not None:
            found.append(posixpath.dirname(spec.origin))
    return found


def site_directories() -> list[str]:
    """The site-packages directories of this interpreter (whether on sys.path or not)."""
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"], *site.getsitepackages()]))


def standard_library_entries() -> list[str]:
    """The entries of sys.path that are the interpreter's own library (its zip file, the
    standard library, lib-dynload): below the base installation's prefixes."""
    prefixes = {sys.base_prefix, sys.base_exec_prefix}
    return [
        entry
        for entry in sys.path
        if isinstance(entry, str)
        and any(entry.startswith(prefix.rstrip("/") + "/") for prefix in prefixes)
        and entry not in site_directories()
    ]


def import_directories(entries: Iterable[str]) -> list[str]:
    """``entries`` (sys.path entries) without the source checkouts this library's packages
    live in: an entry that holds one of them and is not a site-packages directory."""
    sites = set(site_directories())
    packages = package_directories()
    kept = []
    for entry in entries:
        if not entry:
            continue
        holds_package = any(package.startswith(entry.rstrip("/") + "/") for package in packages)
        if holds_package and entry not in sites:
            continue
        kept.append(entry)
    return kept


def interpreter_view(entries: Iterable[str], extra_files: Iterable[str] = ()) -> HostView:
    """The view of an interpreter importing from ``entries`` (sys.path entries: directories
    or zip files; checkouts left out), with this library's packages, the interpreter's
    files, the loader's cache, the shared library closure, and ``extra_files``."""
    directories: list[str] = []
    files: list[str] = []
    packages = package_directories()
    for entry in [*import_directories(entries), *packages]:
        kind = _kind(entry)
        if kind == "directory":
            directories.append(posixpath.normpath(entry))
        elif kind == "file":
            files.append(entry)
    searched = {posixpath.normpath(path) for path in [*site_directories(), *packages]}
    trees = [directory for directory in directories if directory in searched]
    flat = [directory for directory in directories if directory not in searched]
    directories = outermost(directories)
    executable = sys.executable
    files.append(executable)
    configuration = posixpath.join(sys.prefix, "pyvenv.cfg")
    if sys.prefix != sys.base_prefix and _kind(configuration) == "file":
        files.append(configuration)
    files.append(LOADER_CACHE)
    files += extra_files
    real_executable = real_path(executable)
    elf = read_elf(real_executable)
    if elf is not None:
        resolver = Resolver(elf.machine, loader_cache(), startup_library_path())
        objects = [real_executable, *extension_modules(trees, flat)]
        files += resolver.closure(objects, ALWAYS_LOADED_LATER)
    inside = [path for path in files if not _below_any(path, directories)]
    return HostView(tuple(directories), tuple(dict.fromkeys(inside)))


def with_root(view: HostView) -> HostView:
    """``view`` with the layout of the minimal root that shows it."""
    return HostView(view.directories, view.files, layout(view.paths()))


@functools.cache
def isolated_view_json() -> str:
    """:func:`isolated_view` as the child reads it (made once too)."""
    return isolated_view().to_json()


@functools.cache
def isolated_view() -> HostView:
    """The isolated child's view and its root's layout (computed once per process: the
    parent passes it to every child it starts, so a run does not pay for it)."""
    entries = [*standard_library_entries(), *site_directories()]
    return with_root(interpreter_view(entries))


def extension_modules(trees: Iterable[str], flat: Iterable[str]) -> Iterator[str]:
    """The shared object files below ``trees`` (site-packages and package directories, where
    packages hold extension modules at any depth, in directories named as packages are:
    not metadata, caches or a wheel's bundled libraries, which the loader finds by the
    modules' search paths) and directly in ``flat`` (the standard library's entries:
    lib-dynload holds its extension modules, the rest none)."""
    pending = [(directory, True) for directory in trees]
    pending += [(directory, False) for directory in flat]
    while pending:
        directory, deep = pending.pop()
        try:
            listing = posix.scandir(directory)
        except OSError:
            continue
        with listing:
            for entry in listing:
                name = entry.name
                if ".so" in name:
                    if name.endswith(".so") or ".so." in name:
                        yield entry.path
                elif (
                    deep
                    and name.isidentifier()
                    and name != "__pycache__"
                    and entry.is_dir(follow_symlinks=False)
                ):
                    pending.append((entry.path, True))


def outermost(paths: Iterable[str]) -> list[str]:
    """The paths without duplicates and without those below another of them, sorted."""
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not any(_below(path, outer) for outer in kept):
            kept.append(path)
    return kept


def _below(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _below_any(path: str, directories: Iterable[str]) -> bool:
    return any(_below(path, directory) for directory in directories)


def _kind(path: str) -> str | None:
    """'directory', 'file' (a regular file) or None (anything else, or missing), followed
    through symbolic links."""
    try:
        mode = posix.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISDIR(mode):
        return "directory"
    return "file" if stat.S_ISREG(mode) else None
