"""Group ``distributed`` (issue 21): the distributed runner's overhead per job against the
local pool, measured by ``benchmarks.bench_distributed``.

That module prints its own table (its contenders are the local pool and Dask, not the
backends the other groups compare); this group calls its ``main()`` with ``--quick`` passed
on and keeps the rows it returns for the JSON file. Without Dask the group says so.
"""

from __future__ import annotations

import sys

from benchmarks import bench_distributed
from benchmarks.harness import Outcome, Settings

GROUP = bench_distributed.GROUP


def run(settings: Settings) -> Outcome:
    argv = sys.argv
    sys.argv = ["benchmarks.bench_distributed", *(["--quick"] if settings.number_scale < 1 else [])]
    try:
        rows = bench_distributed.main()
    except ModuleNotFoundError as error:
        if error.name != "distributed":
            raise
        return Outcome(GROUP, [], ["not measured: Dask's distributed is not installed "
                                   "(pip install 'posixbackend[distributed]')"])  # fmt: skip
    finally:
        sys.argv = argv
    note = ("benchmarks.bench_distributed printed its table above; its rows' values are "
            "'local pool' and 'dask' (milliseconds), in the JSON")  # fmt: skip
    return Outcome(GROUP, rows, [note])
