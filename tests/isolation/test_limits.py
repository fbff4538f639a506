"""Each limit ends a run in a clear result within seconds: a CPU loop, a memory bomb, output
and write floods, too many open files, and a program that never ends.

``limit_exceeded`` says what the parent observed (its clock, its byte counts, the wait status
and CPU time); a limit only the child's process can see (MemoryError, EFBIG, EMFILE) is the
guest's report, ``reported_limit``."""

from __future__ import annotations

import re
import signal
import textwrap
import time
from typing import Any

import pytest

from posixbackend.isolation import Limits, run_isolated, runner
from posixbackend.permissions.policy import Permissions
from tests.isolation.helpers import assert_nothing_left


def test_a_cpu_loop_is_stopped_by_the_cpu_limit() -> None:
    result = run_isolated("while True: pass", limits=Limits(cpu_seconds=1))
    assert (result.limit_exceeded, result.signal) == ("cpu", signal.SIGXCPU)
    assert result.status == -signal.SIGXCPU
    assert 1 <= result.cpu_seconds < 4
    assert result.summary() == "cpu time limit (1 s) exceeded (SIGXCPU)"
    assert result.files == {}
    assert result.notes == ("no files came back: the child was killed before sending them",)
    assert_nothing_left(result)


def test_a_cpu_loop_that_ignores_sigxcpu_is_killed_at_the_hard_limit() -> None:
    code = "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True: pass"
    result = run_isolated(code, limits=Limits(cpu_seconds=1))
    assert (result.limit_exceeded, result.signal) == ("cpu", signal.SIGKILL)
    assert_nothing_left(result)


def test_a_memory_bomb_ends_in_memory_error_and_the_files_still_come_back() -> None:
    code = """\
        open('/tmp/before.txt', 'w').write('written before the bomb')
        hoard = []
        while True:
            hoard.append(bytearray(16 << 20))
    """
    result = run_isolated(textwrap.dedent(code), limits=Limits(memory_bytes=256 << 20))
    assert (result.reported_limit, result.exception, result.status) == ("memory", "MemoryError", 1)
    assert result.limit_exceeded is None  # a MemoryError is the child's to see, not the parent's
    assert result.stderr.endswith(b"MemoryError\n")
    assert result.summary() == "memory limit (256 MiB) exceeded, as the guest reports (MemoryError)"
    assert result.files == {"/tmp/before.txt": b"written before the bomb"}
    assert_nothing_left(result)


def test_one_huge_allocation_is_a_memory_error_at_once() -> None:
    result = run_isolated("x = bytes(1 << 40)", limits=Limits(memory_bytes=256 << 20))
    assert (result.reported_limit, result.exception) == ("memory", "MemoryError")
    assert result.limit_exceeded is None


def test_a_memory_error_without_a_memory_limit_is_just_an_exception() -> None:
    result = run_isolated("raise MemoryError", limits=Limits(memory_bytes=None))
    assert (result.limit_exceeded, result.reported_limit, result.exception) == (
        None, None, "MemoryError",
    )  # fmt: skip


def test_an_output_flood_is_killed_before_its_pipe_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Regression (seen once under load): the parent closed the flooded pipe, then killed;
    the guest, writing on, got EPIPE and ended on its own in between (signal None). The
    window is widened here: the kill comes 0.3 s late."""
    kill = runner._Supervision._kill

    def late_kill(self: Any, child: Any, reason: str) -> None:
        time.sleep(0.3)
        kill(self, child, reason)

    monkeypatch.setattr(runner._Supervision, "_kill", late_kill)
    result = run_isolated("while True: print('x' * 999)", limits=Limits(output_bytes=100_000))
    assert (result.limit_exceeded, result.signal) == ("output", signal.SIGKILL)


def test_an_output_flood_is_cut_at_the_limit_and_stopped() -> None:
    started = time.monotonic()
    result = run_isolated("while True: print('x' * 999)", limits=Limits(output_bytes=100_000))
    assert time.monotonic() - started < 10
    assert (result.limit_exceeded, result.signal) == ("output", signal.SIGKILL)
    assert result.stdout == (b"x" * 999 + b"\n") * 100
    assert result.summary() == "output limit (100000 bytes per stream) exceeded (SIGKILL)"
    assert_nothing_left(result)


def test_a_flood_on_stderr_counts_too() -> None:
    code = "import sys\nwhile True: sys.stderr.write('e' * 4096)"
    result = run_isolated(code, limits=Limits(output_bytes=64 << 10))
    assert result.limit_exceeded == "output"
    assert result.stderr == b"e" * (64 << 10)


def test_a_write_flood_into_the_memory_file_system_stops_at_the_file_size_limit() -> None:
    code = """\
        with open('/tmp/flood', 'wb') as out:
            while True:
                out.write(b'w' * 100_000)
    """
    result = run_isolated(textwrap.dedent(code), limits=Limits(file_size_bytes=1 << 20))
    assert (result.limit_exceeded, result.reported_limit) == (None, "file_size")
    assert result.exception == "OSError"
    assert result.stderr.endswith(b"OSError: [Errno 27] File too large\n")
    assert result.files == {"/tmp/flood": b"w" * (1 << 20)}
    assert result.summary() == "file size limit (1 MiB) exceeded, as the guest reports (OSError)"


def test_a_flood_of_files_fills_the_guests_file_system_not_the_host() -> None:
    """The guest's memory file system holds half its memory limit (as a tmpfs holds half of
    a machine's memory): the flood ends in ENOSPC inside the guest, before MemoryError."""
    code = """\
        n = 0
        while True:
            open(f'/tmp/f{n}', 'wb').write(bytes(4 << 20))
            n += 1
    """
    limits = Limits(memory_bytes=192 << 20, file_size_bytes=8 << 20)
    result = run_isolated(textwrap.dedent(code), limits=limits)
    assert (result.exception, result.reported_limit) == ("OSError", None), result.stderr
    assert result.stderr.endswith(b"OSError: [Errno 28] No space left on device\n")
    assert sum(len(data) for data in result.files.values()) <= 96 << 20
    assert_nothing_left(result)


def test_too_many_open_files_is_the_open_files_limit() -> None:
    code = "files = [open(f'/tmp/f{n}', 'w') for n in range(1000)]"
    result = run_isolated(code, limits=Limits(open_files=32))
    assert (result.limit_exceeded, result.reported_limit) == (None, "open_files")
    assert result.exception == "OSError"
    last = result.stderr.splitlines()[-1]
    assert re.fullmatch(rb"OSError: \[Errno 24\] Too many open files: '/tmp/f\d+'", last)
    assert result.summary() == "open files limit (32) exceeded, as the guest reports (OSError)"


def test_a_program_that_never_ends_is_killed_at_the_wall_time_limit() -> None:
    started = time.monotonic()
    result = run_isolated("import time; time.sleep(100)", limits=Limits(wall_seconds=1))
    assert 1 <= time.monotonic() - started < 5
    assert (result.limit_exceeded, result.signal) == ("wall", signal.SIGKILL)
    assert result.summary() == "wall time limit (1 s) exceeded (SIGKILL)"
    assert_nothing_left(result)


def test_a_shorter_permissions_time_limit_bounds_the_wall_time() -> None:
    started = time.monotonic()
    granted = Permissions(allow_io="all", time_limit=0.5)
    result = run_isolated("import time; time.sleep(100)", granted)
    assert time.monotonic() - started < 5
    assert result.limit_exceeded == "wall"
    assert result.limits.wall_seconds == 0.5
    assert result.summary().startswith("wall time limit (0.5 s) exceeded")


def test_a_limit_turned_off_does_not_apply() -> None:
    limits = Limits(output_bytes=None, file_size_bytes=None)
    code = "open('/tmp/big', 'wb').write(bytes(3 << 20)); print('y' * (2 << 20))"
    result = run_isolated(code, limits=limits)
    assert result.status == 0, result.stderr
    assert len(result.stdout) == (2 << 20) + 1
    assert len(result.files["/tmp/big"]) == 3 << 20
