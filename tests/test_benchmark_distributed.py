"""The distributed benchmark runs as a group of ``python -m benchmarks`` (numbers not judged)."""

from __future__ import annotations

import json
import subprocess
import sys

from benchmarks.harness import Row


def test_the_distributed_group_measures_both_sides() -> None:
    code = (
        "import json; from benchmarks import group_distributed; "
        "from benchmarks.harness import Settings; "
        "print(json.dumps(group_distributed.run(Settings.quick()).to_json()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    printed, last = done.stdout.rsplit("\n", 2)[:2]
    assert "distributed overhead per job:" in printed and "local cluster start" in printed
    rows = [Row.from_json(item) for item in json.loads(last)["rows"]]
    assert [row.operation for row in rows] == [
        "per run of 1 job (2 at once)", "per job, marginal (2 at once)",
        "distributed overhead per job",
    ]  # fmt: skip
    assert set(rows[0].values) == set(rows[1].values) == {"local pool", "dask"}
    assert all(spread.median > 0 for row in rows[:2] for spread in row.values.values())
