"""Outcomes, counts and the child's result stream."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posixbackend.conformance.results import Counts, Outcome, TestOutcome
from posixbackend.conformance.stream import ResultWriter, StreamError, read_stream


def test_passing_and_broken_outcomes():
    assert {outcome for outcome in Outcome if outcome.passing} == {
        Outcome.PASSED,
        Outcome.EXPECTED_FAILURE,
    }
    assert {outcome for outcome in Outcome if not outcome.passing and not outcome.broken} == {
        Outcome.SKIPPED
    }


@given(st.sampled_from(Outcome), st.sampled_from(Outcome))
def test_merge_keeps_the_worse_outcome_whatever_the_order(first, second):
    merged = first.merge(second)
    assert merged == second.merge(first)
    assert merged in (first, second)
    if first.broken or second.broken:
        assert merged.broken


def test_merged_outcome_keeps_its_detail():
    failed = TestOutcome("t", Outcome.FAILED, "AssertionError: x")
    errored = TestOutcome("t", Outcome.ERROR, "OSError: y")
    assert failed.merge(errored) == errored
    assert errored.merge(failed) == errored


def test_counts_put_each_outcome_in_its_column():
    outcomes = [TestOutcome(str(number), outcome) for number, outcome in enumerate(Outcome)]
    counts = Counts.of(outcomes)
    # passed + expected failure; unexpected success + failed; error + crashed; skipped
    assert counts == Counts(run=7, passed=2, failed=2, errors=2, skipped=1)
    assert counts + counts == Counts(14, 4, 4, 4, 2)


def write_stream(actions):
    text = io.StringIO()
    writer = ResultWriter(text)
    for action, *arguments in actions:
        getattr(writer, action)(*arguments)
    return text.getvalue()


def test_stream_round_trip_with_a_test_left_running():
    text = write_stream(
        [
            ("started", "a"),
            ("finished", TestOutcome("a", Outcome.PASSED)),
            ("finished", TestOutcome("setUpClass (m.C)", Outcome.ERROR, "E: x")),
            ("started", "b"),
        ]
    )
    contents = read_stream(io.StringIO(text))
    assert contents.outcomes == {
        "a": TestOutcome("a", Outcome.PASSED),
        "setUpClass (m.C)": TestOutcome("setUpClass (m.C)", Outcome.ERROR, "E: x"),
    }
    assert contents.running == "b"
    assert not contents.done


def test_stream_that_ended():
    text = write_stream([("started", "a"), ("finished", TestOutcome("a", Outcome.SKIPPED, "why"))])
    contents = read_stream(io.StringIO(text + write_stream([("done",)])))
    assert contents.done
    assert contents.running is None
    assert contents.outcomes["a"].detail == "why"


def test_a_cut_last_line_is_ignored_but_a_cut_middle_line_is_an_error():
    text = write_stream([("started", "a"), ("finished", TestOutcome("a", Outcome.PASSED))])
    cut = text + '{"event": "sta'
    assert read_stream(io.StringIO(cut)).outcomes.keys() == {"a"}
    with pytest.raises(StreamError, match="not a whole JSON line"):
        read_stream([*io.StringIO(cut), "\n"])


@pytest.mark.parametrize(
    "line",
    [
        "[1, 2]\n",
        '{"event": "outcome"}\n',
        '{"event": "outcome", "id": "a", "outcome": "great"}\n',
        '{"event": "finish", "id": "a"}\n',
        "not json\n",
    ],
)
def test_bad_lines_are_errors(line):
    with pytest.raises(StreamError):
        read_stream([line])


def test_an_id_reported_twice_keeps_the_worse_outcome():
    text = write_stream(
        [
            ("finished", TestOutcome("a", Outcome.PASSED)),
            ("finished", TestOutcome("a", Outcome.FAILED, "x")),
            ("finished", TestOutcome("a", Outcome.SKIPPED)),
        ]
    )
    assert read_stream(io.StringIO(text)).outcomes["a"] == TestOutcome("a", Outcome.FAILED, "x")
