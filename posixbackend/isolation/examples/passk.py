"""A pass@k harness on the warm pool: every candidate runs with its tests in an isolated guest.

``python -m posixbackend.isolation.examples.passk [--workers N] [--k K] [--problem NAME]``
runs the problems of :mod:`~posixbackend.isolation.examples.problems` and prints each
candidate's outcome and each problem's pass@k, with the unbiased estimator of Chen et al. (2021),
"Evaluating Large Language Models Trained on Code": with n samples of which c pass,
pass@k = 1 - C(n - c, k) / C(n, k). A candidate passes when its tests exit with status 0
within the limits; an infrastructure failure is neither a pass nor a fail: the harness runs
it again (up to ``retries`` times) and reports it if it persists.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from concurrent.futures import Future

import attrs

from posixbackend.isolation.examples.problems import PROBLEMS, Candidate, Problem
from posixbackend.isolation.limits import MIB, Limits
from posixbackend.isolation.result import IsolatedResult, ResultKind

LIMITS = Limits(cpu_seconds=2, wall_seconds=3, memory_bytes=256 * MIB, output_bytes=64 * 1024)
"""Each candidate's limits: a correct solution of these problems needs a fraction of each."""
SOLUTION = "/work/solution.py"
"""Where the candidate's source is put in its guest (the tests import ``solution``)."""
TEST_PROGRAM = "import sys\nsys.path.insert(0, '/work')\n"
"""What runs before the tests, so that ``import solution`` finds the candidate."""


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimate of pass@k from ``n`` samples of which ``c`` passed: the chance
    that at least one of ``k`` samples drawn without replacement passes."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, not n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@attrs.frozen
class Judged:
    """One candidate's run: whether it passed, and how it ended."""

    problem: str
    candidate: Candidate
    result: IsolatedResult

    @property
    def passed(self) -> bool:
        return self.result.ok

    def how(self) -> str:
        return "passed" if self.passed else self.result.summary()


@attrs.frozen
class Scores:
    """A problem's pass@k for each k, from its judged candidates."""

    problem: str
    samples: int
    correct: int
    pass_at: dict[int, float]


def evaluate(
    problems: Sequence[Problem] = PROBLEMS,
    *,
    workers: int = 2,
    limits: Limits = LIMITS,
    retries: int = 2,
) -> list[Judged]:
    """Run every candidate of ``problems`` with its tests on a pool of ``workers``; the
    judged runs in the problems' and candidates' order."""
    from posixbackend.isolation.pool import Pool

    with Pool(workers=workers, limits=limits) as pool:

        def submit(problem: Problem, candidate: Candidate) -> Future[IsolatedResult]:
            return pool.submit(TEST_PROGRAM + problem.tests, files={SOLUTION: candidate.source})

        runs = [
            (problem, candidate, submit(problem, candidate))
            for problem in problems
            for candidate in problem.candidates
        ]
        judged = []
        for problem, candidate, future in runs:
            result = future.result()
            for _ in range(retries):
                if result.kind is not ResultKind.INFRASTRUCTURE:
                    break
                result = submit(problem, candidate).result()
            judged.append(Judged(problem.name, candidate, result))
    return judged


def scores(judged: Sequence[Judged], ks: Sequence[int] = (1, 2)) -> list[Scores]:
    """Each problem's pass@k (k above a problem's sample count is left out)."""
    by_problem: dict[str, list[Judged]] = {}
    for run in judged:
        by_problem.setdefault(run.problem, []).append(run)
    table = []
    for problem, runs in by_problem.items():
        n, c = len(runs), sum(run.passed for run in runs)
        table.append(Scores(problem, n, c, {k: pass_at_k(n, c, k) for k in ks if k <= n}))
    return table


def report(judged: Sequence[Judged], ks: Sequence[int] = (1, 2)) -> str:
    """Each candidate's outcome, then each problem's pass@k, as printed text."""
    lines = [f"{run.problem:<11} {run.candidate.name:<15} {run.how()}" for run in judged]
    lines.append("")
    for score in scores(judged, ks):
        cells = "  ".join(f"pass@{k} {value:.3f}" for k, value in score.pass_at.items())
        lines.append(f"{score.problem:<11} {score.correct}/{score.samples} passed  {cells}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="guests at once (default 2)")
    parser.add_argument("--k", type=int, action="append", help="k of pass@k (default 1 and 2)")
    parser.add_argument("--problem", action="append", choices=[p.name for p in PROBLEMS],
                        help="run this problem only (repeatable; default: all)")  # fmt: skip
    args = parser.parse_args(argv)
    names = args.problem or [problem.name for problem in PROBLEMS]
    chosen = [problem for problem in PROBLEMS if problem.name in names]
    print(report(evaluate(chosen, workers=args.workers), tuple(args.k or (1, 2))), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
