"""Fixtures for the provider tests: native directories, workers and providers side by side."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator

import pytest

IS_ROOT = os.geteuid() == 0


def make_root() -> str:
    """A fresh directory that will serve as a guest's ``/``: mode 0755, reachable by anyone."""
    path = tempfile.mkdtemp(prefix="pb-vfs-", dir="/tmp")
    os.chmod(path, 0o755)
    return path


@pytest.fixture
def roots() -> Iterator[list[str]]:
    """A factory-ish list: call ``new_root`` to add one; all are removed afterwards."""
    made: list[str] = []
    yield made
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def directories() -> Iterator[Callable[[], str]]:
    """A maker of fresh directories (:func:`make_root`), all removed afterwards."""
    made: list[str] = []

    def new() -> str:
        made.append(make_root())
        return made[-1]

    yield new
    for path in made:
        shutil.rmtree(path, ignore_errors=True)
