"""Running modules in child processes, in parallel: each through the launcher, with a log
file for its output and a result stream for its outcomes. A test that crashes its child, or
goes ``test_timeout`` seconds without a result, is marked crashed and a new child runs the
tests after it, so one broken test hides no others; the whole module has ``timeout`` seconds."""

from __future__ import annotations

import concurrent.futures
import enum
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs

from posixbackend.conformance.modes import Mode
from posixbackend.conformance.results import ModuleRun, Outcome, RunStatus, TestOutcome
from posixbackend.conformance.stream import StreamContents, StreamError, read_stream
from posixbackend.launcher import ENVIRONMENT_VARIABLE

DUMP_GRACE = 5.0
"""Seconds a stopped child gets to print its threads' tracebacks (SIGUSR1) before the kill."""

MAX_RESTARTS = 25
"""How many times one module's child is started again after a crash or a hung test."""

POLL = 0.25
"""Seconds between looks at a running child's result stream."""


@attrs.frozen
class Job:
    """One module to run in one mode."""

    module: str
    mode: Mode

    @property
    def stem(self) -> str:
        """The name of the job's log and result files, without suffix."""
        return f"{self.module}.{self.mode.value}"


@attrs.frozen
class RunSettings:
    """What every job shares: where logs go, the time limits (for a whole module, and for one
    test without a result), the interpreter, the package the modules are in, and environment
    variables to add for the children."""

    logs: Path
    timeout: float = 600.0
    test_timeout: float = 60.0
    python: str = sys.executable
    package: str = "test"
    environment: Mapping[str, str] = attrs.field(factory=dict)


def child_command(
    job: Job, settings: RunSettings, results: Path, skip: Path | None = None
) -> list[str]:
    """The child's command line: the launcher in the job's mode running the child module."""
    return [
        settings.python, "-u", "-m", "posixbackend", *job.mode.launcher_options,
        "-m", "posixbackend.conformance.child", job.module,
        "--results", str(results), "--package", settings.package,
        *(() if skip is None else ("--skip", str(skip))),
    ]  # fmt: skip


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The runner's environment without a backend choice of its own (the launcher makes the
    choice), plus ``extra``."""
    environment = {key: value for key, value in os.environ.items() if key != ENVIRONMENT_VARIABLE}
    environment.update(extra)
    return environment


class Stop(enum.Enum):
    """Why the runner stopped a child (if it did)."""

    NONE = "none"
    TEST_TIMEOUT = "test timeout"
    MODULE_TIMEOUT = "module timeout"


@attrs.frozen
class Attempt:
    """One child process of a job: how it ended, and what its result stream says."""

    returncode: int
    stop: Stop
    contents: StreamContents

    def verdict(self, settings: RunSettings) -> tuple[RunStatus, str]:
        """The run's status if this child was the last, and what to say about it."""
        if self.stop is Stop.MODULE_TIMEOUT:
            return RunStatus.TIMEOUT, f"timed out after {settings.timeout:g} s"
        if self.contents.done:
            if self.returncode != 0:
                return RunStatus.COMPLETED, f"{_ending(self.returncode)} after the last test"
            return RunStatus.COMPLETED, ""
        if self.stop is Stop.TEST_TIMEOUT:
            return RunStatus.CRASHED, f"no result for {settings.test_timeout:g} s"
        return RunStatus.CRASHED, _ending(self.returncode)


def run_job(job: Job, settings: RunSettings) -> ModuleRun:
    """Run one job: a child for the module; after a crash or a hung test, which is marked
    crashed, another child for the tests not run yet, until the module is done, a child dies
    outside any test, or the module's time is up."""
    log = settings.logs / f"{job.stem}.log"
    log.write_bytes(b"")
    started = time.monotonic()
    deadline = started + settings.timeout
    outcomes: dict[str, TestOutcome] = {}
    crashes: list[str] = []
    skip: Path | None = None
    returncode: int | None = None
    status, message = RunStatus.CRASHED, "never started"
    for restart in range(MAX_RESTARTS + 1):
        results = settings.logs / (job.stem + ("" if restart == 0 else f".{restart}") + ".jsonl")
        returncode, stop = _start_and_wait(job, settings, results, log, skip=skip,
                                           deadline=deadline)  # fmt: skip
        try:
            attempt = Attempt(returncode, stop, _read(results))
        except StreamError as error:
            status, message = RunStatus.CRASHED, f"unreadable result stream {results}: {error}"
            break
        for test_id, outcome in attempt.contents.outcomes.items():
            earlier = outcomes.get(test_id)
            outcomes[test_id] = outcome if earlier is None else earlier.merge(outcome)
        status, message = attempt.verdict(settings)
        running = attempt.contents.running
        if running is not None:
            outcomes[running] = TestOutcome(running, Outcome.CRASHED, message)
        if status is not RunStatus.CRASHED or running is None or restart == MAX_RESTARTS:
            break
        crashes.append(f"{running.rsplit('.', 1)[-1]} ({message})")
        skip = settings.logs / f"{job.stem}.skip"
        skip.write_text("".join(test_id + "\n" for test_id in sorted(outcomes)), encoding="utf-8")
        with log.open("ab") as output:
            output.write(f"\n=== runner: {running}: {message}; restarting without the "
                         f"{len(outcomes)} tests that have a result ===\n".encode())  # fmt: skip
    if crashes:
        restarted = f"restarted after {len(crashes)} crashed tests: {', '.join(crashes)}"
        message = f"{message}; {restarted}" if message else restarted
    duration = time.monotonic() - started
    return ModuleRun(
        job.module, job.mode, status, outcomes, returncode, duration, str(log), message
    )


def _start_and_wait(
    job: Job, settings: RunSettings, results: Path, log: Path, *, skip: Path | None,
    deadline: float,
) -> tuple[int, Stop]:  # fmt: skip
    """Start one child and wait for it, stopping it when a test has gone without a result for
    ``settings.test_timeout`` or the module's ``deadline`` has passed; its status and why it
    was stopped."""
    results.unlink(missing_ok=True)
    with log.open("ab") as output:
        process = subprocess.Popen(
            child_command(job, settings, results, skip), stdin=subprocess.DEVNULL,
            stdout=output, stderr=subprocess.STDOUT, cwd=settings.logs,
            env=child_environment(settings.environment), start_new_session=True,
        )  # fmt: skip
        try:
            stop = _watch(process, results, settings.test_timeout, deadline)
            returncode = process.returncode if stop is Stop.NONE else _stop(process)
        finally:
            _kill_group(process.pid)
    return returncode, stop


def _watch(
    process: subprocess.Popen[bytes], results: Path, test_timeout: float, deadline: float
) -> Stop:
    """Wait for the child to end; or say which time limit it ran into (still running)."""
    size = -1
    progress = time.monotonic()
    while True:
        try:
            process.wait(POLL)
        except subprocess.TimeoutExpired:
            pass
        else:
            return Stop.NONE
        now = time.monotonic()
        if now >= deadline:
            return Stop.MODULE_TIMEOUT
        try:
            current = results.stat().st_size
        except FileNotFoundError:
            current = -1
        if current != size:
            size, progress = current, now
        elif now - progress >= test_timeout:
            return Stop.TEST_TIMEOUT


def _ending(returncode: int) -> str:
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit status {returncode}"


def _read(results: Path) -> StreamContents:
    try:
        with results.open(encoding="utf-8") as stream:
            return read_stream(stream)
    except FileNotFoundError:  # the child died before it opened the stream
        return read_stream(())


def _stop(process: subprocess.Popen[bytes]) -> int:
    """Make a child that ran out of time print its tracebacks (faulthandler on SIGUSR1 also
    ends it), then kill its process group; its status."""
    try:
        process.send_signal(signal.SIGUSR1)
        return process.wait(DUMP_GRACE)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        return process.wait()


def _kill_group(group: int) -> None:
    """Kill what is left of the child's process group (processes the tests started)."""
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return


def estimated_cost(module: str, package: str) -> int:
    """The size of the module's source: a rough guess of its run time, to start big ones
    first so that the slowest module does not start last."""
    try:
        spec = importlib.util.find_spec(f"{package}.{module}")
    except ImportError:
        return 0
    if spec is None or spec.origin is None:
        return 0
    try:
        return os.stat(spec.origin).st_size
    except OSError:
        return 0


def run_jobs(
    jobs: Sequence[Job], settings: RunSettings, workers: int,
    progress: Callable[[ModuleRun], None] | None = None,
) -> list[ModuleRun]:  # fmt: skip
    """Run ``jobs`` with ``workers`` children at a time, the biggest modules first; the runs in
    the order of ``jobs``. ``progress`` is told of each run as it ends."""
    settings.logs.mkdir(parents=True, exist_ok=True)
    modules = {job.module for job in jobs}
    costs = {module: estimated_cost(module, settings.package) for module in modules}
    order = sorted(range(len(jobs)), key=lambda index: -costs[jobs[index].module])
    runs: dict[int, ModuleRun] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(run_job, jobs[index], settings): index for index in order}
        for future in concurrent.futures.as_completed(futures):
            run = future.result()
            runs[futures[future]] = run
            if progress is not None:
                progress(run)
    return [runs[index] for index in range(len(jobs))]
