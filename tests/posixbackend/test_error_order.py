"""Which error wins when several apply, and the descriptor kinds Linux refuses a call on:
hand-written programs (tests/posixbackend/fuzzing/fixed.py) run on Linux and on the
emulated backend over every provider, compared as the fuzzer compares them."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.posixbackend.fuzzing.compare import check
from tests.posixbackend.fuzzing.configurations import CONFIGURATIONS
from tests.posixbackend.fuzzing.fixed import ERROR_ORDER
from tests.posixbackend.fuzzing.native import NativeRunner

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the native side chroots and mounts tmpfs, which needs root"
)


@pytest.fixture(scope="module")
def native() -> Iterator[NativeRunner]:
    runner = NativeRunner()
    try:
        yield runner
    finally:
        runner.close()


@pytest.mark.parametrize("configuration", sorted(CONFIGURATIONS))
@pytest.mark.parametrize("name", sorted(ERROR_ORDER))
def test_errors_match_linux(name: str, configuration: str, native: NativeRunner) -> None:
    problems = check(native, CONFIGURATIONS[configuration], ERROR_ORDER[name], limit=50)
    assert not problems, "\n".join(problems)
