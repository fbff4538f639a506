"""Pool: many isolated guests, each forked from a warm zygote and watched by this process.

:func:`~posixbackend.isolation.run_isolated` pays for a fresh interpreter and the library's
imports on every run. A pool starts one zygote (:mod:`posixbackend.isolation.zygote`) that
has paid for them once; per guest the zygote gives the job to a child that confines itself
exactly as run_isolated's child does before the guest's first line. The zygote forks these
children ahead (one per worker up to :data:`MAX_SPARES`, and one more): a spare has entered
its namespaces and its minimal root (the slowest steps, and none depends on the job) before
its job exists, and gets exactly one job. A guest's namespaces are torn down after the pool
has its result, by the zygote's janitor, not on the guest's exit.

Who watches the guest. The zygote is the child's parent (only a parent can fork without
exec), but the limits are enforced here, by the caller's process, with run_isolated's own
supervision (:mod:`posixbackend.isolation.runner`): this process made the child's pipes and
result channel and reads them with the same hard bounds, keeps the wall clock, kills the
child's process group for time, output or a broken channel, and judges which limit ended
the run from what it observed. The two facts only a parent has come from the zygote: that
the child exists (its pid, which the zygote keeps from being reused by not reaping the child
until this process asks, so the pidfd opened here names exactly it) and its wait status and
CPU time (the zygote's wait4). The guest cannot influence either: the zygote never runs guest
code, the child closes the zygote's control socket and every other inherited descriptor
before its confinement, and seccomp and its own user namespace keep it from signalling or
tracing the zygote or its siblings. Adopting the child instead (a subreaper) would change
the caller's whole process, and a zygote that only reports would need guest-side trust.

Failures. A result whose kind is INFRASTRUCTURE (see
:class:`~posixbackend.isolation.result.ResultKind`) means the pool, not the guest, failed:
its zygote died or stopped answering (the guests in flight die with it: each gets this kind,
and is not retried here, so the harness decides), a fork or pipe failed, or the pool was shut
down while the guest waited or ran. The next guest gets a new zygote. REJECTED means the
child could not set this request up. Everything else is the guest's.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

import attrs

from posixbackend.isolation import zygotewire as wire
from posixbackend.isolation.limits import Limits
from posixbackend.isolation.result import IsolatedResult, ResultKind
from posixbackend.isolation.runner import (
    ChildEnds,
    IsolationError,
    PreparedRun,
    RunRejected,
    Started,
    prepare_run,
    supervise,
)
from posixbackend.isolation.zygotehandle import ZygoteChild, ZygoteProcess
from posixbackend.permissions.policy import Permissions

SHUT_DOWN = "the pool was shut down before the guest ended"
MAX_SPARES = 8
"""The most children a pool's zygote keeps forked ahead beside the one more it forks to make
them two at a time (one per worker up to this: each holds a mount namespace and its own
copy-on-write pages while it waits)."""
DEFAULT_PRELOAD: tuple[str, ...] = ()
"""What a pool's zygote imports for its guests unless told otherwise: nothing beyond what
the isolated child needs anyway (re, collections, functools, itertools, json, math, random,
typing, decimal, ... are in). Measured paired (``benchmarks.bench_pool --preload-against``,
10 rounds of 40): preloading pathlib (~1 MB with urllib.parse and ipaddress) costs a trivial
guest 1.5% more CPU (each fork copies more page tables) and saves a guest that imports it
~14 ms (26.6 -> 12.4 ms); fractions, statistics, hashlib and dataclasses: 2.1% and ~14 ms.
The trivial candidate, the usual one, comes first; a harness whose guests import a module
(more than ~1 in 50 for pathlib) preloads it."""


def _strings(given: Iterable[str]) -> tuple[str, ...]:
    """``argv`` as a tuple (a list is fine)."""
    return tuple(given)


@attrs.frozen
class Job:
    """One guest program with its own inputs (``code``: Python source, or a host script's
    path, as run_isolated takes them); ``limits`` None takes the pool's."""

    code: str | os.PathLike[str]
    files: Mapping[str, bytes | str] | None = None
    stdin: bytes = b""
    argv: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    env: Mapping[str, str] | None = None
    limits: Limits | None = None
    cwd: str = "/tmp"


Program = str | os.PathLike[str] | Job
"""What map, imap_unordered and run_isolated_many take: code, a script path, or a Job."""


class Pool:
    """Up to ``workers`` isolated guests at a time, forked from one warm zygote.

    ``permissions`` and ``limits`` are every guest's, as run_isolated takes them (a submit can
    give other limits). ``preload``: names of modules the zygote imports before it forks any
    guest (see :data:`DEFAULT_PRELOAD`), so that guests that import them pay nothing; each
    guest still gets its own copy, forked, and whatever one guest does to a module no other
    sees. Importing runs the modules' own code in the zygote, unconfined, as importing them
    here would: name only modules you trust, never a guest's. Use it as a context manager, or
    call :meth:`shutdown`: the zygote and every guest are gone when it returns.
    """

    def __init__(
        self,
        workers: int | None = None,
        permissions: Permissions | None = None,
        limits: Limits | None = None,
        *,
        preload: Iterable[str] = DEFAULT_PRELOAD,
    ) -> None:
        workers = (os.cpu_count() or 1) if workers is None else workers
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive int, not {workers!r}")
        if limits is not None and not isinstance(limits, Limits):
            raise TypeError(f"limits must be a Limits, not {type(limits).__name__}")
        self.workers = workers
        self.preload = wire.preload_names(preload)
        """The modules every guest finds imported (a name that fails to import fails the
        pool's start: IsolationError with the zygote's traceback)."""
        self.permissions = permissions
        self.limits = Limits() if limits is None else limits
        prepare_run("", permissions, limits=self.limits)  # bad permissions fail here, not later
        self._lock = threading.Lock()
        self._running: set[ZygoteChild] = set()
        """Children forked and not reaped yet (killed at a shutdown that cancels)."""
        self._stopped: set[ZygoteChild] = set()
        """Children the pool killed for a shutdown."""
        self._closing = False
        self._cancelling = False
        self._owner = os.getpid()
        """The process that made the pool (a forked copy of it shares its zygote's socket)."""
        self._zygote: ZygoteProcess | None = ZygoteProcess(
            min(self.workers, MAX_SPARES), self.preload
        )
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="posixbackend-pool")

    # -- submitting ------------------------------------------------------------------------

    def submit(
        self,
        code: str | os.PathLike[str],
        *,
        files: Mapping[str, bytes | str] | None = None,
        stdin: bytes = b"",
        argv: tuple[str, ...] | list[str] = (),
        env: Mapping[str, str] | None = None,
        limits: Limits | None = None,
        cwd: str = "/tmp",
    ) -> Future[IsolatedResult]:
        """Queue one guest; its future's result is its :class:`IsolatedResult` (never an
        exception for what the guest or the machinery did). The arguments are checked now
        (TypeError, ValueError), as run_isolated checks them; RuntimeError once shut down."""
        prepared = prepare_run(
            code, self.permissions, files=files, limits=self.limits if limits is None else limits,
            argv=argv, stdin=stdin, cwd=cwd, env=env,
        )  # fmt: skip
        with self._lock:
            if self._closing:
                raise RuntimeError("cannot submit to a pool that was shut down")
            if os.getpid() != self._owner:
                raise RuntimeError("a Pool serves the process that made it, not a forked copy")
            return self._executor.submit(self._run, prepared)

    def submit_job(self, job: Job) -> Future[IsolatedResult]:
        """:meth:`submit` with a :class:`Job`'s fields."""
        return self.submit(
            job.code, files=job.files, stdin=job.stdin, argv=job.argv, env=job.env,
            limits=job.limits, cwd=job.cwd,
        )  # fmt: skip

    def map(self, programs: Iterable[Program]) -> Iterator[IsolatedResult]:
        """The results of ``programs`` in their order, submitted a few at a time ahead of the
        one awaited (an iterable of any length is fine); closing the iterator early cancels
        what has not started."""
        window: deque[Future[IsolatedResult]] = deque()
        try:
            for program in programs:
                window.append(self._submit_program(program))
                while len(window) > 2 * self.workers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()

    def imap_unordered(self, programs: Iterable[Program]) -> Iterator[tuple[int, IsolatedResult]]:
        """``(index, result)`` for each of ``programs`` as its guest ends (``index``: its
        position in ``programs``); submitted a few at a time, as :meth:`map` does."""
        pending: dict[Future[IsolatedResult], int] = {}
        done: deque[Future[IsolatedResult]] = deque()
        finished = threading.Condition()

        def on_done(future: Future[IsolatedResult]) -> None:
            with finished:
                done.append(future)
                finished.notify()

        def take() -> tuple[int, IsolatedResult]:
            with finished:
                while not done:
                    finished.wait()
                future = done.popleft()
            return pending.pop(future), future.result()

        try:
            for index, program in enumerate(programs):
                future = self._submit_program(program)
                pending[future] = index
                future.add_done_callback(on_done)
                while len(pending) > 2 * self.workers:
                    yield take()
            while pending:
                yield take()
        finally:
            for future in pending:
                future.cancel()

    def _submit_program(self, program: Program) -> Future[IsolatedResult]:
        if isinstance(program, Job):
            return self.submit_job(program)
        return self.submit(program)

    # -- shutting down ---------------------------------------------------------------------

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No more submissions; the zygote stops once the last guest ended.

        ``cancel_futures``: queued guests are cancelled and running ones killed (their results
        have the kind INFRASTRUCTURE); otherwise every guest submitted runs to its end.
        ``wait``: return once everything is over (else it ends in the background)."""
        with self._lock:
            self._closing = True
            if cancel_futures:
                self._cancelling = True
                for child in self._running:
                    self._stopped.add(child)
                    child.kill()
        if wait:
            self._executor.shutdown(wait=True, cancel_futures=cancel_futures)
            self._stop_zygote()
            return
        self._executor.shutdown(wait=False, cancel_futures=cancel_futures)
        threading.Thread(target=self._finish, name="posixbackend-pool-shutdown").start()

    def _finish(self) -> None:
        self._executor.shutdown(wait=True)
        self._stop_zygote()

    def _stop_zygote(self) -> None:
        with self._lock:
            zygote, self._zygote = self._zygote, None
        if zygote is not None:
            zygote.close()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        """Wait for every guest; after an exception, kill them instead."""
        self.shutdown(wait=True, cancel_futures=kind is not None)

    # -- running one guest (in a worker thread) --------------------------------------------

    def _run(self, prepared: PreparedRun) -> IsolatedResult:
        started = time.monotonic()
        spawner = _Spawner(self)

        def failure(kind: ResultKind, error: str) -> IsolatedResult:
            child = spawner.child
            return IsolatedResult.failure(
                kind, error, prepared.limits, wall_seconds=time.monotonic() - started,
                pid=0 if child is None else child.pid, notes=prepared.notes,
            )  # fmt: skip

        try:
            result = supervise(prepared, spawner)
        except RunRejected as error:
            spawner.forget()
            return failure(ResultKind.REJECTED, str(error))
        except (IsolationError, OSError) as error:
            stopped = spawner.forget()
            return failure(ResultKind.INFRASTRUCTURE, SHUT_DOWN if stopped else str(error))
        except BaseException:
            spawner.forget()
            raise
        if spawner.forget():
            return attrs.evolve(result, kind=ResultKind.INFRASTRUCTURE, error=SHUT_DOWN)
        return result

    def _zygote_for_spawn(self) -> ZygoteProcess:
        """The running zygote (a new one if it was lost); IsolationError once cancelling."""
        with self._lock:
            if self._cancelling:
                raise IsolationError(SHUT_DOWN)
            zygote = self._zygote
            if zygote is not None and zygote.alive:
                return zygote
            if zygote is not None:
                zygote.kill()
            self._zygote = None
            self._zygote = ZygoteProcess(min(self.workers, MAX_SPARES), self.preload)
            return self._zygote


class _Spawner:
    """Forks one guest through the pool's zygote and registers it while it runs."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.child: ZygoteChild | None = None

    def spawn(self, ends: ChildEnds) -> Started:
        pool = self.pool
        child = pool._zygote_for_spawn().spawn(ends)
        with pool._lock:
            self.child = child
            pool._running.add(child)
            if pool._cancelling:  # the shutdown came while the zygote forked
                pool._stopped.add(child)
                child.kill()
        return child

    def forget(self) -> bool:
        """The child is reaped: no longer the pool's to kill. Whether a shutdown killed it."""
        child = self.child
        if child is None:
            return False
        with self.pool._lock:
            self.pool._running.discard(child)
            stopped = child in self.pool._stopped
            self.pool._stopped.discard(child)
        return stopped


def run_isolated_many(
    programs: Iterable[Program],
    workers: int | None = None,
    permissions: Permissions | None = None,
    limits: Limits | None = None,
    *,
    preload: Iterable[str] = DEFAULT_PRELOAD,
) -> list[IsolatedResult]:
    """Run every one of ``programs`` in a :class:`Pool` of ``workers`` (``preload``: as the
    pool takes it); their results in their order."""
    with Pool(workers, permissions, limits, preload=preload) as pool:
        return list(pool.map(programs))
