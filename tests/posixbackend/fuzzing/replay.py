"""Replaying a printed program (see programs.script): each step's outcome on Linux and on
the emulated configuration, side by side."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from tests.posixbackend.fuzzing import execution
from tests.posixbackend.fuzzing.configurations import CONFIGURATIONS, backend_for
from tests.posixbackend.fuzzing.native import NativeRunner


class _Recorded:
    """An ``os`` stand-in for a printed program: ``step`` records outcomes."""

    def __init__(self) -> None:
        self.outcomes: list[Any] = []

    def step(self, call: Callable[[], Any], fd: bool = False) -> Any:
        try:
            result = call()
        except OSError as error:
            self.outcomes.append(
                ("error", type(error).__name__, error.errno, error.filename, error.filename2)
            )
            return 99_999
        self.outcomes.append(("fd",) if fd else execution.plain(result))
        return result


def _program_steps(program: Callable[[Any, Any], None], o: Any) -> list[Any]:
    recorded = _Recorded()
    program(o, recorded.step)
    o.chdir("/")
    return [recorded.outcomes, execution.tree(o)]


def replay(program: Callable[[Any, Any], None], configuration_name: str) -> None:
    configuration = CONFIGURATIONS[configuration_name]
    runner = NativeRunner(job=lambda o: _program_steps(program, o))
    try:
        native = runner.run(None, configuration.mount)
    finally:
        runner.close()
    with backend_for(configuration) as backend:
        emulated = _program_steps(program, backend)
    for index, (want, got) in enumerate(zip(native[0], emulated[0], strict=True)):
        mark = "  " if want == got else "!!"
        sys.stdout.write(f"{mark} #{index}\n     linux:    {want!r}\n     emulated: {got!r}\n")
    if native[1] != emulated[1]:
        sys.stdout.write(
            f"!! final tree\n   linux:    {native[1]!r}\n   emulated: {emulated[1]!r}\n"
        )
