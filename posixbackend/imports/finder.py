"""The meta path finder that searches ``sys.path`` through the serving emulated backend.

While an emulated backend serves the importing thread, each path entry is searched in order,
as the path finder does: an entry inside the interpreter's library directories by the path
finder itself (native speed), any other one through the backend -- packages before modules,
extension modules before source before bytecode, namespace portions gathered across entries
unless a regular module turns up later. What it finds gets a loader bound to that backend.
Nothing found: the path finder after it searches the real disk, as imports did before.
"""

from __future__ import annotations

import importlib.machinery
import posixpath
import stat
import sys
import weakref
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from typing import Any, Final

from posixbackend.emulated import EmulatedBackend
from posixbackend.imports import served as files
from posixbackend.imports.loaders import (
    VirtualExtensionLoader,
    VirtualSourcelessLoader,
    VirtualSourceLoader,
)
from posixbackend.imports.roots import is_native
from posixbackend.imports.zips import Archives, find_in_archive
from posixbackend.switch.active import get_active
from posixbackend.switch.block import current_emulated

_external: Final[Any] = sys.modules["importlib._bootstrap_external"]
_spec_from_file_location: Final = _external.spec_from_file_location
"""importlib's own (``importlib.util``'s may be the switch's stand-in)."""


def _loaders() -> list[tuple[str, Any]]:
    """(suffix, loader class) in the path finder's order."""
    found: list[tuple[str, Any]] = []
    found += [(suffix, VirtualExtensionLoader) for suffix in importlib.machinery.EXTENSION_SUFFIXES]
    found += [(suffix, VirtualSourceLoader) for suffix in importlib.machinery.SOURCE_SUFFIXES]
    found += [(suffix, VirtualSourcelessLoader) for suffix in importlib.machinery.BYTECODE_SUFFIXES]
    return found


LOADERS: Final = _loaders()
_S_IFMT: Final = 0o170000
_S_IFDIR: Final = stat.S_IFDIR
_NATIVE_ENTRIES_KEPT: Final = 1024
"""Answers of :meth:`VirtualFinder._native` kept before they are worked out again."""


class Listing:
    """The names in one directory, and their stems (each name up to its first dot): a
    module's last component has no dot, so one not among the stems is not there, in any
    form -- the common case for every entry but the one it is in, at one set lookup."""

    __slots__ = ("mtime_ns", "names", "stems")

    def __init__(self, mtime_ns: int, names: frozenset[str]) -> None:
        self.mtime_ns = mtime_ns
        self.names = names
        self.stems = frozenset([name.partition(".")[0] for name in names])


class Listings:
    """Directory listings of one backend, kept while the directory's mtime stays the same
    (as the path finder's FileFinder keeps them; ``importlib.invalidate_caches`` clears)."""

    def __init__(self) -> None:
        self._kept: dict[str, Listing] = {}

    def listing(self, served: Any, directory: str) -> Listing | None:
        """The listing of ``directory``, None when it is no directory one can list."""
        try:  # files.status, inline: this runs for every import
            st = served.probe(directory)
        except (OSError, ValueError):
            return None
        if st is None or st.st_mode & _S_IFMT != _S_IFDIR:
            return None
        kept = self._kept.get(directory)
        if kept is not None and kept.mtime_ns == st.st_mtime_ns:
            return kept
        try:
            names = frozenset(served.listdir(directory))
        except OSError:
            return None
        listing = self._kept[directory] = Listing(st.st_mtime_ns, names)
        return listing

    def names(self, served: Any, directory: str) -> frozenset[str] | None:
        """The names in ``directory``, None when it is no directory one can list."""
        listing = self.listing(served, directory)
        return None if listing is None else listing.names


class VirtualFinder:
    """Finds modules in the virtual file system of the emulated backend serving the caller."""

    def __init__(self) -> None:
        self._listings: weakref.WeakKeyDictionary[Any, Listings] = weakref.WeakKeyDictionary()
        self._archives: weakref.WeakKeyDictionary[Any, Archives] = weakref.WeakKeyDictionary()
        self._native_entries: dict[str, bool] = {}
        self._recent: tuple[weakref.ref[Any], Listings, object] | None = None
        """The backend asked about last and its listings, with the token of the caches they
        were kept in (one weak reference to call instead of a weak dictionary's lookup)."""
        self._token = object()
        """Replaced when the caches are invalidated."""

    def invalidate_caches(self) -> None:
        self._token = object()
        self._listings = weakref.WeakKeyDictionary()
        self._archives = weakref.WeakKeyDictionary()

    def _listings_of(self, emulated: Any) -> Listings:
        """The listings kept for ``emulated`` (made now if none are)."""
        token = self._token
        listings = self._listings.get(emulated)
        if listings is None:
            listings = self._listings.setdefault(emulated, Listings())
        self._recent = (weakref.ref(emulated), listings, token)
        return listings

    def find_spec(
        self, fullname: str, path: Sequence[Any] | None = None, target: Any = None
    ) -> ModuleSpec | None:
        served = get_active()
        if served is None:  # the native backend, unguarded: nothing virtual to search
            return None
        emulated = served if served.__class__ is EmulatedBackend else current_emulated()
        if emulated is None:
            return None
        recent = self._recent
        if recent is not None and recent[0]() is emulated and recent[2] is self._token:
            listings = recent[1]
        else:
            listings = self._listings_of(emulated)
        entries = sys.path if path is None else path
        tail = fullname.rpartition(".")[2]
        portions: list[str] = []
        found_virtual = False
        native_run: list[str] = []
        """Consecutive entries for the path finder, asked all at once (one call, not one per
        entry: the standard library's imports stay at native speed)."""
        native_entries = self._native_entries
        for entry in list(entries):
            if entry.__class__ is str and entry[:1] == "/":  # the common case, inline
                directory = entry
                native = native_entries.get(entry)
                if native is None:
                    native = self._native(entry)
            elif isinstance(entry, str):
                absolute = self._absolute(served, entry)
                if absolute is None:
                    continue
                directory, native = absolute, self._native(absolute)
            else:
                continue
            if native:
                native_run.append(entry)
                continue
            if native_run:
                spec = self._natively(fullname, native_run, target, portions)
                if spec is not None:
                    return spec
                native_run = []
            listing = listings.listing(served, directory)
            if listing is not None:
                if tail not in listing.stems:
                    continue  # the common case for every other entry: nothing by that name
                spec, portion = self._search(
                    served, listings, fullname, tail, directory, names=listing.names
                )
            else:
                spec, portion = self._search_archive(emulated, served, fullname, tail, directory)
            if spec is not None:
                return spec
            if portion is not None:
                portions.append(portion)
                found_virtual = True
        if native_run:
            spec = self._natively(fullname, native_run, target, portions)
            if spec is not None:
                return spec
        if found_virtual:
            namespace = ModuleSpec(fullname, None, is_package=True)
            namespace.submodule_search_locations = _external._NamespacePath(
                fullname, portions, self._namespace_portions
            )  # recomputed as the parent's path changes, as the path finder's is
            return namespace
        return None

    def _native(self, directory: str) -> bool:
        """Whether the absolute entry ``directory`` is searched by the path finder (answers
        kept: the library roots never change)."""
        known = self._native_entries.get(directory)
        if known is None:
            known = is_native(posixpath.normpath(directory))
            if len(self._native_entries) >= _NATIVE_ENTRIES_KEPT:
                self._native_entries.clear()
            self._native_entries[directory] = known
        return known

    @staticmethod
    def _natively(
        fullname: str, entries: list[str], target: Any, portions: list[str]
    ) -> ModuleSpec | None:
        """The path finder's spec for a module among ``entries`` (in the interpreter's
        library); the namespace portions it found there are added to ``portions``."""
        spec = PathFinder.find_spec(fullname, entries, target)
        if spec is None:
            return None
        if spec.loader is not None:
            return spec
        portions.extend(spec.submodule_search_locations or ())
        return None

    def _namespace_portions(self, fullname: str, parent_path: Sequence[Any]) -> ModuleSpec | None:
        """What a namespace package's path is recomputed from: the path finder's answer
        outside a block, this finder's inside one."""
        found = self.find_spec(fullname, parent_path)
        if found is None:
            found = PathFinder.find_spec(fullname, list(parent_path))
        return found

    def _search_archive(
        self, emulated: Any, served: Any, fullname: str, tail: str, entry: str
    ) -> tuple[ModuleSpec | None, str | None]:
        """(a module's spec, or a namespace portion) when ``entry`` names a zip archive."""
        archives = self._archives.get(emulated)
        if archives is None:
            archives = self._archives.setdefault(emulated, Archives())
        importer = archives.importer(served, entry)
        if importer is None:
            return None, None
        return find_in_archive(importer, fullname)

    @staticmethod
    def _absolute(served: Any, entry: str) -> str | None:
        """The entry as the path finder makes it absolute: '' and '.' are the backend's
        current directory, a relative one is joined to it, nothing is normalised (so
        ``__file__`` keeps ``./sub/../app`` as python keeps it)."""
        if entry.startswith("/"):
            return entry
        try:
            cwd = served.getcwd()
        except OSError:
            return None
        if entry in ("", "."):
            return str(cwd)
        return "/".join(part.rstrip("/") for part in (cwd, entry) if part)

    @staticmethod
    def _search(
        served: Any,
        listings: Listings,
        /,
        fullname: str,
        tail: str,
        directory: str,
        *,
        names: frozenset[str],
    ) -> tuple[ModuleSpec | None, str | None]:
        """(a module's spec, or a namespace portion) for ``tail`` in ``directory``, which
        holds ``names``."""
        portion = None
        if tail in names:
            base = posixpath.join(directory, tail)
            package = listings.names(served, base)
            if package is not None:
                for suffix, loader_class in LOADERS:
                    init = "__init__" + suffix
                    if init in package and _regular(served, posixpath.join(base, init)):
                        origin = posixpath.join(base, init)
                        return _spec(fullname, origin, loader_class, served, [base]), None
                portion = base
        for suffix, loader_class in LOADERS:
            name = tail + suffix
            if name in names and _regular(served, posixpath.join(directory, name)):
                origin = posixpath.join(directory, name)
                return _spec(fullname, origin, loader_class, served, None), None
        return None, portion


def _regular(served: Any, path: str) -> bool:
    st = files.status(served, path)
    return st is not None and stat.S_ISREG(st.st_mode)


def _spec(
    fullname: str, origin: str, loader_class: Any, served: Any, locations: list[str] | None
) -> ModuleSpec:
    loader = loader_class(fullname, origin, served)
    spec: ModuleSpec | None = _spec_from_file_location(
        fullname, origin, loader=loader, submodule_search_locations=locations
    )
    assert spec is not None  # a loader was given
    return spec
