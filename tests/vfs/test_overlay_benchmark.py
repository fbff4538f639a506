"""The overlay benchmark keeps running and reports its target (its numbers are not judged here)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_overlay_benchmark_runs_and_reports_its_targets() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_overlay", "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "targets:" in result.stdout
    assert result.stdout.count("(target <= 1.5x)") == 3
