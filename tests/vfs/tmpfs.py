"""A private tmpfs mounted for a test, to compare the memory file system with the real thing.

Mounting needs root (CI runs as root); without it, or where mount fails, the tests that need
one are skipped with the reason. Each mount is made in a temporary directory of the test's
and unmounted (lazily, so an open descriptor cannot keep it) when the test is done.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def mounted_tmpfs(directory: Path, options: str) -> Iterator[str]:
    """A tmpfs mounted on ``directory`` with ``options`` (``size=64k,nr_inodes=16``)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs to compare with needs root")
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "none", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield str(directory)
    finally:
        subprocess.run(["umount", "-l", str(directory)], capture_output=True, check=False)
