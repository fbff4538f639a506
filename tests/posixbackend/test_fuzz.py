"""The differential fuzzer: random programs on Linux and on the emulated backend over each
provider must agree step by step (results, errors with their class, errno and filenames) and
end with the same tree.

The quick profile (the default) runs a few dozen programs per configuration; the long one,
``POSIXBACKEND_FUZZ=long`` (``POSIXBACKEND_FUZZ_PROGRAMS=N`` to choose how many,
``POSIXBACKEND_FUZZ_SEED=S`` for where the seeds start), thousands. A failure prints the
program shrunk to the steps that still differ, as a script that replays it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.posixbackend.fuzzing import execution
from tests.posixbackend.fuzzing.compare import check, differences, signature
from tests.posixbackend.fuzzing.configurations import CONFIGURATIONS, backend_for
from tests.posixbackend.fuzzing.fixed import program as fixed_program
from tests.posixbackend.fuzzing.native import NativeRunner
from tests.posixbackend.fuzzing.programs import Fd, generate, script
from tests.posixbackend.fuzzing.shrinking import shrink

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the native side chroots and mounts tmpfs, which needs root"
)

LONG = os.environ.get("POSIXBACKEND_FUZZ") == "long"
PROGRAMS = int(os.environ.get("POSIXBACKEND_FUZZ_PROGRAMS") or (2000 if LONG else 40))
FIRST_SEED = int(os.environ.get("POSIXBACKEND_FUZZ_SEED") or 0)


@pytest.fixture(scope="module")
def native() -> Iterator[NativeRunner]:
    runner = NativeRunner()
    try:
        yield runner
    finally:
        runner.close()


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_random_programs_match_linux(name: str, native: NativeRunner) -> None:
    configuration = CONFIGURATIONS[name]
    for seed in range(FIRST_SEED, FIRST_SEED + PROGRAMS):
        program = generate(seed)
        problems = check(native, configuration, program)
        if not problems:
            continue
        kind = signature(program, problems)

        def still_fails(candidate: list, kind: str = kind) -> bool:  # type: ignore[type-arg]
            found = check(native, configuration, candidate)
            return bool(found) and signature(candidate, found) == kind

        small = shrink(program, still_fails)
        pytest.fail(
            f"seed {seed} differs on {name}:\n" + "\n".join(check(native, configuration, small))
            + "\n\nreproducer:\n" + script(small, name, seed),
            pytrace=False,
        )


def test_a_step_that_hits_a_declared_gap_is_not_compared() -> None:
    program = fixed_program(("open", "d", os.O_RDONLY), ("lseek", Fd(0), 0, os.SEEK_END))
    with backend_for(CONFIGURATIONS["memory"]) as backend:
        emulated = execution.run(backend, program, watch_gaps=True)
    assert emulated[0][1] == ("gap", "os.lseek.directory_end")
    linux = ([("fd",), 4096], emulated[1])  # what ext4 would answer
    assert differences(program, linux, emulated) == []
    failed_open = ("error", "FileNotFoundError", 2, "d", None)
    assert differences(program, ([failed_open, 4096], emulated[1]), emulated) != []
