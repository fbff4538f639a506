"""``python -m benchmarks``: issue 20's groups, each in its own process, as tables and JSON.

``python -m benchmarks GROUP [--quick | --full] [--rounds N] [--json PATH] [--plot DIR]
[--update-docs FILE]``
with GROUP one of ops, scale, threads, blocks, startup, pool, distributed or all. Each group
runs in a child process (``python -m benchmarks GROUP --worker-output FILE``) so that no
group's imports, installed stand-ins or caches colour another's numbers; the parent prints
each group's table as it finishes, writes every row to one JSON file, with ``--plot`` draws
the scaling curves and with ``--update-docs`` rewrites the generated blocks of the docs
(benchmarks/docblocks.py).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from benchmarks import docblocks, plots, report
from benchmarks.harness import Outcome, Settings

GROUPS = {
    "ops": "benchmarks.group_ops",
    "scale": "benchmarks.group_scale",
    "threads": "benchmarks.group_threads",
    "blocks": "benchmarks.group_blocks",
    "startup": "benchmarks.group_startup",
    "pool": "benchmarks.group_pool",
    "distributed": "benchmarks.group_distributed",
}
DEFAULT_JSON = "benchmark-results.json"


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Issue 20's benchmarks: the managed backend on a memory file system "
        "against native os on tmpfs, pyfakefs and PyFilesystem2.",
    )
    parser.add_argument("group", choices=[*GROUPS, "all"], help="the group to run")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a smoke run (seconds per group)")
    size.add_argument("--full", action="store_true", help="add the large points (1e5-1e6 "
                      "files, 1e5-entry directories, a 1 GiB file): minutes")  # fmt: skip
    parser.add_argument("--rounds", type=int, help="paired rounds per row (default 7, quick 3)")
    parser.add_argument("--json", metavar="PATH", default=DEFAULT_JSON,
                        help=f"where the results go (default: {DEFAULT_JSON})")  # fmt: skip
    parser.add_argument("--plot", metavar="DIR", help="draw the scaling curves there as PNG "
                        "and SVG (needs matplotlib: pip install 'posixbackend[plot]')")  # fmt: skip
    parser.add_argument("--update-docs", metavar="FILE", action="append", default=[],
                        help="rewrite the generated blocks of these Markdown files for the "
                        "groups run (repeatable; see benchmarks/docblocks.py)")  # fmt: skip
    parser.add_argument("--worker-output", metavar="FILE", help=argparse.SUPPRESS)
    return parser


def settings_of(args: argparse.Namespace) -> Settings:
    settings = Settings.quick() if args.quick else Settings(full=args.full)
    if args.rounds is not None:
        if args.rounds < 1:
            raise SystemExit("--rounds must be at least 1")
        settings = attrs.evolve(settings, rounds=args.rounds)
    return settings


def run_group(group: str, settings: Settings) -> Outcome:
    """Run ``group`` in this process."""
    module = importlib.import_module(GROUPS[group])
    outcome: Outcome = module.run(settings)
    return outcome


def work(group: str, settings: Settings, output: str) -> None:
    """The child's part: run the group, write its outcome as JSON to ``output``."""
    outcome = run_group(group, settings)
    with open(output, "w") as file:
        json.dump(outcome.to_json(), file)


def child_argv(group: str, args: argparse.Namespace, output: str) -> list[str]:
    argv = [sys.executable, "-m", "benchmarks", group, "--worker-output", output]
    if args.quick:
        argv.append("--quick")
    if args.full:
        argv.append("--full")
    if args.rounds is not None:
        argv += ["--rounds", str(args.rounds)]
    return argv


def run_child(group: str, args: argparse.Namespace) -> Outcome:
    """The group in a child process (its own output passes through); a failed child gives an
    outcome with no rows and a note saying so."""
    handle, output = tempfile.mkstemp(prefix=f"bench-{group}-", suffix=".json")
    os.close(handle)
    started = time.perf_counter()
    try:
        done = subprocess.run(child_argv(group, args, output), check=False)
        took = f"the {group} process ran {time.perf_counter() - started:.0f} s"
        if done.returncode != 0:
            return Outcome(group, [], [f"FAILED: the {group} process exited with "
                                       f"{done.returncode} (its error is above)"])  # fmt: skip
        with open(output) as file:
            outcome = Outcome.from_json(group, json.load(file))
        return attrs.evolve(outcome, notes=[*outcome.notes, took])
    finally:
        os.unlink(output)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser()
    args = arguments.parse_args(argv)
    settings = settings_of(args)
    if args.worker_output:
        if args.group == "all":
            raise SystemExit("--worker-output runs one group")
        work(args.group, settings, args.worker_output)
        return 0
    if args.plot:
        try:
            plots.require_matplotlib()  # before minutes of measuring, not after
        except plots.MissingExtra as error:
            arguments.exit(2, f"{arguments.prog}: {error}\n")
    for path in args.update_docs:
        try:  # before minutes of measuring, not after
            docblocks.check(Path(path).read_text(encoding="utf-8"), path)
        except (OSError, docblocks.DocBlockError) as error:
            arguments.exit(2, f"{arguments.prog}: --update-docs: {error}\n")
    groups = list(GROUPS) if args.group == "all" else [args.group]
    outcomes = []
    for group in groups:
        outcome = run_child(group, args)
        outcomes.append(outcome)
        print(report.table(outcome), flush=True)
        print(flush=True)
    described: dict[str, Any] = {"groups": groups, **attrs.asdict(settings)}
    report.write_json(args.json, outcomes, described)
    print(f"results written to {args.json}")
    results = docblocks.Results(
        {outcome.group: outcome for outcome in outcomes}, report.metadata(described)
    )
    for path in args.update_docs:
        count = docblocks.update_file(Path(path), results)
        print(f"{path}: {count} generated blocks rewritten")
    if args.plot:
        rows = [row for outcome in outcomes for row in outcome.rows]
        for path in plots.draw(rows, args.plot):
            print(f"plot: {path}")
    failed = any(note.startswith("FAILED") for outcome in outcomes for note in outcome.notes)
    return 1 if failed else 0
