"""The batch command's output: whole lines, resume after a partial last line, and the
progress bar's line."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from posixbackend.isolation.progress import Progress, for_stream
from posixbackend.isolation.resultsfile import ResultsFileError, ResultSink, finished_keys


def test_lines_are_appended_whole_and_a_new_run_empties_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "out.jsonl")
    with ResultSink.to_file(path, append=False) as sink:
        sink.write({"id": "a", "stdout": "é"})
        sink.write({"id": 2})
    assert Path(path).read_text("utf-8") == '{"id": "a", "stdout": "é"}\n{"id": 2}\n'
    with ResultSink.to_file(path, append=True) as sink:
        sink.write({"id": "c"})
    assert Path(path).read_text().count("\n") == 3
    with ResultSink.to_file(path, append=False) as sink:
        sink.write({"id": "d"})
    assert Path(path).read_text() == '{"id": "d"}\n'


def test_resume_reads_the_ids_and_cuts_a_partial_last_line(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"id": "a"}\n{"id": 1}\n\n{"id": "half", "std')
    assert finished_keys(str(path)) == {'"a"', "1"}
    assert path.read_bytes() == b'{"id": "a"}\n{"id": 1}\n\n'
    assert finished_keys(str(tmp_path / "missing")) == set()


@pytest.mark.parametrize("line", [b"not json\n", b"[1]\n", b'{"no": "id"}\n'])
def test_resume_refuses_a_file_that_is_not_results_and_leaves_it_alone(
    tmp_path: Path, line: bytes
) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"id": "a"}\n' + line + b'{"id": "partial')
    with pytest.raises(ResultsFileError, match="line 2"):
        finished_keys(str(path))
    assert path.read_bytes().endswith(b'{"id": "partial')


def test_the_stream_sink_writes_to_the_descriptor_and_leaves_it_open(tmp_path: Path) -> None:
    with open(tmp_path / "out", "wb") as stream:
        stream.write(b"before\n")  # buffered: flushed before the first line
        with ResultSink.to_stream(stream) as sink:
            sink.write({"id": 1})
        stream.write(b"after\n")
    assert (tmp_path / "out").read_bytes() == b'before\n{"id": 1}\nafter\n'
    assert json.loads((tmp_path / "out").read_bytes().splitlines()[1]) == {"id": 1}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_bar_shows_done_total_rate_failures_and_eta() -> None:
    clock, stream = Clock(), io.StringIO()
    progress = Progress(10, stream, clock=clock)
    clock.now += 2.0
    for failed in (False, True, False, False):
        progress.advance(failed=failed)
    assert progress.line(clock.now) == (
        "[#########...............] 4/10  2.0/s  1 failed  ETA 0:03"
    )
    clock.now += 3.0
    for _ in range(6):
        progress.advance(failed=False)
    assert progress.line(clock.now).endswith("10/10  2.0/s  1 failed  took 0:05")
    progress.close()
    drawn = stream.getvalue()
    assert drawn.startswith("\r[") and drawn.endswith("took 0:05\x1b[K\n")


def test_the_bar_is_drawn_on_a_terminal_only() -> None:
    assert for_stream(3, io.StringIO()) is None
    assert for_stream(3, None) is None
    main, secondary = os.openpty()
    try:
        with open(secondary, "w", closefd=False) as terminal:
            assert isinstance(for_stream(3, terminal), Progress)
    finally:
        os.close(main)
        os.close(secondary)
