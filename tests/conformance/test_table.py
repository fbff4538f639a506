"""The printed report: counts per module and mode, notes, and the shares against targets."""

from __future__ import annotations

from posixbackend.conformance.comparison import compare_all
from posixbackend.conformance.modes import Mode
from posixbackend.conformance.results import Counts, Outcome, RunStatus
from posixbackend.conformance.table import COLUMNS, counts_table, report, run_notes, share_line
from tests.conformance.builders import E, F, P, S, run

MODES = (Mode.NATIVE, Mode.HOST, Mode.MEMORY)


def runs():
    return [
        run("test_a", Mode.NATIVE, {"T.a": P, "T.b": P, "T.c": S, "T.d": F}),
        run("test_a", Mode.HOST, {"T.a": P, "T.b": E, "T.c": S, "T.d": F}),
        run(
            "test_a",
            Mode.MEMORY,
            {"T.a": P, "T.b": Outcome.CRASHED},
            RunStatus.TIMEOUT,
            "timed out after 600 s",
        ),
        run("test_bb", Mode.NATIVE, {"T.a": P, "T.x": Outcome.EXPECTED_FAILURE}),
        run("test_bb", Mode.HOST, {"T.a": P, "T.x": Outcome.UNEXPECTED_SUCCESS}),
        run("test_bb", Mode.MEMORY, {"T.a": P, "T.x": Outcome.EXPECTED_FAILURE}),
    ]


def rows(text):
    """module -> the numbers of each mode, read back from the printed table."""
    table = {}
    for line in text.splitlines()[3:]:
        if line.startswith("-"):
            continue
        name, *groups = (part.strip() for part in line.split("|"))
        table[name] = [[int(value) for value in group.rstrip("*").split()] for group in groups]
    return table


def test_the_table_shows_each_runs_counts_and_the_totals():
    text = counts_table(runs(), MODES)
    header = text.splitlines()[1]
    assert header.replace("|", " ").split()[:6] == ["module", *COLUMNS]
    assert rows(text) == {
        "test_a": [[4, 2, 1, 0, 1], [4, 1, 1, 1, 1], [2, 1, 0, 1, 0]],
        "test_bb": [[2, 2, 0, 0, 0], [2, 1, 1, 0, 0], [2, 2, 0, 0, 0]],
        "total": [[6, 4, 1, 0, 1], [6, 2, 2, 1, 1], [4, 3, 0, 1, 0]],
    }
    for run_ in runs():
        assert list(run_.counts.values()) == rows(text)[run_.module][MODES.index(run_.mode)]
    assert text.splitlines()[3].endswith("*")  # the timed-out run is marked


def test_a_mode_not_run_for_a_module_shows_a_dash():
    text = counts_table(runs()[:2], MODES)
    assert text.splitlines()[3].split("|")[3].strip() == "-"


def test_notes_name_the_runs_that_did_not_complete():
    notes = run_notes(runs())
    assert (
        notes
        == "* test_a java --fs=memory: timeout: timed out after 600 s (log: /logs/test_a.log)\n"
    )


def test_share_lines_give_the_percentage_and_the_verdict():
    comparisons = compare_all(runs(), (Mode.HOST, Mode.MEMORY))
    assert share_line(comparisons[Mode.HOST]) == (
        "java --fs=host: 4 tests pass natively, 2 of them pass on java: 50.0% (target 97%: NOT met)"
    )
    assert share_line(comparisons[Mode.MEMORY]).endswith(
        "3 of them pass on java: 75.0% (target 95%: NOT met)"
    )
    text = report(runs(), MODES, comparisons)
    assert text.count("tests pass natively") == 2


def test_counts_add_up():
    assert Counts(1, 1, 0, 0, 0) + Counts(2, 0, 1, 0, 1) == Counts(3, 1, 1, 0, 1)
