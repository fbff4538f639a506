"""``python -m posixbackend --isolate-batch JOBS [--workers N] [--output FILE] [--resume]``.

Runs every job of a JSON-lines file (:mod:`~posixbackend.isolation.jobs`) in an isolated
guest on a warm pool, and writes one result line per job
(:mod:`~posixbackend.isolation.resultlines`) in the order the jobs finish, to ``--output``
or stdout; a progress bar goes to stderr when it is a terminal. ``--resume`` skips the jobs
whose ids the output file already holds (cutting off a partial last line first), so a killed
run goes on where it stopped.

Exit status: 0 when every job ran (whatever its guest did); 1 when some job did not run (its
line was invalid, or the pool failed it: its result line says which); 2 for a usage error
(bad options, an unreadable jobs file, a job line without a readable id, two jobs with one
id, an output file that is not a results file): nothing runs then. 3 when the command itself
failed: the pool could not start, or a result line could not be written (a full disk, a
closed pipe). 130 when interrupted (the lines written so far are whole).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import attrs

from posixbackend.isolation import progress as progress_bar
from posixbackend.isolation.cli import GRANTS, granted, guest_permissions, next_value
from posixbackend.isolation.jobs import BatchJob, InvalidJob, JobFileError, read_jobs
from posixbackend.isolation.limits import Limits, parse_limits
from posixbackend.isolation.result import IsolatedResult
from posixbackend.isolation.resultlines import (
    GUEST,
    INFRASTRUCTURE,
    OK,
    failure_line,
    invalid_line,
    result_line,
)
from posixbackend.isolation.resultsfile import (
    ResultsFileError,
    ResultSink,
    ResultsWriteError,
    finished_keys,
)
from posixbackend.isolation.runner import IsolationError
from posixbackend.launcher.options import UsageError
from posixbackend.permissions.policy import Permissions

ISOLATE_BATCH = "--isolate-batch"
ALL_RAN_STATUS = 0
SOME_NOT_RUN_STATUS = 1
USAGE_STATUS = 2
FAILED_STATUS = 3
INTERRUPTED_STATUS = 130

HELP = """\
usage: {prog} --isolate-batch JOBS [--workers N] [--output FILE] [--resume] [option] ...

Run every job of JOBS (JSON lines: {{"id": ..., "code" or "path": ..., "files", "stdin",
"argv", "env", "limits"}}) as an isolated program on a pool of N warm workers, and write
one JSON result line per job, in the order they finish, to FILE (default: stdout).

Options:
  --workers N          guests run at once (default: the number of CPUs)
  --output FILE        where the result lines go (emptied first unless --resume)
  --resume             skip the jobs whose ids FILE already holds; a partial last line
                       (a killed run) is cut off and its job runs again
  --isolate-limit SPEC default limits of every job, as for --isolate (repeatable);
                       a job's "limits" change them for that job
  --allow-create-thread[=BOOL]
  --allow-native-access[=BOOL]
                       grants for every guest, as for --isolate
  -h, --help           show this help and exit

Exit status: 0 every job ran (guests may have failed), 1 some job did not run (an invalid
job line, or an infrastructure failure), 2 usage error (nothing ran), 3 the pool could not
start or the results could not be written, 130 interrupted.
"""

_VALUED = (ISOLATE_BATCH, "--workers", "--output", "--isolate-limit")


@attrs.frozen
class BatchCommand:
    """A parsed ``--isolate-batch`` command line."""

    jobs: str = ""
    workers: int = attrs.field(factory=lambda: os.cpu_count() or 1)
    output: str | None = None
    resume: bool = False
    limits: Limits = attrs.field(factory=Limits)
    allow_create_thread: bool = False
    allow_native_access: bool = False
    help: bool = False

    @property
    def permissions(self) -> Permissions:
        """What every guest may do inside its child."""
        return guest_permissions(self.allow_create_thread, self.allow_native_access)


def parse_batch(arguments: Sequence[str]) -> BatchCommand | None:
    """The batch command ``arguments`` give; None when ``--isolate-batch`` is not among the
    launcher's own options (it is then a program's argument); UsageError when bad."""
    found = False
    command = BatchCommand()
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        index += 1
        name, equals, value = argument.partition("=")
        if argument in ("-h", "--help"):
            if not found:
                return None
            return attrs.evolve(command, help=True)
        if name in GRANTS:
            command = attrs.evolve(command, **granted(name, value if equals else None))
        elif argument == "--resume":
            command = attrs.evolve(command, resume=True)
        elif name == ISOLATE_BATCH and not equals and arguments[index:index + 1] in (
            ["-h"], ["--help"],
        ):
            return attrs.evolve(command, help=True)
        elif name in _VALUED:
            if not equals:
                value, index = next_value(arguments, index, name)
            found = found or name == ISOLATE_BATCH
            command = _with_option(command, name, value)
        elif not found:
            return None
        else:
            raise UsageError(
                f"{argument}: not an option of --isolate-batch (it runs the jobs of a JSON-lines "
                "file; see --isolate-batch --help)"
            )
    if not found:
        return None
    if command.resume and command.output is None:
        raise UsageError("--resume needs --output FILE (the results to go on from)")
    return command


def _with_option(command: BatchCommand, name: str, value: str) -> BatchCommand:
    if name == ISOLATE_BATCH:
        if not value:
            raise UsageError("--isolate-batch needs the path of a jobs file")
        return attrs.evolve(command, jobs=value)
    if name == "--output":
        if not value:
            raise UsageError("--output needs a file path")
        return attrs.evolve(command, output=value)
    if name == "--workers":
        try:
            workers = int(value)
        except ValueError:
            workers = 0
        if workers < 1:
            raise UsageError(f"--workers must be a positive integer, not {value!r}")
        return attrs.evolve(command, workers=workers)
    try:
        return attrs.evolve(command, limits=parse_limits(value, command.limits))
    except ValueError as error:
        raise UsageError(f"--isolate-limit: {error}") from None


Outcome = IsolatedResult | BaseException
"""What became of a submitted job: its guest's result, or the exception the pool raised."""
Submit = Callable[[BatchJob], "Future[IsolatedResult]"]


@attrs.define
class Tally:
    """How many jobs ended which way, for the exit status and the progress bar."""

    guest: int = 0
    not_run: int = 0

    @property
    def status(self) -> int:
        return SOME_NOT_RUN_STATUS if self.not_run else ALL_RAN_STATUS


def line_of(job: BatchJob, outcome: Outcome) -> dict[str, Any]:
    """The result line of ``job`` for what became of it."""
    if isinstance(outcome, IsolatedResult):
        return result_line(job.id, outcome)
    return failure_line(job.id, INFRASTRUCTURE, f"{type(outcome).__name__}: {outcome}")


def run_jobs(
    jobs: Sequence[BatchJob | InvalidJob],
    submit: Submit,
    write: Callable[[dict[str, Any]], None],
    *,
    in_flight: int,
    progress: progress_bar.Progress | None = None,
) -> Tally:
    """Run ``jobs`` through ``submit`` with at most ``in_flight`` submitted and unfinished,
    and ``write`` each one's result line as it finishes (invalid jobs' lines at once)."""
    tally = Tally()

    def finish(line: dict[str, Any]) -> None:
        write(line)
        if line["kind"] == GUEST:
            tally.guest += 1
        else:
            tally.not_run += 1
        if progress is not None:
            progress.advance(failed=line["status"] != OK)

    pending: dict[Future[IsolatedResult], BatchJob] = {}
    try:
        for job in jobs:
            if isinstance(job, InvalidJob):
                finish(invalid_line(job.id, job.error))
                continue
            while len(pending) >= in_flight:
                _finish_some(pending, finish)
            try:
                future = submit(job)
            except (OSError, ValueError, TypeError) as error:  # e.g. the script is unreadable
                finish(invalid_line(job.id, str(error)))
                continue
            pending[future] = job
        while pending:
            _finish_some(pending, finish)
    finally:
        for future in pending:
            future.cancel()
    return tally


def _finish_some(
    pending: dict[Future[IsolatedResult], BatchJob], finish: Callable[[dict[str, Any]], None]
) -> None:
    """Wait for at least one pending job, and finish every one that is done."""
    done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
    for future in [future for future in pending if future in done]:  # in submission order
        job = pending.pop(future)
        error = future.exception()
        finish(line_of(job, future.result() if error is None else error))


@contextlib.contextmanager
def _pool(command: BatchCommand) -> Iterator[Submit]:
    """A warm pool for ``command``'s jobs, as the function that submits one job."""
    from posixbackend.isolation.pool import Pool

    with Pool(
        workers=command.workers, permissions=command.permissions, limits=command.limits
    ) as pool:
        yield lambda batch_job: pool.submit_job(batch_job.job)


def batch_main(arguments: Sequence[str], prog: str) -> int | None:
    """Run an ``--isolate-batch`` command line; its exit status, or None when ``arguments``
    do not ask for it."""
    try:
        command = parse_batch(arguments)
    except UsageError as error:
        return _usage_error(prog, str(error))
    if command is None:
        return None
    if command.help:
        print(HELP.format(prog=prog), end="")
        return 0
    try:
        with open(command.jobs, encoding="utf-8") as file:
            jobs = read_jobs(file, command.limits, Path(command.jobs).parent)
    except (OSError, UnicodeDecodeError) as error:
        return _usage_error(prog, f"cannot read the jobs file {command.jobs}: {error}")
    except JobFileError as error:
        return _usage_error(prog, f"{command.jobs}, {error}")
    try:
        skip = finished_keys(command.output) if command.resume and command.output else set()
    except (OSError, ResultsFileError) as error:
        return _usage_error(prog, f"cannot resume: {error}")
    todo = [job for job in jobs if job.key not in skip]
    try:
        sink = (
            ResultSink.to_file(command.output, append=command.resume)
            if command.output is not None
            else ResultSink.to_stream(sys.stdout.buffer)
        )
    except OSError as error:
        return _usage_error(prog, f"cannot write the results to {command.output}: {error}")
    bar = progress_bar.for_stream(len(todo), sys.stderr)
    try:
        with sink, _pool(command) as submit:
            tally = run_jobs(todo, submit, sink.write, in_flight=2 * command.workers,
                             progress=bar)  # fmt: skip
    except KeyboardInterrupt:
        return INTERRUPTED_STATUS
    except ResultsWriteError as error:
        print(f"{prog}: cannot write the results: {error.strerror}", file=sys.stderr)
        return FAILED_STATUS
    except (OSError, IsolationError) as error:  # from the pool's start: no job ran
        print(f"{prog}: the pool could not start: {error}", file=sys.stderr)
        return FAILED_STATUS
    finally:
        if bar is not None:
            bar.close()
    return tally.status


def _usage_error(prog: str, message: str) -> int:
    """Report a bad batch command line; the usage status."""
    print(f"{prog}: {message}", file=sys.stderr)
    print(f"Try `{prog} --isolate-batch --help' for more information.", file=sys.stderr)
    return USAGE_STATUS
