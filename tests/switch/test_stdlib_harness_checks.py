"""The stdlib harness itself: it notices differences and managed runs that reach the host."""

from __future__ import annotations

import os
import posix

import pytest

import posixbackend
from tests.switch.stdlib_harness import (  # noqa: F401 - a fixture
    compare,
    run_managed,
    uninstall_after_module,
)


def test_a_difference_fails_the_comparison() -> None:
    with pytest.raises(AssertionError, match="managed differs from native"):
        compare(lambda root: posixbackend.current().value)


def test_a_managed_run_that_reaches_the_host_fails() -> None:
    def leaks(root: str) -> object:
        return sorted(posix.listdir(os.path.dirname(root)))[:0]  # the host's /tmp, not the guest's

    with pytest.raises(AssertionError, match="touched the host"):
        run_managed(leaks)


def test_the_managed_run_does_not_see_the_host() -> None:
    def looks(root: str) -> object:
        return os.path.exists("/tmp"), os.listdir("/tmp") == [os.path.basename(root)]

    assert run_managed(looks) == (True, True)
