"""The worker's side of the distributed runner: a warm pool per Dask worker process.

:class:`PoolPlugin` is registered on the cluster by a run (under a name of its settings, so
later runs with the same settings find it); Dask pickles it to every worker (and to workers
that join or restart later), where ``setup`` makes the pool, and ``teardown`` (when it is
unregistered, or the worker closes) shuts it down. The pool is
made on the worker, never sent. :func:`run_on_worker` is the task of one job. Without Dask's
``distributed`` the module still imports (its plugin is then of no use, and
:func:`~posixbackend.isolation.distributed.run_many` says what to install).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

try:
    from distributed import WorkerPlugin, get_worker
except ModuleNotFoundError as missing:  # importable all the same, for tools that import every
    if missing.name != "distributed":  # module (python -m compat.docs); run_many checks first
        raise
    WorkerPlugin = object  # type: ignore[assignment,misc]

from posixbackend.isolation.limits import Limits
from posixbackend.isolation.result import IsolatedResult
from posixbackend.permissions.policy import Permissions

if TYPE_CHECKING:
    from distributed import Worker

    from posixbackend.isolation.pool import Job, Pool


class PoolPlugin(WorkerPlugin):
    """Keeps one warm pool in each worker process while a run lasts."""

    def __init__(
        self, permissions: Permissions | None, limits: Limits | None, workers: int | None
    ) -> None:
        self.permissions = permissions
        self.limits = limits
        self.workers = workers
        """Guests at once in each worker process (None: the worker's threads)."""
        self.pool: Pool | None = None

    def setup(self, worker: Worker) -> None:
        from posixbackend.isolation.pool import Pool

        size = self.workers or worker.state.nthreads
        self.pool = Pool(workers=size, permissions=self.permissions, limits=self.limits)

    def teardown(self, worker: Worker) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.shutdown()

    def __getstate__(self) -> dict[str, object]:
        """What crosses to the workers: the settings, never a pool."""
        return {"permissions": self.permissions, "limits": self.limits, "workers": self.workers}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self.pool = None


def run_on_worker(plugin: str, job: Job) -> IsolatedResult:
    """The task of one job: run it on this worker's warm pool (the one of the worker plugin
    named ``plugin``) and give back its result."""
    found = get_worker().plugins.get(plugin)
    if not isinstance(found, PoolPlugin) or found.pool is None:
        raise RuntimeError(f"this worker has no warm pool (worker plugin {plugin!r} missing)")
    result: IsolatedResult = found.pool.submit_job(job).result()
    return result
