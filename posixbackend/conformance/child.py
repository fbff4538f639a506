"""One test module, run the way CPython's regrtest runs a single test file in a worker.

``python -m posixbackend [backend options] -m posixbackend.conformance.child MODULE --results
FILE`` (the runner starts it so): regrtest's settings for :mod:`test.support` (quiet, no extra
resources), a fresh temporary working directory made through the active backend, the module
loaded with ``loadTestsFromName`` (so ``load_tests`` is honoured), and every test's outcome
streamed to FILE on the host. The tests' own output goes to this process's stdout and stderr,
which the runner sends to the run's log file.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import fcntl
import importlib
import os
import resource
import signal
import sys
import tempfile
import traceback
import unittest
import warnings
from collections.abc import Iterator, Sequence
from typing import TextIO

from posixbackend.conformance.recording import RecordingResult, describe
from posixbackend.conformance.results import Outcome, TestOutcome
from posixbackend.conformance.stream import ResultWriter
from posixbackend.emulated.hostfcntl import host_fcntl
from posixbackend.switch import backend

REGRTEST_SETTINGS: dict[str, object] = {
    "verbose": 0, "failfast": False, "PGO": False, "PGO_EXTENDED": False,
    "junit_xml_list": None, "use_resources": [],
}  # fmt: skip
"""What regrtest sets in :mod:`test.support` for a plain ``python -m test MODULE`` run."""

UNICODE_GUARD_ENV = "PYTHONREGRTEST_UNICODE_GUARD"
"""regrtest keeps a non-ASCII value in the environment so tests meet one."""

RESULT_FD_FLOOR = 900
"""The result file's descriptor is moved this high, out of reach of tests that close ranges
of low descriptors (``os.closerange``) in the native run."""


def open_result_file(path: str) -> TextIO:
    """``path`` on the host, opened for the result stream with the native backend: the real
    file object keeps writing to its real descriptor whatever backend is active later."""
    with backend("native"):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        floor = (
            RESULT_FD_FLOOR if soft == resource.RLIM_INFINITY else min(RESULT_FD_FLOOR, soft // 2)
        )
        high = host_fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor)
        os.close(fd)
        return open(high, "w", encoding="utf-8")


def set_up_process(support: object) -> None:
    """What regrtest's worker sets up before a test file: fault tracebacks on stderr (also on
    SIGUSR1, which the runner sends before it kills a child that ran out of time), the
    original stdout, quiet test.support settings and the non-ASCII environment guard."""
    stderr_fd = sys.__stderr__.fileno() if sys.__stderr__ is not None else 2
    faulthandler.enable(all_threads=True, file=stderr_fd)
    faulthandler.register(signal.SIGUSR1, file=stderr_fd, all_threads=True, chain=True)
    record_original_stdout = getattr(support, "record_original_stdout")  # noqa: B009
    record_original_stdout(sys.stdout)
    for name, value in REGRTEST_SETTINGS.items():
        setattr(support, name, value)
    os_helper = importlib.import_module("test.support.os_helper")
    undecodable = os_helper.TESTFN_UNDECODABLE
    if undecodable and os.supports_bytes_environ:
        os.environb.setdefault(UNICODE_GUARD_ENV.encode(), undecodable)
    elif os_helper.FS_NONASCII:
        os.environ.setdefault(UNICODE_GUARD_ENV, os_helper.FS_NONASCII)


@contextlib.contextmanager
def fresh_working_directory(cleanup_id: str, writer: ResultWriter) -> Iterator[str]:
    """A new temporary directory (made through the active backend) as the working directory,
    as regrtest gives each worker; removed afterwards. A failed removal is recorded as an error
    under ``cleanup_id``, since a backend that cannot remove what a test left is worth seeing."""
    os_helper = importlib.import_module("test.support.os_helper")
    suffix = os_helper.FS_NONASCII or ""
    path = tempfile.mkdtemp(prefix=f"test_python_worker_{os.getpid()}_", suffix=suffix)
    saved = os.getcwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(saved)
        try:
            os_helper.rmtree(path)
        except OSError:
            error = sys.exc_info()
            traceback.print_exc()
            writer.finished(TestOutcome(cleanup_id, Outcome.ERROR, describe(error)))


def read_skip_file(path: str | None) -> frozenset[str]:
    """The test ids listed (one a line) in the host file ``path``: tests a previous child of
    the same run already ran, or crashed in."""
    if path is None:
        return frozenset()
    with backend("native"), open(path, encoding="utf-8") as lines:
        return frozenset(line.rstrip("\n") for line in lines if line.strip())


def without(suite: unittest.TestSuite, skip: frozenset[str]) -> unittest.TestSuite:
    """``suite`` without the tests whose ids are in ``skip`` (nested suites are kept, so class
    and module fixtures still run around the tests left)."""
    kept: list[unittest.TestCase | unittest.TestSuite] = []
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            kept.append(without(test, skip))
        elif test.id() not in skip:
            kept.append(test)
    return type(suite)(kept)


def run_module(
    qualified: str, writer: ResultWriter, stream: TextIO, skip: frozenset[str] = frozenset()
) -> None:
    """Import ``qualified``, load its tests as regrtest does and run them (but those in
    ``skip``), recording each."""
    try:
        importlib.import_module(qualified)
    except unittest.SkipTest as skipped:
        print(f"{qualified} skipped -- {skipped}", file=stream)
        writer.finished(TestOutcome(qualified, Outcome.SKIPPED, str(skipped)))
        return
    except Exception:  # noqa: BLE001 - whatever the import raised is the module's error
        error = sys.exc_info()
        traceback.print_exc(file=stream)
        writer.finished(TestOutcome(qualified, Outcome.ERROR, describe(error)))
        return
    loader = unittest.TestLoader()
    suite = without(loader.loadTestsFromName(qualified), skip)
    for message in loader.errors:
        print(message, file=stream)
    result = RecordingResult(stream, writer)
    with warnings.catch_warnings():
        if not sys.warnoptions:
            warnings.simplefilter("default")
        result.startTestRun()
        try:
            suite(result)
        finally:
            result.stopTestRun()
    result.printErrors()
    print(
        f"\nRan {result.testsRun} tests: {len(result.failures)} failures, "
        f"{len(result.errors)} errors, {len(result.skipped)} skipped",
        file=stream, flush=True,
    )  # fmt: skip


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The child's command line."""
    parser = argparse.ArgumentParser(prog="python -m posixbackend.conformance.child")
    parser.add_argument("module", help="the test module, e.g. test_os")
    parser.add_argument("--results", required=True, help="the host file for the result stream")
    parser.add_argument("--package", default="test", help="the package of the module")
    parser.add_argument("--skip", help="a host file of test ids not to run, one a line")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one module; 0 once every test ran (test failures are in the result stream)."""
    arguments = parse_arguments(argv)
    writer = ResultWriter(open_result_file(arguments.results))
    skip = read_skip_file(arguments.skip)
    support = importlib.import_module("test.support")
    set_up_process(support)
    qualified = f"{arguments.package}.{arguments.module}"
    stream = sys.stderr
    with fresh_working_directory(f"cleanup ({qualified})", writer):
        run_module(qualified, writer, stream, skip)
        gc_collect = getattr(support, "gc_collect")  # noqa: B009
        reap_children = getattr(support, "reap_children")  # noqa: B009
        gc_collect()
        reap_children()
    writer.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
