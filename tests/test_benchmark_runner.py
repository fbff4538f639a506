"""``python -m benchmarks`` (issue 20): every group produces rows and JSON; nothing is timed.

Each group runs at a tiny size in a process of its own, as the runner runs it (a group
installs and uninstalls the backend's stand-ins and sets up pyfakefs's Patcher, which must not
touch this test process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from benchmarks import plots, report, runner
from benchmarks.harness import Outcome, Row, Settings, Spread, Target, paired, row_from

ROW_KEYS = {
    "group", "operation", "unit", "values", "ratios", "target", "axis", "size", "missing",
    "met", "target_text",
}  # fmt: skip
SPREAD_KEYS = {"median", "low", "high", "q1", "q3"}
TINY = "Settings(rounds=1, number_scale=0.001, size_scale=0.001)"


def run_tiny(group: str) -> dict[str, Any]:
    """The group's outcome as JSON, run by its module's ``run`` at a tiny size elsewhere."""
    code = (
        "import json, importlib; from benchmarks.harness import Settings; "
        f"module = importlib.import_module('benchmarks.group_{group}'); "
        f"print(json.dumps(module.run({TINY}).to_json()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return data


def check_rows(data: dict[str, Any], group: str) -> list[Row]:
    assert data["rows"], data
    rows = []
    for item in data["rows"]:
        assert set(item) == ROW_KEYS
        assert item["group"] == group
        for spread in (*item["values"].values(), *item["ratios"].values()):
            assert set(spread) == SPREAD_KEYS
            assert spread["low"] <= spread["median"] <= spread["high"]
        assert "managed" in item["values"] or "managed" in item["missing"]
        row = Row.from_json(item)
        assert row.to_json() == item  # the JSON form holds the whole row
        rows.append(row)
    return rows


def test_ops_group_measures_every_operation_of_the_table_on_every_contender() -> None:
    rows = check_rows(run_tiny("ops"), "ops")
    names = [row.operation for row in rows]
    for word in ("os.stat", "exists hit", "exists miss", "listdir", "scandir", "text 1 KiB",
                 "'rb').read() 1 MiB", "write()", "makedirs", "rename", "unlink", "glob",
                 "copytree", "tarfile", "zipfile", "os.walk"):  # fmt: skip
        assert any(word in name for name in names), word
    for row in rows:
        assert set(row.values) == {"native", "managed", "pyfakefs", "pyfilesystem2"}
        assert set(row.ratios) == {"managed", "pyfakefs", "pyfilesystem2"}
        assert row.target == Target(1.0) and row.met is not None


def test_scale_group_gives_curves_and_memory_rows() -> None:
    rows = check_rows(run_tiny("scale"), "scale")
    axes = {row.axis for row in rows}
    assert {"files", "entries", "MiB"} <= axes
    memory = [row for row in rows if row.unit == "B/file"]
    assert len(memory) == 1 and memory[0].values["managed"].median > 0
    assert memory[0].missing["native"].startswith("n/a")
    resident = [row for row in rows if row.operation == "peak RSS growth / file size"]
    assert resident and "native" in resident[0].values and not resident[0].ratios


def test_threads_group_gives_throughput_per_thread_count_and_p99() -> None:
    rows = check_rows(run_tiny("threads"), "threads")
    assert sorted(row.size or 0 for row in rows if row.axis == "threads") == [1, 2, 4, 8]
    assert any("p99 while another thread lists" in row.operation for row in rows)


def test_blocks_group_gives_block_and_stand_in_rows() -> None:
    rows = check_rows(run_tiny("blocks"), "blocks")
    assert "lone block" in rows[0].operation and rows[0].target == Target(5000, on_ratio=False)
    assert any("after install()" in row.operation for row in rows)


def test_the_runner_runs_a_group_in_a_child_and_writes_json(tmp_path: Any) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "startup", "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "== startup" in done.stdout and f"results written to {out}" in done.stdout
    document = json.loads(out.read_text())
    assert set(document) == {"meta", "groups"} and document["meta"]["settings"]["rounds"] == 3
    assert document["meta"]["native"].startswith("real os on tmpfs under /")
    startup = document["groups"]["startup"]
    assert startup["rows"] or startup["notes"]


def test_plotting_without_matplotlib_names_the_extra(monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    with pytest.raises(plots.MissingExtra, match=r"posixbackend\[plot\]"):
        plots.require_matplotlib()
    with pytest.raises(SystemExit) as exit_info:  # before any group runs
        runner.main(["ops", "--plot", "somewhere"])
    assert exit_info.value.code == 2
    assert "pip install 'posixbackend[plot]'" in capsys.readouterr().err


def curve_rows() -> list[Row]:
    return [
        row_from("scale", "os.stat, distinct paths", {"native": [1.0, 2.0], "managed": [2.0, 2.0]},
                 target=Target(1.0), axis="files", size=size)
        for size in (10, 100)
    ]  # fmt: skip


def test_plots_are_drawn_as_png_and_svg(tmp_path: Any) -> None:
    pytest.importorskip("matplotlib")
    written = plots.draw(curve_rows(), str(tmp_path))
    assert sorted(os.path.basename(path) for path in written) == [
        "scale-os-stat-distinct-paths.png", "scale-os-stat-distinct-paths.svg",
    ]  # fmt: skip
    assert all(os.path.getsize(path) > 0 for path in written)


def test_plots_are_redrawn_from_a_saved_results_file(tmp_path: Any, capsys: Any) -> None:
    """``python -m benchmarks.plots RESULTS DIR --only NAME``: the named curves only, the same
    bytes each time (the README's figure is redrawn this way); an unmatched name is an error."""
    pytest.importorskip("matplotlib")
    other = [
        row_from("scale", "os.scandir + is_file, per entry", {"native": [1.0], "managed": [1.0]},
                 target=Target(1.0), axis="entries", size=size)
        for size in (10, 100)
    ]  # fmt: skip (a second curve, which --only leaves out)
    results = str(tmp_path / "results.json")
    report.write_json(results, [Outcome("scale", [*curve_rows(), *other])], {})
    figures = tmp_path / "figures"
    assert plots.main([results, str(figures), "--only", "stat-distinct"]) == 0
    names = sorted(os.listdir(figures))
    assert names == ["scale-os-stat-distinct-paths.png", "scale-os-stat-distinct-paths.svg"]
    first = (figures / names[1]).read_bytes()
    assert b"<dc:date>" not in first
    assert plots.main([results, str(figures), "--only", "stat-distinct"]) == 0
    assert (figures / names[1]).read_bytes() == first
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        plots.main([results, str(figures), "--only", "no-such-curve"])
    assert exit_info.value.code == 2
    assert "no curve in" in capsys.readouterr().err


def test_rows_give_ratios_per_round_and_verdicts() -> None:
    row = curve_rows()[0]
    assert row.ratios["managed"] == Spread(1.5, 1.0, 2.0, 1.25, 1.75)
    assert row.met is False  # median 1.5x against <= 1x
    at_least = Target(0.9, at_most=False)
    assert at_least.met(0.95) and not at_least.met(0.5) and at_least.text("ops/s") == ">= 0.9x"
    text = report.table(Outcome("scale", [row], ["a note"]))
    assert "1.50x [1.00-2.00]" in text and "NOT MET" in text and "note: a note" in text
    assert "| scale | os.stat, distinct paths @ 10 files | 1.50x" in report.markdown(
        [Outcome("scale", [row])]
    )


def test_paired_rounds_alternate_the_order_and_drop_the_warm_up() -> None:
    calls: list[str] = []

    def batch(name: str) -> Callable[[], float]:
        def call() -> float:
            calls.append(name)
            return float(len(calls))

        return call

    samples = paired({"native": batch("native"), "managed": batch("managed")}, rounds=2)
    assert calls == ["native", "managed", "managed", "native", "native", "managed"]
    assert samples == {"native": [4.0, 5.0], "managed": [3.0, 6.0]}


def test_settings_scale_sizes_and_batches_with_floors() -> None:
    quick = Settings.quick()
    assert quick.number(1000) == 100 and quick.size(10_000) == 1000
    assert Settings(number_scale=0.0001).number(10) == 1 and Settings(size_scale=0).size(5) == 2
