"""Scale-out on Dask: :func:`run_many` runs isolated guests on a Dask cluster's workers.

Each worker process of the cluster keeps one warm :class:`~posixbackend.isolation.pool.Pool`
sized to the worker's threads, made by a worker plugin when the first run with its settings
starts and kept for the next runs (:func:`release_pools` shuts them down; with
``keep_warm=False`` they end with their run). Every job is one Dask task that hands its
guest to that pool and returns the :class:`~posixbackend.isolation.result.IsolatedResult`;
results stream back in the order the jobs finish. When a worker is lost mid-run, the
scheduler runs its unfinished jobs on the other workers (Dask reschedules the tasks of a lost
worker), so every job gets exactly one result; a job whose task failed for the machinery's
own reasons (its workers kept dying, the pool broke) gets an infrastructure failure, never a
guest's result.

Why Dask and not Ray: ``distributed`` is pure Python (about 40 MB installed with its
dependencies, a few seconds to install), starts a local cluster from the calling process
(``LocalCluster(processes=True)``) in about a second, and its worker plugins give exactly the
one-warm-pool-per-worker shape. Ray's wheel alone is 79 MB (200 MB unpacked), and a Ray
node starts its own daemons (GCS server, raylet, dashboard) before the first task. Both
reschedule the work of a lost worker.
Install it with ``pip install 'posixbackend[distributed]'``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import attrs

import compat
from posixbackend.isolation.limits import Limits
from posixbackend.isolation.pool import Job, Program
from posixbackend.isolation.result import IsolatedResult, ResultKind
from posixbackend.permissions.policy import Permissions

if TYPE_CHECKING:
    from distributed import Client

SCRIPT_AS_CODE = compat.declare(
    id="isolation.distributed_script_as_code",
    function="posixbackend.isolation.distributed.run_many",
    aspect="a script path as the program",
    level=compat.Level.FINE,
    explanation="the script is read on the calling machine (the workers may be other "
    "machines) and runs as code, as python -c runs it: sys.argv[0] is '-c', __file__ is "
    "unset, and the script's own file is not in the guest's file system",
)

PLUGIN_PREFIX = "posixbackend-isolation-pool-"
"""The worker plugin's name begins with this, then a digest of its settings (a warm run's)
or a token of its own (a run whose pools end with it)."""
EXTRA = "posixbackend[distributed]"


class MissingExtra(ImportError):
    """Dask's ``distributed`` is not installed: the extra to install is named."""


def _distributed() -> Any:
    """The ``distributed`` module, or MissingExtra naming the extra."""
    try:
        import distributed
    except ModuleNotFoundError as error:
        if error.name != "distributed":
            raise
        raise MissingExtra(
            f"the distributed runner needs Dask's distributed package: pip install '{EXTRA}'"
        ) from None
    return distributed


def as_code(program: Program) -> Job:
    """``program`` as a pool Job whose code is source text: a host script is read here (the
    workers may be other machines) and runs as code; OSError if it cannot be read,
    ValueError if it is not UTF-8."""
    job = program if isinstance(program, Job) else Job(program)
    if isinstance(job.code, str):
        return job
    if not isinstance(job.code, os.PathLike):
        raise TypeError(f"run_many runs code (str), a script path or a Job, not {job.code!r}")
    with open(job.code, "rb") as script:
        data = script.read()
    SCRIPT_AS_CODE.hit()
    try:
        return attrs.evolve(job, code=data.decode("utf-8"))
    except UnicodeDecodeError as error:
        path = os.fspath(job.code)
        raise ValueError(f"{path}: the script is not UTF-8 ({error.reason})") from None


def run_many(
    programs: Iterable[Program],
    *,
    client: Client | str | None = None,
    permissions: Permissions | None = None,
    limits: Limits | None = None,
    workers_per_node: int | None = None,
    keep_warm: bool = True,
) -> Iterator[tuple[int, IsolatedResult]]:
    """Run ``programs`` (code, a host script's path, or a pool :class:`Job` with its own
    inputs and limits, as :meth:`Pool.imap_unordered <posixbackend.isolation.pool.Pool.
    imap_unordered>` takes them) on a Dask cluster, and yield ``(index, result)`` as each
    guest ends (``index``: its position in ``programs``).

    ``client``: a :class:`distributed.Client` (left open), a scheduler's address (a client
    is made and closed here), or None for a local cluster of this machine, started and
    closed here. ``permissions`` and ``limits`` are every guest's (a Job's own limits win),
    as a Pool takes them; ``workers_per_node`` guests run at once in each worker process
    (default: the worker's threads). ``keep_warm``: the workers' pools outlive the run, for
    the next run with the same settings on the same cluster (until :func:`release_pools`
    or the worker closes); otherwise they are shut down when it ends. A script is read
    here and runs as code. A job the
    machinery failed yields a result of kind :attr:`~posixbackend.isolation.result.
    ResultKind.INFRASTRUCTURE`, never a guest's; a bad program raises (TypeError,
    ValueError, OSError) before anything runs. Closing the iterator early cancels the rest.
    """
    distributed = _distributed()
    from posixbackend.isolation.workerpool import PoolPlugin, run_on_worker

    jobs = [as_code(program) for program in programs]
    with contextlib.ExitStack() as stack:
        connected: Client
        if client is None:
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="posixbackend-dask-"))
            cluster = stack.enter_context(
                distributed.LocalCluster(  # the scheduler serves HTTP anyway: on a free port
                    processes=True, dashboard_address=":0", local_directory=scratch
                )
            )
            connected = stack.enter_context(distributed.Client(cluster))
        elif isinstance(client, str):
            connected = stack.enter_context(distributed.Client(client))
        else:
            connected = client
        plugin = PoolPlugin(permissions, limits, workers_per_node)
        run = uuid.uuid4().hex
        if keep_warm:  # the same settings find the same pools
            plugin.idempotent = True
            settings = pickle.dumps((permissions, limits, workers_per_node))
            name = PLUGIN_PREFIX + hashlib.sha256(settings).hexdigest()[:32]
        else:
            name = PLUGIN_PREFIX + run
            stack.callback(_unregister, connected, name)
        connected.register_plugin(plugin, name=name)
        futures = {
            connected.submit(run_on_worker, name, job, key=f"{name}-{run}-{index}", pure=False):
            index for index, job in enumerate(jobs)
        }
        try:
            for future in distributed.as_completed(list(futures)):
                index = futures.pop(future)
                yield index, _outcome(future, jobs[index], limits)
                future.release()
        finally:
            cancel: Any = connected.cancel  # not typed by distributed
            cancel(list(futures))


def _outcome(future: Any, job: Job, limits: Limits | None) -> IsolatedResult:
    """A finished task's result, or an infrastructure failure for a task that failed (its
    workers kept dying, the pool broke) or that the cluster cancelled."""
    limits = job.limits or limits or Limits()
    if future.status == "error":
        error = future.exception()
        return IsolatedResult.failure(
            ResultKind.INFRASTRUCTURE, f"the task failed: {type(error).__name__}: {error}",
            limits,
        )  # fmt: skip
    if future.status == "cancelled":
        return IsolatedResult.failure(
            ResultKind.INFRASTRUCTURE, "the cluster cancelled the task", limits
        )
    result: IsolatedResult = future.result()
    return result


def release_pools(client: Client) -> int:
    """Shut down the warm pools that runs with ``keep_warm`` left on ``client``'s workers;
    how many settings' pools there were."""
    names = [name for name in _worker_plugins(client) if name.startswith(PLUGIN_PREFIX)]
    for name in names:
        _unregister(client, name)
    return len(names)


def _worker_plugins(client: Client) -> list[str]:
    """The names of the worker plugins registered on ``client``'s scheduler."""

    def names(dask_scheduler: Any) -> list[str]:
        return list(dask_scheduler.worker_plugins)

    run_on_scheduler: Any = client.run_on_scheduler  # not typed by distributed
    found: list[str] = run_on_scheduler(names)
    return found


def _unregister(client: Client, name: str) -> None:
    """Take the run's plugin off the workers (each shuts its pool down)."""
    unregister: Any = client.unregister_worker_plugin  # not typed by distributed
    with contextlib.suppress(OSError, TimeoutError, ValueError):
        unregister(name)
