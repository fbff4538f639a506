"""Running one program on Linux and on a configuration, and saying where they differ."""

from __future__ import annotations

from typing import Any

from tests.posixbackend.fuzzing import execution
from tests.posixbackend.fuzzing.configurations import Configuration, backend_for
from tests.posixbackend.fuzzing.native import NativeRunner
from tests.posixbackend.fuzzing.programs import Program, statement


def emulated_run(configuration: Configuration, program: Program) -> Any:
    with backend_for(configuration) as backend:
        return execution.run(backend, program, watch_gaps=True)


def differences(
    program: Program, native: Any, emulated: Any, limit: int = 5
) -> list[str]:
    """What differs, step by step, then the final tree (empty: nothing)."""
    (want, want_tree), (got, got_tree) = native, emulated
    problems = [
        f"#{index} {statement(step)}\n    linux:    {w!r}\n    emulated: {g!r}"
        for index, (step, w, g) in enumerate(zip(program, want, got, strict=True))
        if w != g and not _is_gap(g)
    ][:limit]
    gapped = any(_is_gap(g) for g in got)  # a declared gap may change the tree too
    if not problems and not gapped and want_tree != got_tree:
        only_linux = [entry for entry in want_tree if entry not in got_tree]
        only_emulated = [entry for entry in got_tree if entry not in want_tree]
        problems.append(
            f"final tree\n    linux only:    {only_linux!r}\n    emulated only: {only_emulated!r}"
        )
    return problems


def _is_gap(outcome: Any) -> bool:
    return isinstance(outcome, tuple) and outcome[:1] == ("gap",)


def signature(program: Program, problems: list[str]) -> str:
    """What a divergence is about (kept while shrinking): the first differing call's name."""
    first = problems[0]
    if not first.startswith("#"):
        return "tree"
    return program[int(first[1:].split(" ")[0])].op


def check(
    runner: NativeRunner, configuration: Configuration, program: Program, limit: int = 5
) -> list[str]:
    native = runner.run(program, configuration.mount)
    return differences(program, native, emulated_run(configuration, program), limit)
