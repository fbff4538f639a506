"""The distributed runner on a local Dask cluster of two worker processes started here: the
local pool's results, one result per job when a worker dies mid-batch, machinery failures
kept apart from the guests', and nothing left running afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster

import compat
from posixbackend.isolation.distributed import (
    PLUGIN_PREFIX,
    SCRIPT_AS_CODE,
    MissingExtra,
    release_pools,
    run_many,
)
from posixbackend.isolation.limits import Limits
from posixbackend.isolation.pool import Job, Pool
from posixbackend.isolation.result import IsolatedResult, ResultKind
from tests.isolation.test_batch_cli import descendants
from tests.processes import alive


def lasting() -> set[int]:
    """This process's descendants now, less multiprocessing's resource tracker (started by
    the first spawned process, it lasts as long as this process by design)."""
    found = set()
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"resource_tracker" in cmdline.read():
                    continue
        except FileNotFoundError:
            continue
        found.add(pid)
    return found


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    before = lasting()
    scratch = tmp_path_factory.mktemp("dask")
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, dashboard_address=":0",
            local_directory=str(scratch),
        ) as cluster,
        Client(cluster) as connected,
    ):  # fmt: skip
        yield connected
    deadline = time.monotonic() + 15
    while lasting() - before:
        assert time.monotonic() < deadline, f"left running: {lasting() - before}"
        time.sleep(0.1)


def comparable(result: IsolatedResult) -> tuple[object, ...]:
    return (result.kind, result.status, result.stdout, result.stderr, result.files,
            result.limit_exceeded, result.exception)  # fmt: skip


def test_the_cluster_gives_the_local_pools_results(client: Client, tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text("import sys\nprint('script', sys.argv[1:])\n")
    programs: list[str | os.PathLike[str] | Job] = [
        "print('plain')",
        "import sys; sys.exit(3)",
        "raise KeyError('k')",
        Job("import os, sys; open('/tmp/out', 'w').write(sys.stdin.read() + os.environ['K'])",
            stdin=b"in-", env={"K": "v"}, files={"/data/x": b"\xff"}),
        Job("while True: pass", limits=Limits(wall_seconds=0.5)),
        Job(script, argv=("a",)),
    ]  # fmt: skip
    with Pool(workers=2) as pool:
        local = [comparable(result) for result in pool.map(programs)]
    remote: dict[int, IsolatedResult] = dict(run_many(programs, client=client))
    assert sorted(remote) == list(range(len(programs)))
    # a script runs as code on the cluster (it is read here): its own file is not among the
    # guest's files, and sys.argv[0] is '-c' (a declared gap, hit)
    assert remote[5].stdout == b"script ['a']\n" and remote[5].files == {}
    assert local[5][4] == {str(script): script.read_bytes()}
    assert compat.report().get(SCRIPT_AS_CODE.id) is not None
    assert [comparable(remote[index]) for index in range(5)] == local[:5]
    assert remote[4].limit_exceeded == "wall" and remote[3].files["/tmp/out"] == b"in-v"


def test_a_worker_lost_mid_batch_has_its_jobs_run_elsewhere(client: Client) -> None:
    programs = [f"import time; time.sleep(0.6); print({n})" for n in range(10)]
    seen: list[int] = []
    victim_below: set[int] = set()
    for index, result in run_many(programs, client=client):
        seen.append(index)
        assert result.kind is ResultKind.GUEST, result.summary()
        assert (result.status, result.stdout) == (0, f"{index}\n".encode())
        if not victim_below:
            busy = [address for address, keys in client.processing().items() if keys]
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            victim_below = descendants(pid)
            assert victim_below, "the worker has no warm pool"
            os.kill(pid, signal.SIGKILL)
    assert sorted(seen) == list(range(10))  # exactly one result each
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in victim_below):  # its zygote and guests die with it
        assert time.monotonic() < deadline, [pid for pid in victim_below if alive(pid)]
        time.sleep(0.05)


def parent_of(pid: int) -> int | None:
    """``pid``'s parent, or None once it ended."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rpartition(b")")[2].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def test_pools_stay_warm_between_runs_until_released(client: Client) -> None:
    limits = Limits(cpu_seconds=3)  # settings of this test's own: pools of their own

    def pools() -> set[int]:
        return {pid for worker in client.run(os.getpid).values() for pid in descendants(worker)}

    def zygotes() -> set[int]:
        """The workers' own children (a zygote's spares and janitor are below it, and a
        spare that served is replaced by a new one)."""
        workers = set(client.run(os.getpid).values())
        return {pid for pid in pools() if parent_of(pid) in workers}

    before = pools()
    assert [result.status for _, result in run_many(["pass"], client=client, limits=limits)] == [0]
    warm = pools() - before
    warm_zygotes = zygotes() & warm
    assert warm_zygotes  # a zygote on at least one worker
    assert [result.status for _, result in run_many(["pass"], client=client, limits=limits)] == [0]
    assert warm_zygotes <= zygotes()  # the same zygotes served the second run
    assert release_pools(client) >= 1
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in warm):
        assert time.monotonic() < deadline, "a released pool is still running"
        time.sleep(0.05)
    once = list(run_many(["pass"], client=client, limits=limits, keep_warm=False))
    assert [result.status for _, result in once] == [0]
    assert not [name for name in client.run_on_scheduler(worker_plugin_names)
                if name.startswith(PLUGIN_PREFIX)]  # fmt: skip


def worker_plugin_names(dask_scheduler: Any) -> list[str]:
    return list(dask_scheduler.worker_plugins)


def test_a_failed_task_is_an_infrastructure_failure(client: Client) -> None:
    address = client.scheduler_info()["address"]
    assert isinstance(address, str) and address.startswith("tcp://")
    (index, result), *_ = run_many([Job("", limits=Limits(memory_bytes=1 << 40))],
                                   client=address)  # fmt: skip
    assert index == 0 and result.kind is ResultKind.GUEST
    from posixbackend.isolation import distributed as runner
    from posixbackend.isolation.workerpool import run_on_worker

    failed = client.submit(run_on_worker, "no such plugin", Job(""), pure=False)
    failed.exception()  # waits for it
    outcome = runner._outcome(failed, Job(""), None)
    assert outcome.kind is ResultKind.INFRASTRUCTURE
    assert "this worker has no warm pool" in (outcome.error or "")


def test_without_distributed_the_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingExtra, match=r"pip install 'posixbackend\[distributed\]'"):
        next(run_many(["pass"]))
    # every module still imports (python -m compat.docs imports them all)
    code = ("import sys; sys.modules['distributed'] = None; "
            "import posixbackend.isolation.workerpool, posixbackend.isolation.distributed")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr


def scratch_directories() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir())
            if name.startswith("posixbackend-dask-")}  # fmt: skip


def test_without_a_client_a_local_cluster_is_started_and_closed() -> None:
    before, scratch = lasting(), scratch_directories()
    results = dict(run_many(["print('on a cluster of its own')"], keep_warm=False))
    assert results[0].stdout == b"on a cluster of its own\n"
    assert scratch_directories() == scratch  # its workers' scratch space is gone
    deadline = time.monotonic() + 15
    while lasting() - before:
        assert time.monotonic() < deadline, f"left running: {lasting() - before}"
        time.sleep(0.1)
