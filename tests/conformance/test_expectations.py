"""The expectations file: its format, each rule that fails the runner, and its rewriting."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posixbackend.conformance import expectations as expected
from posixbackend.conformance.comparison import compare_all
from posixbackend.conformance.expectations import (
    UNEXPLAINED,
    Expectations,
    ExpectationsError,
    ProblemKind,
)
from posixbackend.conformance.modes import Mode
from tests.conformance.builders import E, F, P, run

GAPS = {"os.cwd.emulated", "launcher.children_on_host"}


def known(gap_id: str) -> bool:
    return gap_id in GAPS


def scenario():
    """test_a natively: ok, broken, gone, natfail pass... ; on host ok passes, broken errors,
    gone did not run, natfail fails both ways."""
    runs = [
        run("test_a", Mode.NATIVE, {"T.ok": P, "T.broken": P, "T.gone": P, "T.natfail": F}),
        run("test_a", Mode.HOST, {"T.ok": P, "T.broken": E, "T.natfail": F}),
    ]
    return runs, compare_all(runs, [Mode.HOST])


def check(entries: dict[str, str], mode: Mode = Mode.HOST):
    runs, comparisons = scenario()
    listed = Expectations(
        {
            mode: {
                f"test.test_a.{key}" if key.startswith("T.") else key: value
                for key, value in entries.items()
            }
        }
    )
    return expected.check(listed, runs, comparisons, known_gap=known)


def kinds(problems):
    return sorted((problem.kind, problem.test_id.rsplit(".", 1)[-1]) for problem in problems)


def test_expectations_that_match_the_run_hold():
    assert check({"T.broken": "bug:rmdir leaks ENOTEMPTY", "T.gone": "gap:os.cwd.emulated"}) == []


def test_an_unlisted_failure_fails():
    problems = check({"T.broken": "bug:known"})
    assert kinds(problems) == [(ProblemKind.UNLISTED_FAILURE, "gone")]
    assert problems[0].message == "did not run"
    assert str(problems[0]).startswith("host: unlisted failure: test.test_a.T.gone")


def test_a_listed_test_that_passes_fails():
    problems = check({"T.broken": "bug:x", "T.gone": "bug:y", "T.ok": "bug:was broken"})
    assert kinds(problems) == [(ProblemKind.LISTED_PASSES, "ok")]


def test_a_listed_test_that_no_longer_exists_fails():
    problems = check({"T.broken": "bug:x", "T.gone": "bug:y", "T.renamed": "bug:z"})
    assert kinds(problems) == [(ProblemKind.LISTED_NOT_RUN, "renamed")]


@pytest.mark.parametrize(
    "reason",
    ["rmdir is broken", "gap:", "bug:", "bug:   ", "fix:rmdir", "gap:no.such.gap", UNEXPLAINED],
)
def test_a_malformed_unknown_or_unexplained_reason_fails(reason):
    problems = check({"T.broken": reason, "T.gone": "bug:y"})
    assert kinds(problems) == [(ProblemKind.BAD_REASON, "broken")]


def test_a_test_failing_natively_is_not_the_runners_business():
    assert check({"T.broken": "bug:x", "T.gone": "bug:y", "T.natfail": "bug:kept"}) == []


def test_only_the_modes_and_modules_run_are_checked():
    # an entry of a module not run is not checked, whatever it says
    assert check({"T.broken": "bug:x", "T.gone": "bug:y", "test.test_b.T.x": "nonsense"}) == []
    # nor are the entries of a mode not run; host's failures are still unlisted
    problems = check({"T.anything": "nonsense"}, Mode.MEMORY)
    assert kinds(problems) == [
        (ProblemKind.UNLISTED_FAILURE, "broken"),
        (ProblemKind.UNLISTED_FAILURE, "gone"),
    ]


def test_fixture_ids_belong_to_their_module():
    modules = ["test.test_a", "test.test_ab"]
    assert expected.module_of("setUpClass (test.test_ab.T)", modules) == "test.test_ab"
    assert expected.module_of("tearDownModule (test.test_a)", modules) == "test.test_a"
    assert expected.module_of("test.test_a.T.t", modules) == "test.test_a"
    assert expected.module_of("test.test_abc.T.t", modules) is None


def test_rewriting_keeps_reasons_drops_the_stale_and_adds_unexplained():
    runs, comparisons = scenario()
    old = Expectations(
        {
            Mode.HOST: {
                "test.test_a.T.broken": "bug:kept reason",
                "test.test_a.T.ok": "bug:now passes",
                "test.test_a.T.renamed": "bug:no longer exists",
                "test.test_a.T.natfail": "bug:cannot tell",
                "test.test_b.T.other": "bug:module not run",
            },
            Mode.MEMORY: {"test.test_a.T.x": "bug:mode not run"},
        }
    )
    new = expected.updated(old, runs, comparisons)
    assert new.of(Mode.HOST) == {
        "test.test_a.T.broken": "bug:kept reason",
        "test.test_a.T.gone": UNEXPLAINED,
        "test.test_a.T.natfail": "bug:cannot tell",
        "test.test_b.T.other": "bug:module not run",
    }
    assert new.of(Mode.MEMORY) == old.of(Mode.MEMORY)
    assert kinds(expected.check(new, runs, comparisons, known_gap=known)) == [
        (ProblemKind.BAD_REASON, "gone")
    ]
    assert expected.updated(new, runs, comparisons) == new


def test_rendering_is_sorted_and_deterministic(tmp_path):
    listed = Expectations({Mode.MEMORY: {"b": "bug:2", "a": "gap:x"}, Mode.HOST: {"c": "bug:3"}})
    text = expected.render(listed)
    assert text.startswith("#")
    body = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert body == ["[host]", '"c" = "bug:3"', "[memory]", '"a" = "gap:x"', '"b" = "bug:2"']
    path = tmp_path / "expectations.toml"
    expected.write(path, listed)
    assert path.read_text(encoding="utf-8") == text
    assert expected.load(path) == listed
    assert list(tmp_path.iterdir()) == [path]


@given(
    st.dictionaries(
        st.text(st.characters(codec="utf-8"), min_size=1),
        st.text(st.characters(codec="utf-8")),
        max_size=5,
    )
)
def test_any_ids_and_reasons_survive_a_round_trip(entries):
    listed = Expectations({Mode.HOST: entries, Mode.MEMORY: {}})
    assert tomllib.loads(expected.render(listed)) == {"host": entries, "memory": {}}
    assert expected.parse(expected.render(listed)) == listed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[host\n", "not valid TOML"),
        ("[overlay]\n", "unknown table"),
        ("host = 1\n", "must be a table"),
        ('[host]\n"t" = 1\n', "must be a string"),
    ],
)
def test_malformed_files_are_refused(text, message, tmp_path):
    with pytest.raises(ExpectationsError, match=message):
        expected.parse(text)
    with pytest.raises(ExpectationsError, match="cannot read"):
        expected.load(tmp_path / "missing.toml")


def test_gaps_are_checked_against_the_backends_registry():
    assert expected.declared_gap("launcher.children_on_host")
    assert not expected.declared_gap("no.such.gap")


def test_the_committed_file_is_well_formed_and_its_gaps_are_declared():
    listed = expected.load(expected.DEFAULT_PATH)
    for mode in (Mode.HOST, Mode.MEMORY):
        for test_id, reason in listed.of(mode).items():
            assert test_id.startswith("test.") or " (test." in test_id
            if reason.startswith("gap:"):
                assert expected.declared_gap(reason[4:]), reason
    assert expected.render(listed) == expected.DEFAULT_PATH.read_text(encoding="utf-8")
