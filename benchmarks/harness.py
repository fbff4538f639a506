"""The records and the measuring loop shared by the groups of ``python -m benchmarks``.

A group measures each operation on several contenders (native ``os`` on tmpfs, the managed
backend over a MemoryFileSystem, pyfakefs, PyFilesystem2) in paired, interleaved rounds: one
batch of each contender per round, the order reversed every other round, so that a busy
machine slows all alike. A :class:`Row` keeps every contender's value and its ratio to native,
summarised over the rounds as a :class:`Spread`, and the issue's target for it.
"""

from __future__ import annotations

import gc
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from benchmarks.bench_vfs import median_ns

NATIVE = "native"
MANAGED = "managed"
PYFAKEFS = "pyfakefs"
PYFILESYSTEM2 = "pyfilesystem2"
CONTENDERS = (NATIVE, MANAGED, PYFAKEFS, PYFILESYSTEM2)
SLOW = {PYFAKEFS: 10}
"""Contenders an order of magnitude slower get this fraction of the calls per batch (values
are per call), so that they do not take most of a run."""


def share(side: str, number: int) -> int:
    """The calls per batch of ``side`` for a batch of ``number`` calls."""
    return max(1, number // SLOW.get(side, 1))


@attrs.frozen
class Settings:
    """How long a group runs: rounds per row, and factors on batch lengths and fixture sizes
    (the defaults are the normal run; ``--quick`` and the tests shrink them)."""

    rounds: int = 7
    number_scale: float = 1.0
    size_scale: float = 1.0
    full: bool = False

    @classmethod
    def quick(cls) -> Settings:
        return cls(rounds=3, number_scale=0.1, size_scale=0.1)

    def number(self, base: int) -> int:
        """Calls per batch for an operation whose normal batch is ``base`` calls."""
        return max(1, round(base * self.number_scale))

    def size(self, base: int, least: int = 2) -> int:
        """A fixture size (files, entries, bytes...) scaled, never below ``least``."""
        return max(least, round(base * self.size_scale))


@attrs.frozen
class Spread:
    """A value over rounds: median, min..max and the quartiles."""

    median: float
    low: float
    high: float
    q1: float
    q3: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Spread:
        ordered = sorted(samples)
        if len(ordered) >= 2:
            q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        else:
            q1 = q3 = ordered[0]
        return cls(statistics.median(ordered), ordered[0], ordered[-1], q1, q3)


@attrs.frozen
class Target:
    """The issue's bound on a row: on the managed ratio to native, or on the managed value
    itself (in the row's unit), at most or at least ``limit``."""

    limit: float
    at_most: bool = True
    on_ratio: bool = True

    def met(self, value: float) -> bool:
        return value <= self.limit if self.at_most else value >= self.limit

    def text(self, unit: str) -> str:
        sign = "<=" if self.at_most else ">="
        return f"{sign} {self.limit:g}x" if self.on_ratio else f"{sign} {self.limit:g} {unit}"


@attrs.frozen
class Row:
    """One operation (at one size) measured on several contenders.

    ``values`` holds each contender's measurement in ``unit`` per round; ``ratios`` each
    non-native contender's value divided by native's of the same round. ``axis``/``size``
    place the row on a scaling curve (``files``, ``entries``, ``threads``, ``MiB``);
    ``missing`` says why a contender has no value (``n/a`` and the reason)."""

    group: str
    operation: str
    unit: str
    values: dict[str, Spread]
    ratios: dict[str, Spread]
    target: Target | None = None
    axis: str | None = None
    size: int | None = None
    missing: dict[str, str] = attrs.field(factory=dict)

    @property
    def met(self) -> bool | None:
        """Whether the managed contender meets the target (None: no target or no value)."""
        if self.target is None:
            return None
        spread = (self.ratios if self.target.on_ratio else self.values).get(MANAGED)
        return None if spread is None else self.target.met(spread.median)

    def to_json(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["met"] = self.met
        data["target_text"] = None if self.target is None else self.target.text(self.unit)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Row:
        target = data.get("target")
        return cls(
            group=data["group"],
            operation=data["operation"],
            unit=data["unit"],
            values={name: Spread(**spread) for name, spread in data["values"].items()},
            ratios={name: Spread(**spread) for name, spread in data["ratios"].items()},
            target=None if target is None else Target(**target),
            axis=data.get("axis"),
            size=data.get("size"),
            missing=dict(data.get("missing", {})),
        )


@attrs.frozen
class Outcome:
    """What one group produced: its rows, and notes (a missing module, a skipped contender)."""

    group: str
    rows: list[Row]
    notes: list[str] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"rows": [row.to_json() for row in self.rows], "notes": list(self.notes)}

    @classmethod
    def from_json(cls, group: str, data: Mapping[str, Any]) -> Outcome:
        return cls(group, [Row.from_json(row) for row in data["rows"]], list(data["notes"]))


Batch = Callable[[], float]
"""One batch of a contender: runs its calls and gives the value of the batch (ns per call,
ops/s...); any set-up it needs (entering a block, resuming a patcher) happens inside it."""


def paired(batches: Mapping[str, Batch], rounds: int) -> dict[str, list[float]]:
    """Each batch once per round, in an order reversed every other round, after a warm-up
    round that is thrown away; the values per contender, round by round."""
    samples: dict[str, list[float]] = {name: [] for name in batches}
    for index in range(rounds + 1):
        order = list(batches.items())
        if index % 2:
            order.reverse()
        for name, batch in order:
            gc.collect()
            value = batch()
            if index:
                samples[name].append(value)
    return samples


def timed(call: Callable[[], object], number: int) -> float:
    """Nanoseconds per call over one batch of ``number`` calls."""
    return median_ns(call, number, 1)


def row_from(
    group: str,
    operation: str,
    samples: Mapping[str, Sequence[float]],
    unit: str = "ns",
    *,
    target: Target | None = None,
    axis: str | None = None,
    size: int | None = None,
    missing: Mapping[str, str] | None = None,
    relative: bool = True,
) -> Row:
    """A row from paired samples: spreads of the values, and of the per-round ratios to
    native when native was measured and ``relative`` (not for a figure judged on its own
    whose native value may be 0)."""
    values = {name: Spread.of(series) for name, series in samples.items() if series}
    ratios = {}
    base = samples.get(NATIVE)
    if base and relative:
        for name, series in samples.items():
            if name != NATIVE and series:
                ratios[name] = Spread.of([v / b for v, b in zip(series, base, strict=True)])
    return Row(group, operation, unit, values, ratios, target, axis, size, dict(missing or {}))
