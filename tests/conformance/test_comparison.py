"""Java runs measured against native ones."""

from __future__ import annotations

from posixbackend.conformance.comparison import compare, compare_all
from posixbackend.conformance.modes import Mode
from posixbackend.conformance.results import Outcome, RunStatus
from tests.conformance.builders import E, F, P, S, run


def test_failures_are_native_passes_that_do_not_pass_on_java():
    native = run(
        "test_a",
        Mode.NATIVE,
        {
            "T.ok": P,
            "T.fails": P,
            "T.skips": P,
            "T.gone": P,
            "T.bad": F,
            "T.xfail": Outcome.EXPECTED_FAILURE,
        },
    )
    java = run(
        "test_a",
        Mode.HOST,
        {"T.ok": P, "T.fails": E, "T.skips": S, "T.bad": E, "T.xfail": Outcome.EXPECTED_FAILURE},
    )
    comparison = compare([native, java], Mode.HOST)
    assert comparison.native_passing == 5
    assert comparison.java_passing == 2
    assert sorted(comparison.failures) == [
        "test.test_a.T.fails",
        "test.test_a.T.gone",
        "test.test_a.T.skips",
    ]
    gone = comparison.failures["test.test_a.T.gone"]
    assert (gone.native, gone.java) == (Outcome.PASSED, None)
    assert gone.description == "did not run"
    assert comparison.failures["test.test_a.T.fails"].description == "error: error detail"
    assert comparison.percent == 40.0
    assert not comparison.target_met


def test_a_crashed_run_charges_its_message_to_the_tests_it_never_ran():
    native = run("test_a", Mode.NATIVE, {"T.a": P, "T.b": P})
    java = run("test_a", Mode.MEMORY, {"T.a": P}, RunStatus.CRASHED, "killed by SIGSEGV")
    failure = compare([native, java], Mode.MEMORY).failures["test.test_a.T.b"]
    assert failure.description == "did not run: killed by SIGSEGV"


def test_java_only_fixture_errors_are_failures_but_not_in_the_share():
    holder = "tearDownClass (test.test_a.T)"
    native = run("test_a", Mode.NATIVE, {"T.a": P})
    java = run("test_a", Mode.HOST, {"T.a": P, holder: E, "setUpClass (test.test_a.U)": S})
    comparison = compare([native, java], Mode.HOST)
    assert list(comparison.failures) == [holder]
    assert comparison.failures[holder].native is None
    assert (comparison.native_passing, comparison.java_passing) == (1, 1)
    assert comparison.percent == 100.0


def test_targets_per_mode_and_modules_are_summed():
    runs = [
        run("test_a", Mode.NATIVE, {f"T.t{n}": P for n in range(20)}),
        run("test_b", Mode.NATIVE, {f"T.t{n}": P for n in range(20)}),
        run("test_a", Mode.HOST, {f"T.t{n}": P for n in range(20)}),
        run("test_b", Mode.HOST, {f"T.t{n}": P if n else F for n in range(20)}),
        run("test_a", Mode.MEMORY, {f"T.t{n}": P if n > 1 else F for n in range(20)}),
        run("test_b", Mode.MEMORY, {f"T.t{n}": P for n in range(20)}),
    ]
    comparisons = compare_all(runs, [Mode.HOST, Mode.MEMORY])
    host, memory = comparisons[Mode.HOST], comparisons[Mode.MEMORY]
    assert (host.native_passing, host.java_passing, host.percent) == (40, 39, 97.5)
    assert host.target_met
    assert (memory.percent, memory.target_met) == (95.0, True)
    runs[2] = run("test_a", Mode.HOST, {f"T.t{n}": P if n else S for n in range(20)})
    assert not compare(runs, Mode.HOST).target_met  # 38 of 40: 95% < 97%


def test_nothing_passing_natively_meets_no_target():
    comparison = compare(
        [run("test_a", Mode.NATIVE, {"T.a": F}), run("test_a", Mode.HOST, {})], Mode.HOST
    )
    assert comparison.percent is None
    assert not comparison.target_met
