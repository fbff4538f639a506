"""Putting the stand-ins in place once, and taking every one of them out again.

``install()`` replaces, in ``os``, ``io``, ``builtins``, ``select`` and ``_posixsubprocess``,
every object that reaches the operating system (see :mod:`posixbackend.switch.standins`), and
the same objects wherever other modules imported them earlier (``from os import stat``). The
real ``posix`` and ``_io`` modules are never touched: ``sys.modules['posix']`` and
``sys.modules['_io']`` become switched copies (their functions are the stand-ins), so code that
imports them after install switches too, while modules that imported them before (this library,
the import system) keep the real ones. The interpreter finds the ``open`` that opens imported
modules' code in ``sys.modules['_io']``: the copy's ``open`` leaves those calls to the real disk.
``uninstall()`` restores every replaced name, including the copies modules made of the
stand-ins while they were installed.

Blocks put the stand-ins in place as they enter (:meth:`Installation.enter`) and *park* them
once the last one has left (no block entered, no thread or pool job started in one still
running): every replaced name gets its original back, so another library (pyfakefs,
``unittest.mock``) sees the real ``os``, and native calls cost nothing. Parking waits for the
first moment it matters (:meth:`Installation.settle`): the first call of a stand-in outside
every block (which then gets the real result), the pytest plugin starting a test that uses no
managed fixture, or :func:`posixbackend.switch.park`; a block entering before that finds them
in place, so a run of blocks pays nothing in between. While pyfakefs is loaded they are parked
as the last block leaves: its patcher looks for the real functions in every module when it
starts, calling none of ours. The next block puts them back: the names recorded at the first
install, plus what the modules imported since hold. An explicit ``install()`` pins them (the
launcher's), and so does the first block whose permissions deny anything: code of a restricted
guest may still run under a context copied from its block, and it must stay served by it."""

from __future__ import annotations

import _io
import _posixsubprocess
import builtins
import fcntl
import importlib.machinery
import io
import mmap
import operator
import os
import posix
import select
import selectors
import signal
import sys
import threading
import types
from collections.abc import Callable, Iterator, KeysView
from itertools import chain, compress, repeat
from typing import Any, Final

import attrs

import compat
from posixbackend.emulated import EmulatedBackend
from posixbackend.switch import _mapping as mapping
from posixbackend.switch import libraries, signals, standins
from posixbackend.switch._realobjects import FCNTL_CALLS, real_object
from posixbackend.switch._threads import thread_patches

PURE = frozenset({
    "WCOREDUMP", "WEXITSTATUS", "WIFCONTINUED", "WIFEXITED", "WIFSIGNALED", "WIFSTOPPED",
    "WSTOPSIG", "WTERMSIG", "waitstatus_to_exitcode", "fspath", "major", "minor", "makedev",
    "strerror", "confstr", "sysconf", "sched_get_priority_max", "sched_get_priority_min",
    "sched_yield", "getrandom", "getloadavg", "register_at_fork", "abort",
})  # fmt: skip
"""os functions that compute, or act on this interpreter alone: the same on every backend."""
SUPPORTS = ("supports_fd", "supports_dir_fd", "supports_follow_symlinks", "supports_effective_ids")
SKIPPED_MODULES = (
    "os", "posix", "io", "_io", "builtins", "_posixsubprocess", "sys",
    "importlib._bootstrap", "importlib._bootstrap_external",
)  # fmt: skip
"""Modules never scanned for copies (the first ones are handled by name; the import system
keeps the real ``posix``: imports are never served by the emulated backend)."""
REAL_IO_MODULE = compat.declare(
    id="switch.real_io_module",
    function="_io.FileIO",
    aspect="the _io module used directly",
    level=compat.Level.INFO,
    explanation="sys.modules['_io'] becomes a switched copy at install, but modules that bound "
    "_io or its open, open_code or FileIO before (from _io import FileIO, in a module imported "
    "earlier) keep the real objects: they open host files relative to the process's directory "
    "and get real descriptors the emulated backend does not know; the import system keeps the "
    "real module on purpose (imports of native roots read the real disk)",
)
HOST_SOCKETS = compat.declare(
    id="switch.host_sockets",
    function="socket.socket",
    aspect="sockets",
    level=compat.Level.INFO,
    explanation="the socket module is the host's: its descriptors are real ones the emulated "
    "backend does not know (os.sendfile to a socket fails with EBADF), and an AF_UNIX socket "
    "bound to a path is made on the host file system, not the emulated one",
)
EAGER_PARKING: Final = frozenset({"pyfakefs.fake_filesystem_unittest"})
"""Modules whose presence in sys.modules makes the last block park the stand-ins as it leaves
(a library that reads module namespaces without calling anything: pyfakefs's patcher)."""
OWN_PACKAGES = ("posixbackend", "vfs", "compat")
"""The library calls the real objects itself: its modules keep them."""


@attrs.define
class Replacement:
    """One name in one namespace (module or class) that a stand-in took over."""

    namespace: Any
    name: str
    original: Any
    stand_in: Any


class Installation:
    """The stand-ins of this interpreter: built at the first install, parked while no block
    needs them, removed at uninstall.

    Rule for every change here: its state (_users, _pending, _parked, _pinned, _kept,
    _replacements, _finder) changes only with ``_lock`` held. The C block methods
    (posixbackend/_standin.c) read and change it without the lock while no thread holds it,
    and reuse what they read until the lock is taken again (its CountedLock counts both): a
    change made outside the lock would not be seen there."""

    def __init__(self) -> None:
        self._lock: Any = _counted(threading.RLock())
        self._replacements: list[Replacement] = []
        self._natives: dict[int, tuple[Any, Any]] = {}
        """id(real object) -> (real object, stand-in), for finding copies in other modules."""
        self._finder: Any = None
        self._parked = False
        """The replacements are recorded but every name holds its original again."""
        self._pinned = False
        """install() was called: in place until uninstall()."""
        self._kept = False
        """A restricting block ran: never parked again (see the module's docstring)."""
        self._users = 0
        """Blocks entered, and threads and pool jobs started in one, not yet finished."""
        self._pending = False
        self._scanned: dict[str, Any] = {}
        """sys.modules as of the last scan for copies: only modules new since are scanned."""
        self._grouped: list[_Group] | None = None
        self._grouped_count = 0

    @property
    def pending(self) -> bool:
        """No block needs the stand-ins any more, and they are not parked yet (see
        :meth:`settle`). Read without the lock by every stand-in called outside a block."""
        return self._pending

    @pending.setter
    def pending(self, value: bool) -> None:
        self._pending = value
        standins.set_pending(value)  # the C stand-ins' copy (they read no Python attribute)

    @property
    def installed(self) -> bool:
        """Whether the stand-ins are in place (not parked)."""
        return bool(self._replacements) and not self._parked

    def install(self) -> None:
        """Put every stand-in in place and keep them there until uninstall(); installing twice
        changes nothing."""
        with self._lock:
            self._put_in_place()
            self._pinned = True

    def uninstall(self) -> None:
        """Restore every replaced name; the interpreter is as it was before install."""
        with self._lock:
            self._restore()
            self._parked = self._pinned = self._kept = self.pending = False
            self._scanned = {}

    def enter(self) -> None:
        """A block is entering: the stand-ins are put in place (back) for as long as it runs.

        All or nothing: when it raises (an interrupt included), the block is not counted."""
        counted = False
        try:
            with self._lock:
                self._put_in_place()
                self._users += 1
                counted = True  # (no call since the count: nothing can land between the two)
        except BaseException:
            # An interrupt landing as the lock was given back (the point after its __exit__)
            # finds the block counted: out again, in a section with no call that could cut it
            # short. Uncounted, a park that _put_in_place called off is pending again.
            with self._lock:
                if counted:
                    self._users -= 1
                if self._users == 0:
                    self._when_last_out()
            raise

    def leave(self, entries: list[Any] | None = None, entry: object = None) -> None:
        """A block (or a thread or job that :meth:`enter`-ed) is done: after the last one the
        stand-ins are to be parked (see :meth:`settle`), unless they are pinned or kept.

        With ``entries`` (a block's), only while ``entry`` is one of them (their last, as a
        rule), which goes with the count in one step no interrupt can come between: a caller
        cut short calls it again to be sure, and never counts out twice (BackendBlock._leave)."""
        with self._lock:
            if entries is None:
                self._users -= 1
            elif entries and entries[-1] is entry:
                del entries[-1]
                self._users -= 1
            elif entry in entries:  # (the same block entered again above it, in another thread)
                self._users -= 1
                entries.remove(entry)  # (the one call: the point after it finds both done)
            if self._users == 0:  # (asked again by a second call: it finishes this too)
                self._when_last_out()

    def _when_last_out(self) -> None:
        """No block needs the stand-ins (the lock held, no user): a park pending (and, with a
        module of EAGER_PARKING loaded, done now). Asks the state alone, so that running it
        again after an interrupt cut it short finishes it."""
        if not (self._pinned or self._kept or self._parked) and (
            self._replacements  # (self.installed, written out: every block leaves here)
        ):
            if not self._pending:
                self._pending = True  # (self.pending = True, written out)
                standins.set_pending(True)
            modules = sys.modules
            for name in EAGER_PARKING:
                if name in modules:
                    self.settle()
                    break

    def settle(self) -> None:
        """Park the stand-ins now if no block needs them any more (a pending park); nothing
        otherwise."""
        with self._lock:
            if self.pending:
                self.pending = False
                if self._users == 0 and not (self._pinned or self._kept) and self.installed:
                    self._park()

    def keep(self) -> None:
        """Never park again: a block restricting what its code may do has run."""
        with self._lock:
            self._kept = True

    # -- in place, parked ------------------------------------------------------------------

    def _put_in_place(self) -> None:
        if self._pending:  # (self.pending = False, written out: every block enters here)
            self._pending = False
            standins.set_pending(False)
        if self._parked:
            self._unpark()
        elif not self._replacements:
            self._build()
        else:  # in place: its finder too (sys.meta_path may have been put back meanwhile)
            self._add_finder()

    def _build(self) -> None:
        stand_ins = self._stand_ins()
        try:
            for namespace, name, stand_in in stand_ins:
                self._replace(namespace, name, stand_in)
            for namespace, name, stand_in in thread_patches():
                self._replace(namespace, name, stand_in)
            self._scanned = dict(sys.modules)
            self._swap_copies(self._natives, record=True)
            self._add_finder()
        except BaseException:
            self._restore()
            raise

    def _park(self) -> None:
        """Give every replaced name its original back, keeping the record; copies of the
        stand-ins that modules imported since the last scan made are recorded first, so
        that they are restored now and replaced again at :meth:`_unpark`."""
        new = self._new_modules()
        if new:
            stand_ins = {id(r.stand_in): (r.stand_in, r.original) for r in self._replacements}
            for namespace, name, copy, original in self._copies(stand_ins, new):
                self._replacements.append(Replacement(namespace, name, original, copy))
        # The import finder stays in sys.meta_path (outside blocks it passes every import on
        # after one context lookup): a park may come from a stand-in that another finder
        # calls while an import walks sys.meta_path, and taking an entry out then would make
        # that walk skip the entry after it.
        # one step per name, newest first; an interruption between two leaves names that
        # still hold stand-ins, which serve natively outside blocks and are put back later
        self._parked = True
        for group in reversed(self._groups()):
            if group.parks:
                group.restore()
        self._note_module_table()

    def _unpark(self) -> None:
        """Put the recorded stand-ins back where their originals still are (a name someone
        else replaced meanwhile, a mock or pyfakefs, keeps theirs), and replace the copies of
        the originals that modules imported since made."""
        for group in self._groups():
            if group.parks:
                group.replace()
        self._note_module_table()
        new = self._new_modules()
        for namespace, name, original, stand_in in self._copies(self._natives, new):
            self._swap(namespace, name, original, stand_in, record=True)
        self._add_finder()
        self._parked = False

    def _groups(self) -> list[_Group]:
        """The replacements in runs of one namespace (in their order): what parking and
        unparking walk, a module's names in one dictionary update."""
        groups = self._grouped
        if groups is None or self._grouped_count != len(self._replacements):
            groups = []
            for replacement in self._replacements:
                if groups and groups[-1].takes(replacement):
                    groups[-1].add(replacement)
                else:
                    groups.append(_Group(replacement))
            self._grouped, self._grouped_count = groups, len(self._replacements)
        return groups

    def _note_module_table(self) -> None:
        """The scan's copy of sys.modules follows the entries the switch itself changes
        (``posix``, ``_io``), so that they never count as new modules."""
        for group in self._groups():
            if group.namespace is MODULES:
                for member in group.members:
                    self._scanned[member.name] = sys.modules.get(member.name)

    def _new_modules(self) -> list[tuple[str, Any]]:
        """The modules of sys.modules not seen by the last scan (or replaced since)."""
        scanned = self._scanned
        if sys.modules == scanned:  # one comparison in C, by identity of the modules
            return []
        current = list(sys.modules.items())
        self._scanned = dict(current)
        return [(name, module) for name, module in current if scanned.get(name) is not module]

    # -- building --------------------------------------------------------------------------

    def _stand_ins(self) -> list[tuple[Any, str, Any]]:
        """(namespace, name, stand-in) for everything the switch replaces."""
        made: list[tuple[Any, str, Any]] = []
        functions: dict[str, Any] = {}
        natives: dict[Any, Any] = {}
        for name in dir(os):
            native = getattr(os, name)
            if name.startswith("_") or name in PURE:
                continue
            is_builtin = isinstance(native, types.BuiltinFunctionType)
            is_emulated_helper = isinstance(native, types.FunctionType) and callable(
                getattr(EmulatedBackend, name, None)
            )
            if is_builtin or is_emulated_helper:
                stand_in = standins.make_stand_in("os", name, native, name, builtin=True)
                functions[name] = stand_in
                natives[stand_in] = native
                made.append((os, name, stand_in))
        for name in SUPPORTS:
            switched = standins.SwitchedSupports(name, getattr(os, name), functions, natives)
            made.append((os, name, switched))
        made.append((os, "environ", standins.SwitchedEnviron(os.environ, "os_environ")))
        made.append((os, "environb", standins.SwitchedEnviron(os.environb, "os_environb")))
        made.append((os, "DirEntry", standins.DirEntry))
        made.append((MODULES, "posix", _switched_posix(functions)))
        opener = _real_stand_in("io", "open", "io_open")
        open_code = _real_stand_in("io", "open_code", "open_code")
        made.append((MODULES, "_io", _switched_io(open_code)))
        select_stand_in = _real_stand_in("select", "select", "select_select")
        poll_stand_in = _real_stand_in("select", "poll", "select_poll")
        epoll_stand_in = _real_stand_in("select", "epoll", "select_epoll")
        made += [
            (io, "open", opener),
            (builtins, "open", opener),
            (io, "open_code", open_code),
            (io, "FileIO", standins.FileIO),
            (select, "select", select_stand_in),
            (select, "poll", poll_stand_in),
            (selectors.PollSelector, "_selector_cls", poll_stand_in),
            (select, "epoll", epoll_stand_in),
            (selectors.EpollSelector, "_selector_cls", epoll_stand_in),
            *libraries.stand_ins(),
            *signals.stand_ins(),
            *[
                (
                    fcntl,
                    name,
                    _real_stand_in("fcntl", name, "fcntl_" + name),
                )
                for name in FCNTL_CALLS
            ],
            (mmap, "mmap", mapping.mmap),
            *_import_stand_ins(),
            (sys, "addaudithook", standins.guarded_audit_hook(sys.addaudithook)),
            (
                _posixsubprocess,
                "fork_exec",
                _real_stand_in("_posixsubprocess", "fork_exec", "fork_exec"),
            ),
        ]
        return made

    # -- replacing and restoring ----------------------------------------------------------

    def _replace(self, namespace: Any, name: str, stand_in: Any) -> None:
        current = getattr(namespace, name)
        parts = standins.parts_of(stand_in)
        original = getattr(stand_in, "_native", current) if parts is None else parts[0]
        if namespace is not MODULES:  # modules that imported posix before keep the real one
            self._natives[id(original)] = (original, stand_in)
        if current is original:
            setattr(namespace, name, stand_in)
        # else someone else replaced the real object (pyfakefs's fake open, a mock): theirs
        # stays, and the stand-in goes in only once the real object is back (at an unpark)
        self._replacements.append(Replacement(namespace, name, original, stand_in))

    def _swap_copies(self, table: dict[int, tuple[Any, Any]], *, record: bool) -> None:
        """Swap each object ``old`` of ``table`` (``id(old) -> (old, new)``) for ``new`` wherever
        a module of sys.modules holds a copy (see :meth:`_copies`). With ``record``, each swap
        is a replacement that uninstall undoes."""
        for namespace, name, old, new in self._copies(table, list(sys.modules.items())):
            self._swap(namespace, name, old, new, record)

    @staticmethod
    def _copies(
        table: dict[int, tuple[Any, Any]], modules: list[tuple[str, Any]]
    ) -> Iterator[tuple[Any, str, Any, Any]]:
        """(namespace, name, value, what it becomes) for each object ``old`` of ``table``
        (``id(old) -> (old, new)``) that one of ``modules`` bound to its own names or to a
        default argument value of a function it defines (tempfile's ``close(self,
        unlink=_os.unlink)`` took the real unlink when it was defined) or to an attribute of a
        class it defines, as is or as a staticmethod (3.13's ``glob._StringGlobber.scandir =
        staticmethod(os.scandir)``)."""
        # One pass over each module's names (the first install scans every loaded module):
        # its own names, then the classes and functions it defines.
        function_type, type_type = types.FunctionType, type
        for module_name, module in _candidates(table, modules):
            classes: list[type] = []
            functions: list[types.FunctionType] = []
            for name, value in list(vars(module).items()):
                found = table.get(id(value))
                if found is not None and found[0] is value:
                    yield module, name, value, found[1]
                if isinstance(value, function_type):
                    if value.__module__ == module_name:
                        functions.append(value)
                elif isinstance(value, type_type) and value.__module__ == module_name:
                    classes.append(value)
            for cls in classes:
                for name, value in list(vars(cls).items()):
                    new = _swapped_member(value, table)
                    if new is not None:
                        yield cls, name, value, new
                    if isinstance(value, staticmethod | classmethod):
                        value = value.__func__  # noqa: PLW2901
                    if isinstance(value, function_type):
                        functions.append(value)
            for function in functions:
                for name in ("__defaults__", "__kwdefaults__"):
                    values = getattr(function, name)
                    changed = _swapped(values, table) if values else None
                    if changed is not None:
                        yield function, name, values, changed

    def _swap(self, namespace: Any, name: str, old: Any, new: Any, record: bool) -> None:
        setattr(namespace, name, new)
        if record:
            self._replacements.append(Replacement(namespace, name, old, new))

    def _add_finder(self) -> None:
        """Put the virtual file system's finder in ``sys.meta_path``, ahead of the path finder
        (see :mod:`posixbackend.imports`); the same finder each time it comes back."""
        finder = self._finder
        if finder is None:
            from posixbackend.imports import VirtualFinder  # it builds on the switch's modules

            finder = self._finder = VirtualFinder()
        meta_path = sys.meta_path
        for present in meta_path:  # (a loop: every block entering asks)
            if present is finder:
                return
        place = next(
            (i for i, f in enumerate(meta_path) if f is importlib.machinery.PathFinder),
            len(meta_path),
        )
        meta_path.insert(place, finder)

    def _remove_finder(self) -> None:
        finder = self._finder
        if finder is not None:
            sys.meta_path[:] = [f for f in sys.meta_path if f is not finder]

    def _restore(self) -> None:
        """Undo every replacement (newest first), then fix copies made of stand-ins meanwhile."""
        self._remove_finder()
        self._finder = None
        undo = {id(r.stand_in): (r.stand_in, r.original) for r in self._replacements}
        for replacement in reversed(self._replacements):
            namespace, name = replacement.namespace, replacement.name
            if _own_attribute(namespace, name) is replacement.stand_in:
                setattr(namespace, name, replacement.original)
        self._swap_copies(undo, record=False)
        self._replacements.clear()
        self._grouped = None
        self._natives.clear()
        signals.unwrap_all()


class _Group:
    """Consecutive replacements in one namespace. In a module's dictionary (the common case:
    ``os``'s 150 names) they are checked and switched in a few C-level steps; any other
    namespace, or a name someone else replaced meanwhile (a mock), one name at a time."""

    def __init__(self, first: Replacement) -> None:
        self.namespace = first.namespace
        space_type = type(first.namespace)
        self.space: dict[str, Any] | None = (
            vars(first.namespace) if space_type is types.ModuleType or space_type is _ModuleTable
            else None
        )  # fmt: skip
        self.members: list[Replacement] = [first]
        self._names = {first.name}
        """The members' names (a set: grouping os's ~180 names once was quadratic)."""
        self._compiled: tuple[Any, ...] | None = None
        self.parks = _parks(first)
        """Whether parking restores these names (see UNPARKED)."""

    def takes(self, replacement: Replacement) -> bool:
        return (
            replacement.namespace is self.namespace
            and _parks(replacement) == self.parks
            and replacement.name not in self._names
        )

    def add(self, replacement: Replacement) -> None:
        self.members.append(replacement)
        self._names.add(replacement.name)
        self._compiled = None

    def _compile(self) -> tuple[Any, ...]:
        compiled = self._compiled
        if compiled is None:
            names = [member.name for member in self.members]
            originals = tuple(member.original for member in self.members)
            stand_ins = tuple(member.stand_in for member in self.members)
            compiled = self._compiled = (
                operator.itemgetter(*names) if len(names) > 1 else _one_item(names[0]),
                originals, stand_ins,
                dict(zip(names, originals, strict=True)), dict(zip(names, stand_ins, strict=True)),
            )  # fmt: skip
        return compiled

    def restore(self) -> None:
        """Every name that holds its stand-in gets its original back (newest first)."""
        if not self._switch(from_stand_ins=True):
            for member in reversed(self.members):
                if _own_attribute(self.namespace, member.name) is member.stand_in:
                    setattr(self.namespace, member.name, member.original)

    def replace(self) -> None:
        """Every name that holds its original gets its stand-in back."""
        if not self._switch(from_stand_ins=False):
            for member in self.members:
                if _own_attribute(self.namespace, member.name) is member.original:
                    setattr(self.namespace, member.name, member.stand_in)

    def _switch(self, *, from_stand_ins: bool) -> bool:
        """All names at once, when this is a module's dictionary and every name holds what
        it should; False (nothing done) otherwise."""
        space = self.space
        if space is None:
            return False
        getter, originals, stand_ins, to_originals, to_stand_ins = self._compile()
        expected = stand_ins if from_stand_ins else originals
        try:
            current = getter(space)
        except KeyError:  # a name deleted meanwhile
            return False
        if not all(map(operator.is_, current, expected)):
            return False
        space.update(to_originals if from_stand_ins else to_stand_ins)
        return True


def _counted(lock: Any) -> Any:
    """``lock`` with a count of its holders that the C block methods read (while nobody holds
    it they change the installation's state without taking it: see _standin.c), or ``lock``
    itself without the C stand-ins."""
    if standins.FAST_STAND_IN is None:
        return lock
    from posixbackend import _standin

    return _standin.CountedLock(lock)


UNPARKED: Final = frozenset({"_io"})
"""Names of sys.modules that keep their switched module while the stand-ins are parked: the
interpreter's ``_io.open_code`` finds ``open`` in ``sys.modules['_io']``, and zipimport reads a
module found in a virtual archive through it whenever the module's code or source is needed,
blocks or not (a traceback's lines after the block). Outside blocks every object of the copy
passes calls to the real one, with the real results."""


def _parks(replacement: Replacement) -> bool:
    if replacement.namespace is signal:  # a handler fires outside blocks too (signals.py)
        return False
    return replacement.namespace is not MODULES or replacement.name not in UNPARKED


def _one_item(name: str) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """An itemgetter of one name that gives a tuple, as one of several names does."""
    return lambda space: (space[name],)


def _import_stand_ins() -> list[tuple[Any, str, Any]]:
    """py_compile's, importlib.util's (see :mod:`posixbackend.imports.compiling`) and
    ``zipimport.zipimporter`` (see :mod:`posixbackend.imports.zips`)."""
    import zipimport

    from posixbackend.imports import compiling, zips  # they build on the switch's modules

    return [*compiling.stand_ins(), (zipimport, "zipimporter", zips.zipimporter)]


_IS_TYPE: Final = type.__dict__["__instancecheck__"].__get__(type)
_IS_FUNCTION: Final = type.__dict__["__instancecheck__"].__get__(types.FunctionType)
_IS_STATIC: Final = type.__dict__["__instancecheck__"].__get__(staticmethod)
_IS_CLASS_METHOD: Final = type.__dict__["__instancecheck__"].__get__(classmethod)
_VALUES: Final = operator.methodcaller("values")
_FUNC: Final = operator.attrgetter("__func__")
_DEFAULTS: Final = operator.attrgetter("__defaults__")
_KWDEFAULTS: Final = operator.attrgetter("__kwdefaults__")
_MODULE: Final = operator.attrgetter("__module__")


def _may_hold(module_name: str, module: types.ModuleType, wanted: KeysView[int]) -> bool:
    """Whether ``module`` may hold a copy of an object whose id is in ``wanted``: what
    :meth:`Installation._copies` looks at, looked at in C-level steps (isinstance, attribute
    getters, set operations over ids), so that its exact scan runs only on the few modules
    that hold a copy. Never false where that scan finds one: it looks at the same names,
    defaults and class attributes (and the functions of classmethods too). The fallback of
    the C filter (``_standin.copy_candidates``, which gives the same answer)."""
    values = list(vars(module).values())
    if not wanted.isdisjoint(map(id, values)):
        return True
    classes = list(filter(_IS_TYPE, values))
    own = compress(classes, map(operator.eq, map(_MODULE, classes), repeat(module_name)))
    members = list(chain.from_iterable(map(_VALUES, map(vars, own))))
    if not wanted.isdisjoint(map(id, members)):
        return True
    wrapped = [
        *map(_FUNC, filter(_IS_STATIC, members)),
        *map(_FUNC, filter(_IS_CLASS_METHOD, members)),
    ]
    if not wanted.isdisjoint(map(id, wrapped)):
        return True
    functions = list(filter(_IS_FUNCTION, values))
    functions = [
        *compress(functions, map(operator.eq, map(_MODULE, functions), repeat(module_name))),
        *filter(_IS_FUNCTION, chain(members, wrapped)),
    ]
    defaults = chain.from_iterable(filter(None, map(_DEFAULTS, functions)))
    if not wanted.isdisjoint(map(id, defaults)):
        return True
    keyword = chain.from_iterable(map(_VALUES, filter(None, map(_KWDEFAULTS, functions))))
    return not wanted.isdisjoint(map(id, keyword))


def _candidates(
    table: dict[int, tuple[Any, Any]], modules: list[tuple[str, Any]]
) -> list[tuple[str, Any]]:
    """The (name, module) pairs of ``modules`` that :meth:`Installation._copies` scans: those
    scanned at all that may hold a copy of an object of ``table`` (its keys are the ids). In C
    when built (~120 M instructions less at the first install, which asks it of every loaded
    module), else :func:`_may_hold` for each."""
    scanned = [(name, module) for name, module in modules if _scanned(name, module)]
    if _COPY_CANDIDATES is not None:
        return _COPY_CANDIDATES(scanned, table)
    wanted = table.keys()
    return [(name, module) for name, module in scanned if _may_hold(name, module, wanted)]


def _c_candidates() -> Callable[[list[tuple[str, Any]], dict[int, Any]], list[Any]] | None:
    """The C filter of :func:`_candidates` (posixbackend/_standin.c), or None: not built, or
    ``POSIXBACKEND_PURE_PYTHON`` set (the C stand-ins are off then, and so is this)."""
    if standins.FAST_STAND_IN is None:
        return None
    from posixbackend import _standin

    return _standin.copy_candidates


_COPY_CANDIDATES: Final = _c_candidates()


def _scanned(module_name: str, module: Any) -> bool:
    """Whether a module of sys.modules may hold copies to replace."""
    if not isinstance(module, types.ModuleType) or module_name in SKIPPED_MODULES:
        return False
    root = module_name.partition(".")[0]
    return root not in OWN_PACKAGES and not module_name.startswith("_frozen_importlib")


class _ModuleTable:
    """``sys.modules`` seen as a namespace, so that a module is replaced like any other name."""

    def __init__(self) -> None:
        self.__dict__ = sys.modules


MODULES: Final = _ModuleTable()


def _switched_posix(functions: dict[str, Any]) -> types.ModuleType:
    """A second instance of the ``posix`` module whose functions are the ``os`` stand-ins of
    ``functions`` and whose ``environ`` (bytes, as posix's) is the serving backend's.

    A real instance, not a plain module: from 3.12 ``os.stat_result(...)`` finds its
    constructor in the state of whatever module ``sys.modules['posix']`` holds. Every other
    attribute is the original module's object (``os.stat_result is posix.stat_result``)."""
    importer: Any = importlib.machinery.BuiltinImporter  # typeshed wants a Loader instance
    spec = importlib.machinery.ModuleSpec("posix", importer)
    switched = importlib.machinery.BuiltinImporter.create_module(spec)
    if switched is None or switched is posix:
        raise ImportError("cannot make a second instance of the posix module to switch")
    importlib.machinery.BuiltinImporter.exec_module(switched)
    for name, value in vars(posix).items():
        if name not in ("__name__", "__doc__", "__spec__", "__loader__"):
            switched.__dict__[name] = functions.get(name, value)
    switched.__spec__ = posix.__spec__  # importlib.util.find_spec('posix') reads it
    switched.__loader__ = posix.__loader__
    switched.__dict__["environ"] = standins.SwitchedEnviron(posix.environ, "os_environb")
    switched.__dict__["DirEntry"] = standins.DirEntry
    return switched


def _switched_io(open_code: Any) -> types.ModuleType:
    """A copy of the ``_io`` module whose ``open``, ``open_code`` and ``FileIO`` switch (code
    that imports ``_io`` itself, as test_fileio does); its other objects are the real ones.

    The import system keeps the real module (it bound it at start-up), but ``_io.open_code``
    looks ``open`` up in ``sys.modules['_io']``: for the import system's calls that ``open``
    is the real one (see :class:`~posixbackend.switch.standins.CodeOpen`)."""
    from posixbackend.imports.zips import archive_reader  # it builds on the switch's modules

    zipimport = sys.modules.get("zipimport")
    opener = standins.CodeOpen(
        _io.open,
        vars(importlib._bootstrap_external),
        None if zipimport is None else vars(zipimport),
        archive_reader,
    )
    switched = types.ModuleType("_io", _io.__doc__)
    switched.__dict__.update(vars(_io))
    switched.__dict__["open"] = opener
    switched.__dict__["open_code"] = open_code
    switched.__dict__["FileIO"] = standins.FileIO
    return switched


def _real_stand_in(module: str, attribute: str, name: str) -> Any:
    """The stand-in of ``module.attribute`` whose serving-backend name is ``name``."""
    return standins.make_stand_in(module, attribute, real_object(name), name)


def _own_attribute(namespace: Any, name: str) -> Any:
    """The value ``namespace`` itself binds to ``name`` (not one inherited by a class)."""
    if isinstance(namespace, types.FunctionType):  # __defaults__ or __kwdefaults__
        return getattr(namespace, name)
    return vars(namespace).get(name)


def _swapped_member(value: Any, table: dict[int, tuple[Any, Any]]) -> Any:
    """What a class attribute becomes with ``table``'s swaps: the new object for an old one
    (a staticmethod included), a staticmethod of the new object for a staticmethod of an old
    one; None when neither is the case."""
    found = table.get(id(value))
    if found is not None and found[0] is value:
        return found[1]
    if isinstance(value, staticmethod):
        inner = value.__func__
        found = table.get(id(inner))
        if found is not None and found[0] is inner:
            return staticmethod(found[1])
    return None


def _swapped(values: Any, table: dict[int, tuple[Any, Any]]) -> Any:
    """``values`` (a defaults tuple or dict) with each object ``old`` of ``table``'s
    ``id(old) -> (old, new)`` replaced by ``new``, or None when none of them is there."""
    items = values.items() if isinstance(values, dict) else enumerate(values)
    changes = {}
    for key, value in items:
        found = table.get(id(value))
        if found is not None and found[0] is value:
            changes[key] = found[1]
    if not changes:
        return None
    if isinstance(values, dict):
        return {**values, **changes}
    return tuple(changes.get(index, value) for index, value in enumerate(values))


INSTALLATION = Installation()
"""The interpreter's one installation."""
standins.parking = INSTALLATION
