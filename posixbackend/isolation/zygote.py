"""The zygote: a warm interpreter that forks one fresh child per guest and never runs guest code.

Started by a :class:`~posixbackend.isolation.pool.Pool` as ``python -I -S -B -c
ZYGOTE_BOOTSTRAP CONTROL_FD VIEW ROOTS...`` (an empty environment, a session of its own),
it imports everything the isolated child needs (and the modules the pool preloads: see
:func:`import_preloads`), enters and leaves a managed backend once (the stand-ins and the
audit hook in place, the modules they load loaded), gathers the code a guest's set-up calls
into a few pages (:func:`gather_code`), freezes its heap
(``gc.freeze``: the children's collections skip it), has the children's minimal root built
once in a mount namespace of its own (:mod:`posixbackend.isolation.roottemplate`), fills
the free blocks of its allocator's pools (:func:`fill_allocator_pools`: a child's new objects
then copy none of its pages), gives its free C heap back (:func:`give_back_free_heap`: each
fork copies the page-table entries of every private page it holds), and then serves the
pool's requests one at a time on its control socket (see
:mod:`posixbackend.isolation.zygotewire`).

It forks its children ahead: it keeps as many *spares* as the pool has workers, and one
more, forked before any job exists (the first ones before its first request; once two have
been used, two new ones after the answer that gave the second away, when no request waits:
see :meth:`Zygote._refill`). A spare leaves the zygote behind
before anything else: a session and process group of its own, SIGKILL when the zygote dies
(``PR_SET_PDEATHSIG``, checked against a zygote that died before it was set), every
descriptor but 0-2 (/dev/null) and its own socket to the zygote closed (the control socket
and the other spares' sockets with them), the zygote's bookkeeping dropped; it then does
what depends on no job (:class:`~posixbackend.isolation.child.Ahead`): it enters new
namespaces and its minimal root (a locked copy of the template's; the host view is the
zygote's), takes the confinement steps
that need no job (capabilities, no_new_privs, Landlock), hands its mount namespace (and
its network namespace, unless the children share one: see
:mod:`posixbackend.isolation.roottemplate`) to the zygote over its socket (see below), and
waits for its job there. Per
``spawn`` the zygote sends the job's five descriptors to a spare (one it forks then, if none
is left; another, if the one it took has died) and answers with its pid; a spare gets one
job, ever. The spare moves them to 0-4, closes every other descriptor (its socket with them:
a guest can never talk to the zygote), and lives the rest of the isolated child's life
(:func:`posixbackend.isolation.child.main`): it reads its request from its own pipe, builds
its memory file system, sets its limits, installs its seccomp filter, and only then runs the
guest (it dropped its capabilities, set no_new_privs, applied Landlock and assembled the
filter before its job came). No guest's input ever passes through the
zygote, and a spare is forked before its job exists, so a fork copies none.

The namespaces a child hands over stay unread in the zygote's end of its socket until the
child is reaped; the zygote then passes that end to its *janitor* (a child of its own that
closes what it is sent) instead of closing it. The last reference to the namespaces goes
with it, so their teardown (the mount namespace's waits for RCU grace periods take
milliseconds on a loaded machine) is neither on the guest's exit, which the pool waits for,
nor in the zygote's loop.

The zygote stays the child's parent and keeps it unreaped until the pool asks (``reap``,
sent once the pool saw the child exit through its pidfd): the child's pid and process group
stay its own until then, so the pool can kill the group without any risk of reaching a
process that reused the number. When the control socket closes (the pool shut down or
died), the zygote kills every child's group and every spare, reaps them and the janitor
(which ends when its socket closes), and exits.
"""

from __future__ import annotations

import _socket
import array
import contextlib
import ctypes
import errno
import fcntl
import gc
import importlib
import io
import os
import random
import re
import select
import signal
import socket
import sys
import threading
import traceback
import types
from collections import deque
from collections.abc import Callable
from typing import Final, NoReturn

import attrs

import compat
from posixbackend.isolation import guestfs, landlock, roottemplate, seccomp
from posixbackend.isolation import zygotewire as wire
from posixbackend.isolation.child import (
    EMPTY_SNAPSHOT,
    SETUP_STATUS,
    Ahead,
    GuestRun,
    Outcome,
    check_memory_limit,
    read_all,
    save_guest_files,
    save_whole_snapshot,
)
from posixbackend.isolation.child import main as child_main
from posixbackend.isolation.confinement import Confinement, Steps, landlock_rules
from posixbackend.isolation.frames import FrameWriter
from posixbackend.isolation.hostview import HostView
from posixbackend.isolation.libc import LIBC, prctl
from posixbackend.isolation.limits import Limits
from posixbackend.isolation.request import Program, Request, grant
from posixbackend.isolation.roottemplate import RootTemplate
from posixbackend.isolation.seccomp import PR_SET_PDEATHSIG
from posixbackend.permissions.trusted import TRUSTED

FROZEN_HEAP = compat.declare(
    id="isolation.pool_frozen_heap",
    function="gc.get_objects",
    aspect="garbage collector introspection in a pool's guests",
    level=compat.Level.INFO,
    explanation="a pool's guest is forked from a zygote whose objects (the interpreter's and "
    "the library's modules) sit in the collector's permanent generation (gc.freeze): "
    "gc.get_objects() and gc.get_referrers() do not list them and gc.collect() never visits "
    "them (gc.get_referents still reaches them); visiting them would copy most of the "
    "zygote's heap into every guest and cost each guest a full collection",
)
SHARED_HASH_SEED = compat.declare(
    id="isolation.pool_shared_hash_seed",
    function="builtins.hash",
    aspect="str and bytes hashes in a pool's guests",
    level=compat.Level.FINE,
    explanation="the guests of one pool's zygote share its hash randomisation seed, so "
    "hash() of a str or bytes is the same in each of them (run_isolated's children get a "
    "seed each); random is reseeded in every guest",
)

GUEST_FDS = 5
"""The guest's descriptors are 0-4 in the child; every higher one is closed."""
REQUEST_FD = 3
RESULT_FD = 4
JOB: Final = b"J"
"""The record to a spare: the job's five descriptors, in spawn's order (and to the janitor:
a descriptor to close)."""
HELD: Final = b"H"
"""The record from a spare: its namespaces (never read: see :meth:`Zygote._dispose`)."""


def main(
    control_fd: int, view_json: str, spares: int = 0, preload: tuple[str, ...] = ()
) -> NoReturn:
    """The zygote's whole life (its bootstrap calls this; ``spares``: how many children to
    keep forked and isolated ahead of the pool's requests, one more at rest; ``preload``: the
    modules to import for every guest, see :func:`import_preloads`)."""
    control = socket.socket(fileno=control_fd)
    try:
        import_preloads(preload)
        warm_up()
        ruleset = view_ruleset(view_json)
        template = roottemplate.build(
            HostView.from_json(view_json), shared_network=roottemplate.guests_have_no_sockets()
        )
    except BaseException as error:  # noqa: BLE001 - the pool is told why, then the zygote ends
        text = "".join(traceback.format_exception(error)).encode(errors="replace")
        control.send(wire.BROKEN + text[-(wire.MAX_MESSAGE - 1) :])
        os._exit(1)
    zygote = Zygote(control, view_json, spares, ruleset, template)
    # Every child of this zygote has these gaps: hit here, once, the children inherit the
    # record (a first hit in each child walks the stack and makes its logger: ~80 copied
    # pages of the zygote's per guest).
    FROZEN_HEAP.hit()
    SHARED_HASH_SEED.hit()
    quiet_threading_fork_handler()
    fill_allocator_pools()
    give_back_free_heap()
    control.send(wire.READY)
    zygote.serve()
    os._exit(0)


def import_preloads(names: tuple[str, ...]) -> None:
    """Import the modules a pool was asked to preload (``Pool(preload=...)``), before the
    warm-up, so that its blocks record what they imported (``from os import stat``) as they
    do for the library's own modules, and every child finds them in ``sys.modules``: a guest
    that imports one pays nothing. Only names come here, checked again: importing runs the
    modules' own code (the host's installed library, as importing them in the pool's
    process would), never a guest's. A module that left a thread running fails the zygote's
    start (forking then is unsafe; the pool raises with the reason)."""
    for name in wire.preload_names(names):
        importlib.import_module(name)
    if threading.active_count() != 1:
        raise RuntimeError(
            f"a preloaded module started a thread ({', '.join(names)}): the zygote forks "
            "its guests and must have none"
        )


WARM_UP_ROUNDS: Final = 12
"""How many times the zygote goes through a guest's set-up before it forks. CPython 3.11+
rewrites a function's bytecode in place as it runs it (quickening after a few calls, then
counters on each adaptive instruction until it specializes): in a child, each such write
copies a page of the zygote's. Warmed a dozen times, those steps are specialized before the
fork: ~90 fewer copied pages and ~0.8 ms less CPU per child (benchmarks: 1 vs 8-40 rounds)."""


def warm_up() -> None:
    """Load what every child would otherwise load again: build the usual guest's memory
    file system once (guestfs.prepare_template), enter and leave the managed backend a guest
    gets (no program runs), so the stand-ins, the audit hook and their modules are in place,
    and save an empty guest's files as the child does (each WARM_UP_ROUNDS times), and
    assemble the seccomp filters' template; the code all that runs is first gathered
    together (:func:`gather_code`); then freeze the heap, so a child's collections skip
    everything here."""
    # decimal is the library's no longer (vfs.snapshot loads it to read an archive), but
    # guests import it, through fractions and statistics too: ~0.12 MB here (a few hundredths
    # of a ms per fork) against ~4 ms and ~380 copied pages in each guest that imports it.
    # pathlib (with urllib.parse and ipaddress: ~1 MB, ~8 ms per guest that imports it) is
    # left out: the trivial candidate's cost comes first (Pool(preload=...) takes it).
    # Imported before the rounds below: decimal registers its classes with the numbers ABCs,
    # which makes every ABC's cache of negative answers stale; filled after it, those the
    # set-up asks for (isinstance(Access.ALL, FileSystem): a walk of FileSystem's ~10
    # subclasses) are current in every child, which no longer refills them (~40 copied
    # pages each).
    import decimal  # noqa: F401

    import posixbackend.permissions.timelimit  # noqa: F401 - a time limit loads it otherwise

    limits = Limits()
    # the usual guest's memory, made once (run.files below is already a copy of it)
    guestfs.prepare_template(memory_limit=limits.memory_bytes)
    given = grant(None, limits)
    request = Request(Program("code", ""), (), {}, "/tmp", {}, given.data, limits)

    def once() -> None:
        set_up_a_guest(request)
        warm_child_paths(request, rounds=1)
        warm_fork_handlers(rounds=1)

    once()  # (what the set-up imports on first use is not recorded as called: run once)
    # (then the rounds: a copy of a code object starts cold)
    gather_code(calls_made_by(once))
    for _ in range(WARM_UP_ROUNDS):
        set_up_a_guest(request)
    warm_child_paths(request)
    warm_fork_handlers()
    guestfs.make_ready()  # (last: the rounds above took theirs)
    gc.collect()
    gc.freeze()


def set_up_a_guest(request: Request) -> None:
    """A guest's set-up as its child goes through it, with no program: its file system, its
    managed backend entered and left (built at a first call, and not), and the snapshot of
    its files saved, both ways."""
    guestfs.make_ready()  # (the child takes a copy made ahead: that path is the one warmed)
    run = GuestRun(request)
    with run.block():  # (a guest that makes no call: its backend is never built)
        pass
    run = GuestRun(request)
    with run.block():
        os.getcwd()  # (one that does: its backend is built at that first call)
    # what the child's snapshot of the guest's files loads on first use (tarfile's slot
    # names for copying members), both ways: a guest that left files, one that did not
    save_whole_snapshot(run.files.memory, io.BytesIO())
    save_guest_files(run.files.memory, io.BytesIO())


def calls_made_by(action: Callable[[], object]) -> dict[int, types.CodeType]:
    """The code objects of the Python functions ``action`` calls, in the order of their
    first call (by id: code objects compare equal by value)."""
    called: dict[int, types.CodeType] = {}

    def profile(frame: types.FrameType, event: str, arg: object) -> None:
        if event == "call":
            called.setdefault(id(frame.f_code), frame.f_code)

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(previous)
    return called


def gather_code(called: dict[int, types.CodeType]) -> None:
    """Give each function whose code is in ``called`` a copy of it, the copies made one
    after the other in the order of the calls: they lie together in a few pages. A call
    writes to its code object (the frame takes a reference; CPython 3.11+ also keeps its
    specialization counters there), and the originals lie scattered among what their
    modules loaded, so each child copied a page of the zygote's for nearly every function
    its set-up calls (~260 functions). Nested code called (a comprehension's, a closure's)
    is copied into its copied parent's constants. The permissions trust code by identity: a
    copy of the library's code is trusted as its original is (TRUSTED.replace_code); module
    code, run once, is left alone."""
    copies: dict[int, types.CodeType] = {}

    def copy_of(code: types.CodeType) -> types.CodeType:
        copy = copies.get(id(code))
        if copy is None:
            constants = tuple(
                copy_of(constant)
                if isinstance(constant, types.CodeType) and id(constant) in called
                else constant
                for constant in code.co_consts
            )
            copy = copies[id(code)] = code.replace(co_consts=constants)
        return copy

    for code in called.values():
        if code.co_name != "<module>":
            gathered = copy_of(code)
            if TRUSTED.trusts(code):
                TRUSTED.replace_code(code, gathered)
    for function in gc.get_objects():
        if isinstance(function, types.FunctionType):
            copy = copies.get(id(function.__code__))
            if copy is not None:
                function.__code__ = copy


def warm_child_paths(request: Request, rounds: int = WARM_UP_ROUNDS) -> None:
    """Run, ``rounds`` times, the parts of a child's life that run nowhere else in the
    zygote and change nothing here: the request read from a pipe and parsed, the seccomp
    filter assembled for a pid (and ctypes' types for installing it), the confinement's
    bookkeeping, the frames written (to /dev/null), the memory limit's check. CPython writes
    a code object on its first calls (a warm-up counter, then the quickened bytecode and
    its counters): done here, no child copies those pages (~100 fewer per child, with
    :func:`warm_up`'s rounds, measured with getrusage marks in pooled children)."""
    text = request.to_json()
    null = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    try:
        for _ in range(rounds):
            read, write = os.pipe()
            try:
                os.write(write, text)  # (a few hundred bytes: the pipe holds them)
            finally:
                os.close(write)
            try:
                parsed = Request.from_json(read_all(read))
            finally:
                os.close(read)
            check_memory_limit(parsed.limits, 0)
            with contextlib.suppress(OSError):  # (an architecture the filter does not know)
                program = seccomp.isolated_filters().program(os.getpid())
                seccomp.program_struct(program)
            steps = Steps()
            steps.run("applied", tuple)
            steps.run("refused", _refused_step)
            out = FrameWriter(null)
            out.frame("confined", **Confinement(("ahead",), {}).then(steps.result()).to_data())
            outcome = Outcome(0)
            finished = {"status": outcome.status, "exception": None, "limit": None}
            out.frame_then("finished", EMPTY_SNAPSHOT, **finished)
            out.end()
    finally:
        os.close(null)


def _refused_step() -> None:
    """A confinement step that fails, as one the kernel refuses does."""
    raise OSError(errno.EPERM, "refused")


def warm_fork_handlers(rounds: int = WARM_UP_ROUNDS) -> None:
    """Run, ``rounds`` times, the at-fork handlers each child runs first (threading's,
    random's, logging's), so that their bytecode is specialized before the fork, as
    :func:`warm_up` does for a guest's set-up: a child's fork step took ~35 fewer copied
    pages and ~0.2 ms less CPU. In a process of one thread each is a no-op in effect (its
    state rebuilt as it was: no other thread, no lock held), which is why this runs only
    then; random is reseeded in each child as before (its handler runs there too)."""
    if threading.active_count() != 1:  # (the zygote starts none: never skipped there)
        return
    handlers = [
        getattr(threading, "_after_fork", None),  # (private: each is optional)
        getattr(getattr(random, "_inst", None), "seed", None),
        getattr(sys.modules.get("logging"), "_after_at_fork_child_reinit_locks", None),
    ]
    for _ in range(rounds):
        for handler in handlers:
            if callable(handler):
                handler()


def quiet_threading_fork_handler() -> None:
    """Make threading's at-fork handler do next to nothing in the zygote's children (it is a
    function's code, so the handler os.fork calls is changed in place). It rebuilds
    threading's state for a child whose parent ran other threads: new locks for the
    module's and each thread's, the threads that did not survive the fork stopped. The
    zygote runs its main thread alone, from its start (:func:`import_preloads` checks) to
    its end, and forks from it: in its children that state is right as it is (no lock is
    held but the main thread's own, which it holds in the child too; the same thread
    ident), and rebuilding it copied ~40 of the zygote's pages per child (~0.12 ms). What
    does change, the main thread's native id (the kernel's), is set, as CPython 3.13's
    handler sets it (3.11's left the parent's). Left alone where other threads run, or
    where threading has no such function."""
    handler = getattr(threading, "_after_fork", None)  # (private: CPython 3.11-3.13)
    if isinstance(handler, types.FunctionType) and threading.active_count() == 1:
        handler.__code__ = _main_thread_after_fork.__code__
        handler.__defaults__ = (threading.main_thread(),)


def _main_thread_after_fork(main: threading.Thread | None = None) -> None:
    """threading's at-fork handler in the zygote's children (see
    :func:`quiet_threading_fork_handler`; ``main``: the main thread, given as a default)."""
    set_native_id = getattr(main, "_set_native_id", None)  # (where threads have native ids)
    if set_native_id is not None:
        set_native_id()


POOL_STATS: Final = re.compile(rb"^\s*\d+\s+(\d+)\s+\d+\s+\d+\s+(\d+)\s*$", re.MULTILINE)
"""A size class's row in sys._debugmallocstats(): class, block size, pools, blocks in use,
free blocks in the pools in use."""
_FILLERS: list[object] = []
"""What :func:`fill_allocator_pools` allocated: kept for the zygote's whole life."""


def fill_allocator_pools() -> None:
    """Fill the free blocks of the small-object allocator's pools in use, so that a child's
    new objects come from pools of their own, not from holes between the zygote's objects.

    CPython serves an object of up to 512 bytes from a pool (16 KiB) of its size class that
    has a free block. In a child, each such block lies on a page shared with the zygote: the
    object's creation copies the page (copy-on-write), and a guest's set-up creates objects
    of most size classes. With every pool in use full, a child's objects fill new pools,
    page after page: ~80 fewer copied pages per child (``benchmarks.pool_steps``). The free
    blocks are read from ``sys._debugmallocstats()`` (CPython's; nothing is filled where its
    table is not found) and taken by bytes objects of each class's size (ints for the 32-byte
    class, which no bytes object fits; the 16-byte class has no common object).
    """
    stats = getattr(sys, "_debugmallocstats", None)
    if stats is None:
        return
    table = os.memfd_create("mallocstats", os.MFD_CLOEXEC)  # (stderr is /dev/null here)
    saved = os.dup(2)
    try:
        os.dup2(table, 2)
        try:
            stats()
        finally:
            os.dup2(saved, 2)
        text = os.pread(table, 1 << 20, 0)
    finally:
        os.close(saved)
        os.close(table)
    free = {int(size): int(count) for size, count in POOL_STATS.findall(text)}
    fillers: list[object] = [None] * sum(free.values())  # (made first: it fills no hole)
    at = 0
    for size, count in free.items():
        for index in range(count if size >= 32 else 0):
            # bytes of n bytes take 33 + n (the header and a trailing NUL); an int of two
            # 30-bit digits takes 32
            fillers[at] = bytes(size - 33) if size >= 48 else (1 << 40) + index
            at += 1
    _FILLERS.append(fillers)


def give_back_free_heap() -> None:
    """Give the C allocator's free heap pages back to the kernel (glibc's ``malloc_trim``),
    once the zygote has loaded and built all it keeps: what its imports and warm-up freed
    (source and marshal buffers, temporaries) stays dirty otherwise, and each fork copies
    its page-table entries and each child's exit tears them down. ~0.5 MB fewer private
    pages in the zygote; a child that reuses such a chunk gets a zero page, not a copy.
    A C library without it (musl) keeps them."""
    trim = getattr(LIBC, "malloc_trim", None)  # (ctypes: AttributeError when not exported)
    if trim is not None:
        trim.restype = ctypes.c_int
        trim.argtypes = [ctypes.c_size_t]
        trim(0)


def view_ruleset(view_json: str) -> landlock.Ruleset | None:
    """The children's Landlock ruleset (reading exactly the view), made once: each spare
    enforces it and closes it before its job comes. Landlock's rules name inodes, which the
    minimal root binds unchanged, so a ruleset made on the host's paths confines a child
    in its root as one it made itself would. None where Landlock is missing: each child
    then notes why."""
    try:
        made = landlock.ruleset(landlock_rules(HostView.from_json(view_json)))
    except OSError:
        return None
    return made if isinstance(made, landlock.Ruleset) else None


@attrs.frozen
class Spare:
    """A child forked ahead of its job: it waits for the job's descriptors on its own
    socket (the zygote's end is ``channel``), which the zygote sends it once and closes."""

    pid: int
    channel: _socket.socket


class Zygote:
    """The serving loop, the spares and the children not reaped yet."""

    def __init__(
        self,
        control: socket.socket,
        view_json: str,
        spares: int = 0,
        ruleset: landlock.Ruleset | None = None,
        template: RootTemplate | None = None,
    ) -> None:
        self.control = control
        self.view_json = view_json
        self.view = HostView.from_json(view_json)
        """The host view, parsed once (each spare's Ahead takes it: ~0.1 ms each)."""
        self.ruleset = ruleset
        """The children's Landlock ruleset (see :func:`view_ruleset`); never enforced here."""
        self.template = template
        """The children's minimal root, built once (see :mod:`posixbackend.isolation.
        roottemplate`); never entered here (None: each child builds its own)."""
        self.wanted = spares
        self.spares: deque[Spare] = deque()
        """Spares not given a job yet, oldest first."""
        self.children: dict[int, _socket.socket] = {}
        """Children given a job and not reaped yet, with their spare's socket (it holds
        their namespaces: see :meth:`_dispose`)."""
        self.janitor: tuple[int, socket.socket] | None = None
        """The janitor's pid and socket, once started."""

    def serve(self) -> None:
        """Answer the pool until it closes the control socket; then end every child."""
        try:
            self.janitor = self._start_janitor()
            while True:
                self._refill()
                message, fds, _, _ = socket.recv_fds(
                    self.control, wire.MAX_MESSAGE, wire.FDS_PER_SPAWN
                )
                if not message:
                    return
                try:
                    self._answer(message, fds)
                finally:
                    for fd in fds:
                        os.close(fd)
        finally:
            spares = [spare.pid for spare in self.spares]
            for channel in [*(spare.channel for spare in self.spares), *self.children.values()]:
                channel.close()  # (a spare is killed below: its job never comes)
            janitor = [] if self.janitor is None else [self.janitor[0]]
            if self.janitor is not None:
                self.janitor[1].close()  # it ends when it reads the end
            for pid in [*self.children, *spares]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # (a spare may not have its own group yet)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            for pid in [*self.children, *spares, *janitor]:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)

    def _answer(self, message: bytes, fds: list[int]) -> None:
        kind = message[:1]
        if kind == wire.SPAWN and len(message) == 1 and len(fds) == wire.FDS_PER_SPAWN:
            self.control.send(self._spawn(fds))
        elif kind == wire.REAP and not fds:
            pid = wire.read_pid(message, wire.REAP)
            self.control.send(self._reap(pid))
            channel = self.children.pop(pid, None)
            if channel is not None:
                self._dispose(channel)
        else:
            raise ValueError(f"a request the zygote does not know: {message[:40]!r}")

    def _refill(self) -> None:
        """Fork spares two at a time: none while ``wanted`` are left, then up to one more
        than wanted (a fork that fails is tried again at the next request, and a spawn forks
        its own when none is left). After a fork every page of the zygote's is shared with
        the new spare, so each page its loop then writes (answering, reaping, its own
        objects' reference counts) is copied: ~140 per fork. Two forks in a row share one
        round of those copies between two guests (~110 copied pages per guest; 1.022x less
        CPU per pooled guest, two paired runs of 30 rounds), for one spare more at rest."""
        if len(self.spares) >= self.wanted:
            return
        while len(self.spares) <= self.wanted and not _pending(self.control):
            try:
                self.spares.append(self._fork_spare())
            except OSError:
                return

    def _spawn(self, fds: list[int]) -> bytes:
        """Give the job's descriptors to a spare (a new one if none is left, or each one
        left is dead): the answer names it."""
        while True:
            try:
                spare = self.spares.popleft() if self.spares else self._fork_spare()
            except OSError as error:
                return wire.pid_message(wire.SPAWN_FAILED, error.errno or 0)
            try:
                _send_fds(spare.channel, JOB, fds)
            except OSError:  # it died before its job (killed from outside): never used
                self._bury(spare)
                continue
            self.children[spare.pid] = spare.channel
            return wire.pid_message(wire.SPAWNED, spare.pid)

    def _dispose(self, channel: _socket.socket) -> None:
        """Close a reaped child's spare socket through the janitor. The spare sent its
        namespaces on it before its job came (never read): the last reference to them is
        there, so their teardown (waiting for RCU grace periods: milliseconds) happens
        neither on the guest's exit, which the pool waits for, nor in this loop."""
        try:
            if self.janitor is not None:
                socket.send_fds(self.janitor[1], [JOB], [channel.fileno()])
        except BlockingIOError:  # (the janitor is behind: this loop pays this teardown)
            pass
        except OSError:  # (the janitor is gone: this loop pays the teardowns)
            self.janitor = None
        finally:
            channel.close()

    def _start_janitor(self) -> tuple[int, socket.socket] | None:
        """Fork the janitor: a child that closes the descriptors it is sent (None if the
        fork failed: sockets are then closed here)."""
        zygote = os.getpid()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            pid = _fork_or_close(ours, theirs)
        except OSError:
            return None
        if pid == 0:
            try:
                prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
                if os.getppid() != zygote:
                    os._exit(SETUP_STATUS)
                self.control.detach()
                ours.detach()
                kept = theirs.detach()
                os.closerange(3, kept)
                os.closerange(kept + 1, os.sysconf("SC_OPEN_MAX"))
                _close_what_comes(socket.socket(fileno=kept))
            finally:
                os._exit(SETUP_STATUS)
        theirs.close()
        ours.setblocking(False)  # a janitor that is behind never holds the loop up
        return pid, ours

    def _bury(self, spare: Spare) -> None:
        spare.channel.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(spare.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(spare.pid, 0)

    def _fork_spare(self) -> Spare:
        gc.freeze()  # what the loop made since is the children's to skip too
        zygote = os.getpid()
        # (the C sockets: socket.socketpair wraps each end in a Python socket, two more
        # objects and audit events, which the zygote pays in copied pages per spare)
        ours, theirs = _socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = _fork_or_close(ours, theirs)
        if pid == 0:
            self._become_guest(theirs, zygote)
        theirs.close()
        return Spare(pid, ours)

    def _reap(self, pid: int) -> bytes:
        if pid not in self.children:
            return wire.pid_message(wire.UNKNOWN, pid)
        _, status, usage = os.wait4(pid, 0)
        return wire.REAPED + wire.REAP_RESULT.pack(pid, status, usage.ru_utime, usage.ru_stime)

    def _become_guest(self, channel: _socket.socket, zygote: int) -> NoReturn:
        """The forked child: leave the zygote behind, enter the namespaces and the minimal
        root, wait for the job's descriptors, then live the isolated child's life. Never
        returns into the zygote's loop, whatever happens."""
        try:
            os.setsid()
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != zygote:  # the zygote died before the signal was set
                os._exit(SETUP_STATUS)
            # Every descriptor but 0-2 (the zygote's /dev/null, replaced when the job comes)
            # and its own socket closed: the control socket, the other spares' sockets.
            self.control.detach()
            for spare in self.spares:
                spare.channel.detach()
            if self.janitor is not None:
                self.janitor[1].detach()
            for held in self.children.values():  # (the zygote keeps its own copies)
                held.detach()  # closed below; detached, no socket object closes a number
            self.spares.clear()
            self.children.clear()
            kept = fcntl.fcntl(channel.detach(), fcntl.F_DUPFD_CLOEXEC, GUEST_FDS)
            ruleset = None
            if self.ruleset is not None:  # (Ahead closes it once enforced)
                ruleset_fd = fcntl.fcntl(self.ruleset.fd, fcntl.F_DUPFD_CLOEXEC, GUEST_FDS)
                # (made directly: attrs.evolve inspects the class, ~25 copied pages)
                ruleset = landlock.Ruleset(ruleset_fd, self.ruleset.applied, self.ruleset.missing)
            template = None if self.template is None else self.template.moved_to(GUEST_FDS)
            _close_all_but(
                kept,
                *([] if ruleset is None else [ruleset.fd]),
                *([] if template is None else template.fds),
            )
            ahead = Ahead(self.view, ruleset, template)  # (it closes both)
            job = socket.socket(fileno=kept)
            if ahead.namespaces:  # held by the zygote's end, unread, until it is closed
                socket.send_fds(job, [HELD], ahead.namespaces)
            for fd in ahead.namespaces:
                os.close(fd)
            message, fds, _, _ = socket.recv_fds(job, 1, wire.FDS_PER_SPAWN)
            job.close()
            if message != JOB or len(fds) != wire.FDS_PER_SPAWN:
                os._exit(SETUP_STATUS)  # the zygote closed it: it is ending
            _place(fds, keep=ahead.statm)
            child_main(REQUEST_FD, RESULT_FD, self.view_json, ahead)
        finally:
            os._exit(SETUP_STATUS)


def _send_fds(channel: _socket.socket, message: bytes, fds: list[int]) -> None:
    """socket.send_fds, on a C socket (a spare's channel)."""
    channel.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])


def _fork_or_close(ours: _socket.socket, theirs: _socket.socket) -> int:
    """os.fork for a child that will talk over the pair ``ours``/``theirs``; when the fork
    fails (or is interrupted) both are closed before the error goes on."""
    try:
        return os.fork()
    except BaseException:
        ours.close()
        theirs.close()
        raise


def _close_what_comes(janitor: socket.socket) -> NoReturn:
    """The janitor's life: close every descriptor sent on ``janitor`` until it ends."""
    while True:
        message, fds, _, _ = socket.recv_fds(janitor, 1, 1)
        for fd in fds:
            os.close(fd)
        if not message:
            os._exit(0)


def _close_all_but(*kept: int) -> None:
    """Close every descriptor from 3 on but ``kept``."""
    low = 3
    for fd in sorted(kept):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def _pending(control: socket.socket) -> bool:
    """Whether a request waits on ``control`` (refilling the spares waits for it)."""
    ready, _, _ = select.select([control], [], [], 0)
    return bool(ready)


def _place(fds: list[int], keep: int) -> None:
    """Make ``fds`` this process's descriptors 0-4 (in order) and close every other one but
    ``keep`` (above 4)."""
    high = [
        fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, GUEST_FDS) if fd < GUEST_FDS else fd for fd in fds
    ]  # out of the way of dup2 (the originals are closed below)
    for target, fd in enumerate(high):
        os.dup2(fd, target, inheritable=target <= 2)
    os.closerange(GUEST_FDS, keep)  # close_range(2) where there is one
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
