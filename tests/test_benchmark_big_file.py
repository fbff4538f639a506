"""``python -m benchmarks.big_file``: group scale's big-file rows at the sizes asked for, with
the CPU-time row on request; nothing is timed. It runs in a process of its own, as the
benchmark groups do (it installs the backend's stand-ins and sets up pyfakefs's Patcher)."""

from __future__ import annotations

import subprocess
import sys


def run(*args: str) -> str:
    """The script's table for ``args``."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.big_file", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def operations(table: str) -> list[str]:
    """The rows' labels (the text before the native column)."""
    return [line.split(" @ ")[0] + " @ " + line.split(" @ ")[1].split()[0] + " MiB"
            for line in table.splitlines() if " @ " in line]  # fmt: skip


def test_each_size_gets_the_groups_rows_and_cpu_on_request() -> None:
    table = run("1", "2", "--rounds", "1", "--cpu")
    assert operations(table) == [
        f"{operation} @ {mib} MiB"
        for mib in (1, 2)
        for operation in (
            "write + read back in 1 MiB chunks, per MiB",
            "write + read back in 1 MiB chunks, CPU per MiB",
            "peak traced memory / file size",
            "peak RSS growth / file size",
        )
    ]
    assert "targets met:" in table


def test_without_cpu_the_rows_are_the_groups() -> None:
    assert "CPU per MiB" not in run("1", "--rounds", "1")
