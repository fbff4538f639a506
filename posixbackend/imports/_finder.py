"""The meta path finder that searches ``sys.path`` through the serving emulated backend.

While an emulated backend serves the importing thread, each path entry is searched in order,
as the path finder does: an entry inside the interpreter's library directories by the path
finder itself (native speed), any other one through the backend -- packages before modules,
extension modules before source before bytecode, namespace portions gathered across entries
unless a regular module turns up later. What it finds gets a loader bound to that backend.
Nothing found: the path finder after it searches the real disk, as imports did before.
The library's own packages are never searched here: their modules, many first imported inside
a block, always come from the library's files (never from a guest's file at their path).
"""

from __future__ import annotations

import importlib.machinery
import posixpath
import stat
import sys
import weakref
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec, PathFinder
from typing import Any, Final

from posixbackend.emulated import EmulatedBackend
from posixbackend.imports import served as files
from posixbackend.imports._loaders import (
    VirtualExtensionLoader,
    VirtualSourcelessLoader,
    VirtualSourceLoader,
)
from posixbackend.imports._roots import is_native
from posixbackend.imports.zips import Archives, find_in_archive
from posixbackend.permissions.anchors import ANCHORS
from posixbackend.permissions.trusted import LIBRARY_PACKAGES
from posixbackend.switch.active import get_active, in_context
from posixbackend.switch.guard import Guard, current_emulated

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
_PLANS_KEPT: Final = 64
"""Steps of :meth:`VirtualFinder._steps` kept (one per distinct sys.path) before they are."""


class Listing:
    """The names in one directory, and their stems (each name up to its first dot): a
    module's last component has no dot, so one not among the stems is not there, in any
    form -- the common case for every entry but the one it is in, at one set lookup. Kept
    with the directory's mtime, and the file system's watch of it where it has one (see
    :meth:`vfs.FileSystem.watch`) with the token it gave before the directory was read."""

    __slots__ = ("mtime_ns", "names", "stems", "token", "watch")

    def __init__(
        self,
        mtime_ns: int,
        names: frozenset[str],
        stems: frozenset[str],
        watch: Callable[[], object] | None,
        token: object,
    ) -> None:
        self.mtime_ns = mtime_ns
        self.names = names
        self.stems = stems
        self.watch = watch
        self.token = token

    @classmethod
    def of(
        cls, mtime_ns: int, names: frozenset[str], watch: Callable[[], object] | None, token: object
    ) -> Listing:
        """The listing of ``names``, their stems worked out."""
        return cls(mtime_ns, names, frozenset([n.partition(".")[0] for n in names]), watch, token)


class Listings:
    """Directory listings of one backend, kept while the directory's mtime stays the same
    (as the path finder's FileFinder keeps them; ``importlib.invalidate_caches`` clears):
    while the watch of a directory gives the token it gave when the listing was made (or
    last found current), nothing it depends on changed and the directory's status is not
    asked for again."""

    def __init__(self) -> None:
        self.kept: dict[str, Listing] = {}
        """Directory -> its listing (:meth:`listing` says whether it is still current)."""

    def listing(self, served: Any, directory: str) -> Listing | None:
        """The listing of ``directory``, None when it is no directory one can list. Through a
        guard the directory's status is asked every time: the guard says whether it may be."""
        kept = self.kept.get(directory)
        if kept is not None and not isinstance(served, Guard):
            watch = kept.watch
            if watch is not None and watch() == kept.token:
                return kept
        try:  # first the watch: a change after it shows in its next token
            watch = served.watch(directory)
            token = None if watch is None else watch()
            st = served.probe(directory)  # files.status, inline: this may run for each import
        except (OSError, ValueError):
            return None
        if st is None or st.st_mode & _S_IFMT != _S_IFDIR:
            return None
        if kept is not None and kept.mtime_ns == st.st_mtime_ns:
            listing = Listing(kept.mtime_ns, kept.names, kept.stems, watch, token)
        else:
            try:
                names = frozenset(served.listdir(directory))
            except OSError:
                return None
            listing = Listing.of(st.st_mtime_ns, names, watch, token)
        self.kept[directory] = listing
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
        self._plans: dict[tuple[Any, ...], list[tuple[bool, Any]]] = {}
        self._last_plan: tuple[list[Any], list[tuple[bool, Any]]] = ([object()], [])
        """The last path of absolute entries a plan was made or found for, and that plan."""
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
        served = get_active() if ANCHORS else in_context()  # get_active, inline
        if served is None:  # the native backend, unguarded: nothing virtual to search
            return None
        if fullname.partition(".")[0] in LIBRARY_PACKAGES:
            return None  # the library's modules: its own files, through the path finder
        emulated = served if served.__class__ is EmulatedBackend else current_emulated()
        if emulated is None:
            return None
        recent = self._recent
        if recent is not None and recent[0]() is emulated and recent[2] is self._token:
            listings = recent[1]
        else:
            listings = self._listings_of(emulated)
        tail = fullname.rpartition(".")[2]
        portions: list[str] = []
        found_virtual = False
        for native, where in self._steps(served, sys.path if path is None else path):
            if native:  # consecutive entries in the library: the path finder's, in one call
                spec = PathFinder.find_spec(fullname, where, target)
                if spec is not None:
                    if spec.loader is not None:
                        return spec
                    portions.extend(spec.submodule_search_locations or ())
                continue
            listing = listings.kept.get(where)  # Listings.listing's first step, inline
            if (
                served is not emulated
                or listing is None
                or listing.watch is None
                or listing.watch() != listing.token
            ):
                listing = listings.listing(served, where)
            if listing is not None:
                if tail not in listing.stems:
                    continue  # the common case for every other entry: nothing by that name
                spec, portion = self._search(
                    served, listings, fullname, tail, where, names=listing.names
                )
            else:
                spec, portion = self._search_archive(emulated, served, fullname, tail, where)
            if spec is not None:
                return spec
            if portion is not None:
                portions.append(portion)
                found_virtual = True
        if found_virtual:
            namespace = ModuleSpec(fullname, None, is_package=True)
            namespace.submodule_search_locations = _external._NamespacePath(
                fullname, portions, self._namespace_portions
            )  # recomputed as the parent's path changes, as the path finder's is
            return namespace
        return None

    def _steps(self, served: Any, entries: Sequence[Any]) -> list[tuple[bool, Any]]:
        """What searching ``entries`` takes, in order: (True, a run of consecutive entries
        the path finder searches), (False, a directory searched through the backend). Kept
        for a path of absolute entries (a relative one's directory is the cwd's of the
        moment)."""
        last = self._last_plan
        if last[0] == entries:  # sys.path as it was at the last import: no tuple to hash
            return last[1]
        try:
            key = tuple(entries)
            kept = self._plans.get(key)
        except TypeError:  # an unhashable entry (the path finder skips it, as the plan does)
            return self._plan(served, entries)[0]
        if kept is None:
            kept, absolute = self._plan(served, entries)
            if not absolute:
                return kept
            if len(self._plans) >= _PLANS_KEPT:
                self._plans.clear()
            self._plans[key] = kept
        self._last_plan = (list(key), kept)
        return kept

    def _plan(self, served: Any, entries: Sequence[Any]) -> tuple[list[tuple[bool, Any]], bool]:
        """:meth:`_steps` worked out, and whether every entry was absolute."""
        steps: list[tuple[bool, Any]] = []
        run: list[str] = []
        absolute = True
        for entry in entries:
            if not isinstance(entry, str):
                continue
            if entry[:1] == "/":
                directory = entry
            else:
                absolute = False
                found = self._absolute(served, entry)
                if found is None:
                    continue
                directory = found
            if self._native(directory):
                run.append(entry)
                continue
            if run:
                steps.append((True, tuple(run)))
                run = []
            steps.append((False, directory))
        if run:
            steps.append((True, tuple(run)))
        return steps, absolute

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
                    if init in package:
                        origin = posixpath.join(base, init)
                        if _regular(served, origin):
                            return _spec(fullname, origin, loader_class, served, [base]), None
                portion = base
        for suffix, loader_class in LOADERS:
            name = tail + suffix
            if name in names:
                origin = posixpath.join(directory, name)
                if _regular(served, origin):
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
