"""What a Mount remembers of earlier resolutions, so that a repeated stat costs one call.

Paths are resolved by the generic walk over the namespace's nodes (:mod:`vfs.mount.nodes`):
one lookup per component, each asked of the provider mounted there. A path whose last
component named an entry directly (a plain name, no link followed, no trailing slash) is
remembered by its text (a relative one with the held directory it started from) with the
provider's canonical path of that entry (``entries``, used by the fast paths of stat and
probe, which still ask the provider for a fresh status and whether the entry is still no
link, and of listdir and of an open that changes nothing, which have the provider list or
open its entry while that is a directory, or no link, and no name changed through the Mount
meanwhile); a directory resolved for ``directory`` (a cwd) or opened is remembered the same
way. The directory
part of an absolute path is remembered too (``heads``, as Linux's dcache keeps it), with the
directories searched on the way: a later call in that directory looks up only its last
component, after asking each of those directories again for search permission (a create, a
rename of files, an open or probe of a name take the directory from there without a walk:
``MountFileSystem._known_parent``, the walk's own steps from that point). Only nodes
of providers whose nodes last (``lasting``: they hold nothing and name the same directory
while it is in the tree) are remembered.

Everything is forgotten whenever a directory is renamed, a symbolic link removed or renamed,
or permissions change through the Mount. Removing a directory forgets less: it was empty, so
only a walk that looked a name up in it, or ended at it, depended on it (its name's lookup in
its parent gave it, so such a walk either went on in it or ended there): the heads with it
among their searched directories or as their directory go, and so does every entry but an
absolute one whose directory part is a head kept (resolved by that same walk) or the root;
relative ones go (their held directory may be the one removed). A removal that raced with
another change of a name forgets everything (what it removed may not be what it found).
Otherwise a generation number keeps a resolution that raced with
such a change out of the cache. Removing or renaming any other entry (a file, onto a free name
or over another such entry: what writing bytecode aside and renaming it in place does) forgets
nothing, since no remembered answer depends on it: an entry remembers where its path leads in
the provider, which only directories and links decide, and its fast path asks the provider
there for a fresh status (an entry gone or replaced shows in it). For that, what the names
held when the Mount looked must still be there when the change is made. No lock is held
across the provider's work (a provider's rename may copy a whole file): every change of a
name moves the generation before the Mount looks (so a resolution racing with it is not
kept), and a removal or rename that saw only files forgets everything after all when any
other change of a name came between its look and its end (a link may have taken the file's
place, been resolved through, and been what it removed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

import compat
from vfs.mount.nodes import MountNode
from vfs.mount.table import Mounted
from vfs.walk.namei import Walk

CACHE_LIMIT = 8192
"""Remembered resolutions kept before the cache starts over."""
PRUNE_LIMIT = 2048
"""Above this many remembered resolutions, removing a directory forgets them all rather than
looking through each (an rmtree of a big tree would cost its directories times the cache)."""

DIRECT_CHANGES = compat.declare(
    id="vfs.mount.direct_changes",
    function="vfs.MountFileSystem",
    aspect="changes made to a mounted provider directly",
    level=compat.Level.FINE,
    explanation="the Mount remembers how paths resolved and forgets on changes made through "
    "it; a link or rename made on a mounted provider directly (not through the Mount), or the "
    "removal of a mount point's directory there, is not seen by paths resolved before",
)

Head = tuple[MountNode, int, tuple[MountNode, ...], tuple[tuple[Callable[[Any], bool], Any], ...]]
"""A remembered directory part: see :attr:`EntryCache.heads`."""


class EntryCache:
    """Namespace paths -> the provider's canonical path of the entry they name directly."""

    def __init__(self) -> None:
        self.heads: dict[str, Head] = {}
        """absolute directory part -> (its directory, links followed, directories searched,
        the search checks to make again: each directory searched and the last one, as (its
        provider's ``may_search``, the provider's node), bound once)"""
        self.entries: dict[str | tuple[object, str], list[Any]] = {}
        """path (or (held directory, relative path)) -> [provider's stat, provider path, mount,
        (last record, its remapped copy)]"""
        self.generation = 0
        """Read before resolving; a resolution is cached only if it is still current after
        (moved under the lock only; a plain attribute, read on every open and stat)."""
        self.forgotten = 0
        """How many times everything was forgotten: it moves whenever a path may lead
        elsewhere than before (making a name never makes an earlier resolution untrue)."""
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Drop every remembered resolution (a name went away or permissions changed)."""
        with self._lock:
            self.generation += 1
            self.forgotten += 1
            self.entries.clear()
            self.heads.clear()

    def forget_directory(self, removed: tuple[object, Hashable]) -> None:
        """Drop what the removal of an empty directory (``removed``: its provider and node key)
        may have made untrue, keeping the rest (see the module's docstring): the heads whose
        walk looked in it or ended at it, and every entry but an absolute one whose directory
        part is a head kept (or the root). The generation and the count of forgettings move
        as :meth:`forget` moves them (a watch through the Mount sees a change)."""
        fs, key = removed
        with self._lock:
            self.generation += 1
            self.forgotten += 1
            heads, entries = self.heads, self.entries
            if len(heads) + len(entries) > PRUNE_LIMIT:
                entries.clear()
                heads.clear()
                return

            def involved(node: MountNode) -> bool:
                mounted = node.mounted
                return mounted.fs is fs and mounted.nodes.key(node.node) == key

            for head in [
                head
                for head, (directory, _, searched, _) in heads.items()
                if involved(directory) or any(involved(node) for node in searched)
            ]:
                del heads[head]
            doomed = []
            for path in entries:
                if path.__class__ is not str:  # relative to a held directory (maybe this one)
                    doomed.append(path)
                    continue
                assert isinstance(path, str)
                cut = path.rfind("/")
                if cut < 0 or (cut > 0 and path[:cut] not in heads):
                    doomed.append(path)
            for path in doomed:
                del entries[path]

    def changing(self) -> int:
        """A name is about to change: move the generation (a resolution under way is not
        kept) and return it, for :meth:`quiet_since` at the change's end."""
        with self._lock:
            self.generation += 1
            return self.generation

    def quiet_since(self, generation: int) -> bool:
        """Whether no other change (nor forgetting) came since :meth:`changing` gave
        ``generation``."""
        return self.generation == generation

    def remember(
        self, path: str | tuple[object, str], mounted: Mounted, inner: str, generation: int
    ) -> None:
        """Remember that ``path`` (absolute, or (held directory, relative path)) names the
        provider's entry ``inner`` (no link followed)."""
        entry = [mounted.fs.stat, inner, mounted, (None, None)]
        with self._lock:
            if generation == self.generation:
                if len(self.entries) >= CACHE_LIMIT:
                    self.entries.clear()
                self.entries[path] = entry

    def watch(self, inner: Callable[[], object]) -> Callable[[], object]:
        """A watch through the Mount: the provider's (``inner``), and whether the Mount may
        resolve a path differently since (it forgot)."""

        def token() -> object:
            return (self.forgotten, inner())

        return token

    def remember_head(
        self,
        head: str,
        found: tuple[MountNode, int],
        searched: list[MountNode],
        generation: int,
    ) -> None:
        """Remember where the absolute directory part ``head`` led (``found``: the directory
        and links followed), if every node on the way lasts."""
        directory = found[0]
        if not _lasts(directory) or not all(_lasts(node) for node in searched):
            return
        checks = tuple(
            (node.mounted.nodes.may_search, node.node) for node in (*searched, directory)
        )
        with self._lock:
            if generation == self.generation:
                if len(self.heads) >= CACHE_LIMIT:
                    self.heads.clear()
                self.heads[head] = (directory, found[1], tuple(searched), checks)


def _lasts(node: MountNode) -> bool:
    return getattr(node.mounted.nodes, "lasting", False) is True


class RememberingWalk(Walk[MountNode, MountNode]):
    """A walk over a Mount's nodes that takes the directory part of absolute paths from, and
    leaves it in, the Mount's cache."""

    __slots__ = ("_cache",)

    def __init__(self, cache: EntryCache, nodes: Any, start: MountNode | None = None) -> None:
        super().__init__(nodes, start)
        self._cache = cache

    def head(self, head: str, path: str) -> tuple[MountNode, int]:
        if head[0] != "/":
            return super().head(head, path)
        cache = self._cache
        hit = cache.heads.get(head)
        nodes = self.nodes
        if hit is not None:
            for may_search, node in hit[3]:  # (the last directory too: the walk asks it next)
                if not may_search(node):
                    break
            else:
                return hit[0], hit[1]
            # a directory on the way may no longer be searched: the walk says where it fails
        generation = cache.generation
        searched_now: list[MountNode] = []
        found = self.walk(nodes.root(), head, path, 0, searched_now)
        cache.remember_head(head, found, searched_now, generation)
        return found
