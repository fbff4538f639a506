"""Recording hits: exact counts always, log lines de-duplicated as configured."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator

import pytest

import compat
from compat.recorder import MAX_EXAMPLES
from tests.compat.helpers import Capture, declare, gap_of


def hit_in_a_loop(gap: compat.Gap, times: int) -> None:
    """Hit ``gap`` ``times`` times from one call site (the line below)."""
    for number in range(times):
        gap.hit(path=f"/data/{number}")


def hit_elsewhere(gap: compat.Gap) -> None:
    """Hit ``gap`` from a second call site."""
    gap.hit()


def test_a_loop_logs_one_line_but_counts_every_hit(
    registry: compat.Registry, captured: Capture
) -> None:
    gap = declare(registry)
    hit_in_a_loop(gap, 1000)
    assert len(captured.records) == 1
    assert registry.report().as_dict()["gaps"][0]["count"] == 1000


def test_site_mode_logs_once_per_call_site(registry: compat.Registry, captured: Capture) -> None:
    gap = declare(registry)
    hit_in_a_loop(gap, 10)
    hit_elsewhere(gap)
    hit_in_a_loop(gap, 10)
    hit_elsewhere(gap)
    assert [record.funcName for record in captured.records] == ["hit_in_a_loop", "hit_elsewhere"]


def test_site_mode_logs_once_per_gap_at_one_site(
    registry: compat.Registry, captured: Capture
) -> None:
    first, second = declare(registry, "first"), declare(registry, "second")
    for _ in range(3):
        for gap in (first, second):
            gap.hit()
    assert [gap_of(record).id for record in captured.records] == ["first", "second"]


def test_a_site_is_a_line_not_an_instruction(registry: compat.Registry, captured: Capture) -> None:
    gap = declare(registry)
    source = "for _ in range(3):\n    gap.hit(); gap.hit(fd=1)\n"
    exec(compile(source, "<one line>", "exec"), {"gap": gap})
    assert len(captured.records) == 1
    assert registry.report().gaps[0].count == 6


def test_gap_mode_logs_once_per_gap(registry: compat.Registry, captured: Capture) -> None:
    registry.configure(dedupe="gap")
    first, second = declare(registry, "first"), declare(registry, "second")
    hit_in_a_loop(first, 5)
    hit_elsewhere(first)
    hit_elsewhere(second)
    hit_in_a_loop(second, 5)
    assert [gap_of(record).id for record in captured.records] == ["first", "second"]


def test_every_mode_logs_every_hit(registry: compat.Registry, captured: Capture) -> None:
    registry.configure(dedupe=compat.Dedupe.EVERY)
    gap = declare(registry)
    hit_in_a_loop(gap, 1000)
    assert len(captured.records) == 1000
    assert captured.records[-1].getMessage().endswith("path='/data/999']")


def test_default_mode_is_site(registry: compat.Registry) -> None:
    assert registry.dedupe is compat.Dedupe.SITE


@pytest.mark.parametrize("mode", ["every", "gap", "site"])
def test_counts_ignore_log_level_and_dedupe(
    registry: compat.Registry, captured: Capture, mode: str
) -> None:
    registry.configure(level="OFF", dedupe=mode)
    gap = declare(registry)
    hit_in_a_loop(gap, 300)
    hit_elsewhere(gap)
    assert captured.records == []
    assert registry.report().gaps[0].count == 301


def test_hits_below_the_level_do_not_use_up_the_log_line(
    registry: compat.Registry, captured: Capture
) -> None:
    gap = declare(registry, level="FINEST")
    registry.configure(level="FINE")
    hit_in_a_loop(gap, 3)
    assert captured.records == []
    registry.configure(level="FINEST")
    hit_in_a_loop(gap, 3)
    assert len(captured.records) == 1
    assert registry.report().gaps[0].count == 6


@pytest.mark.parametrize(
    ("gap_level", "logger_level", "logged"),
    [
        ("FINE", "FINE", True),
        ("FINER", "FINE", False),
        ("CONFIG", "FINE", True),
        ("SEVERE", "WARNING", True),
        ("INFO", "WARNING", False),
        ("FINEST", "ALL", True),
        ("SEVERE", "OFF", False),
    ],
)
def test_logger_level_filters_by_gap_level(
    registry: compat.Registry, captured: Capture, gap_level: str, logger_level: str, logged: bool
) -> None:
    gap = declare(registry, level=gap_level)
    registry.configure(level=logger_level)
    gap.hit()
    assert len(captured.records) == int(logged)


def test_reset_forgets_counts_and_logged_sites(
    registry: compat.Registry, captured: Capture
) -> None:
    gap = declare(registry)
    hit_in_a_loop(gap, 4)
    registry.reset()
    assert registry.report().gaps == ()
    hit_in_a_loop(gap, 2)
    assert len(captured.records) == 2
    assert registry.report().gaps[0].count == 2
    assert len(registry.view()) == 1


def test_log_record_points_at_the_call_site(registry: compat.Registry, captured: Capture) -> None:
    gap = declare(
        registry,
        "os.access.effective_ids",
        function="os.access",
        aspect="effective_ids",
        explanation="effective ids are not supported",
    )
    line = sys._getframe().f_lineno + 1
    gap.hit(path="/etc/passwd", fd=3)
    (record,) = captured.records
    assert record.name == f"{registry.root_logger.name}.os"
    assert record.levelno == compat.Level.FINE
    assert record.pathname == __file__
    assert record.lineno == line
    assert record.funcName == "test_log_record_points_at_the_call_site"
    assert record.getMessage() == (
        "os.access (effective_ids): effective ids are not supported "
        "[os.access.effective_ids, path='/etc/passwd', fd=3]"
    )
    assert gap_of(record) is gap
    assert record.__dict__["compat_details"] == {"path": "/etc/passwd", "fd": 3}


def test_records_propagate_to_python_compatibility_hierarchy(
    registry: compat.Registry, captured: Capture
) -> None:
    above = Capture()
    parent = logging.getLogger(registry.root_logger.name.rpartition(".")[0])
    parent.addHandler(above)
    try:
        registry.root_logger.propagate = True
        declare(registry).hit()
    finally:
        parent.removeHandler(above)
    assert len(above.records) == 1


@pytest.mark.parametrize("value", ["sometimes", "", None, 3, "site-ish"])
def test_configure_rejects_bad_dedupe(registry: compat.Registry, value: object) -> None:
    if value is None:
        registry.configure(dedupe=value)  # None leaves the mode alone
        assert registry.dedupe is compat.Dedupe.SITE
        return
    with pytest.raises(ValueError, match="'every', 'gap', 'site'"):
        registry.configure(dedupe=value)


def test_configure_changes_nothing_when_one_value_is_bad(registry: compat.Registry) -> None:
    registry.configure(level="INFO", dedupe="gap")
    with pytest.raises(ValueError, match="invalid log level"):
        registry.configure(level="LOUD", dedupe="every")
    with pytest.raises(ValueError, match="invalid dedupe"):
        registry.configure(level="FINE", dedupe="never")
    assert registry.root_logger.level == logging.INFO
    assert registry.dedupe is compat.Dedupe.GAP


def test_configure_accepts_any_case(registry: compat.Registry) -> None:
    registry.configure(level="finer", dedupe=" EVERY ")
    assert registry.root_logger.level == compat.Level.FINER
    assert registry.dedupe is compat.Dedupe.EVERY


def test_hit_by_id(registry: compat.Registry, captured: Capture) -> None:
    declare(registry, "by.id")
    registry.hit("by.id", path="/x")
    assert registry.report().gaps[0].examples == ((("path", "/x"),),)
    assert captured.records[0].funcName == "test_hit_by_id"


def test_hit_of_unknown_id_or_foreign_gap_is_an_error(registry: compat.Registry) -> None:
    stranger = declare(compat.Registry(logger_root="tests.compat.foreign"), "shared")
    declare(registry, "shared")
    with pytest.raises(compat.UnknownGapError, match="'nope'"):
        registry.hit("nope")
    with pytest.raises(compat.UnknownGapError, match="another registry"):
        registry.hit(stranger)
    assert registry.report().gaps == ()


def test_details_may_be_named_like_the_parameters(registry: compat.Registry) -> None:
    gap = declare(registry)
    gap.hit(self=1)
    registry.hit(gap, gap=2)
    examples = registry.report().gaps[0].examples
    assert examples == ((("self", 1),), (("gap", 2),))


def test_a_handler_that_hits_a_gap_does_not_recurse(registry: compat.Registry) -> None:
    registry.configure(level="ALL", dedupe="every")
    gap = declare(registry)

    class Reentrant(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            gap.hit(inside="handler")

    handler = Reentrant()
    registry.root_logger.addHandler(handler)
    registry.root_logger.propagate = False
    try:
        gap.hit()
        gap.hit()
    finally:
        registry.root_logger.removeHandler(handler)
    assert registry.report().gaps[0].count == 4


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads as often as possible, so races show up in a short test."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("fast_switching")
def test_counting_is_exact_across_threads(registry: compat.Registry, captured: Capture) -> None:
    gap = declare(registry)
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(10_000):
            gap.hit()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entry = registry.report().gaps[0]
    assert entry.count == 80_000
    assert entry.first_site is not None
    assert entry.first_site.function == "worker"
    assert len(captured.records) == 1


@pytest.mark.usefixtures("fast_switching")
def test_every_mode_logs_exactly_once_per_hit_across_threads(
    registry: compat.Registry, captured: Capture
) -> None:
    registry.configure(dedupe="every")
    gap = declare(registry)
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        for _ in range(250):
            gap.hit()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(captured.records) == 1000
    assert registry.report().gaps[0].count == 1000


@pytest.mark.usefixtures("fast_switching")
def test_threads_hitting_many_gaps_keep_separate_exact_counts(registry: compat.Registry) -> None:
    gaps = [declare(registry, f"gap{number}") for number in range(4)]
    barrier = threading.Barrier(8)

    def worker(offset: int) -> None:
        barrier.wait()
        for number in range(4_000):
            gaps[(number + offset) % 4].hit(n=number % 7)

    threads = [threading.Thread(target=worker, args=(offset,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = registry.report()
    assert [entry.count for entry in report.gaps] == [8_000] * 4
    assert all(len(entry.examples) == MAX_EXAMPLES for entry in report.gaps)


def test_a_reset_during_a_hit_still_records_its_call_site(registry: compat.Registry) -> None:
    gap = declare(registry)
    gap.hit()

    class ResetsWhenShown:
        """A detail whose repr (taken between the level check and the count) resets."""

        def __repr__(self) -> str:
            registry.reset()
            return "ResetsWhenShown()"

    line = sys._getframe().f_lineno + 1
    gap.hit(detail=ResetsWhenShown())
    entry = registry.report().gaps[0]
    assert entry.count == 1
    assert entry.first_site == compat.CallSite(
        __file__, line, "test_a_reset_during_a_hit_still_records_its_call_site"
    )
    assert entry.examples == ((("detail", "ResetsWhenShown()"),),)


def test_first_site_is_recorded_while_logging_is_off(registry: compat.Registry) -> None:
    registry.configure(level="OFF")
    gap = declare(registry)
    hit_elsewhere(gap)
    hit_in_a_loop(gap, 3)
    site = registry.report().gaps[0].first_site
    assert site is not None
    assert site.function == "hit_elsewhere"
