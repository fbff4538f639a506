"""Fixtures of the launcher tests: the programs directory, written once per worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.launcher.programs import make_programs


@pytest.fixture(scope="session")
def programs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding every program of :mod:`tests.launcher.programs` (never written to
    by the tests: runs that write use their own tmp_path)."""
    directory = tmp_path_factory.mktemp("programs")
    make_programs(directory)
    return directory
