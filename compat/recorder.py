"""Recording gap hits: exact counts for the report, de-duplicated lines for the log.

Every hit is counted, whatever the log level and the de-duplication mode; only logging is
de-duplicated. The hot path takes one lock and bumps a counter; it walks the stack to the call
site only when the gap's level is enabled (to de-duplicate by site) or for a gap's first hit.
"""

from __future__ import annotations

import enum
import logging
import math
import sys
import threading
from collections.abc import Mapping
from types import CodeType, FrameType
from typing import Final, TypeAlias

import attrs

from compat.callsite import CallSite, InternalFrames
from compat.gap import Gap

__all__ = [
    "MAX_EXAMPLES",
    "Dedupe",
    "Example",
    "GapStats",
    "Recorder",
    "Scalar",
    "normalize_details",
    "parse_dedupe",
]

MAX_EXAMPLES: Final = 5
"""How many distinct detail sets the report keeps per gap."""

_MAX_TEXT: Final = 200
_INT_RANGE: Final = range(-(2**63), 2**64)

Scalar: TypeAlias = str | int | float | bool | None
Example: TypeAlias = tuple[tuple[str, Scalar], ...]
"""One hit's details, as sorted (name, JSON-safe value) pairs."""


class Dedupe(enum.Enum):
    """How often a gap is logged."""

    EVERY = "every"  #: every hit
    GAP = "gap"  #: the first hit of each gap
    SITE = "site"  #: the first hit of each gap from each call site (file and line)


def parse_dedupe(value: object) -> Dedupe:
    """Return the mode named by ``value`` (a :class:`Dedupe` or its name); else ValueError."""
    if isinstance(value, Dedupe):
        return value
    if isinstance(value, str):
        for mode in Dedupe:
            if value.strip().lower() == mode.value:
                return mode
    names = ", ".join(repr(mode.value) for mode in Dedupe)
    raise ValueError(f"invalid dedupe mode {value!r}: expected one of {names}")


def normalize_details(details: Mapping[str, object]) -> Example:
    """Turn hit details into JSON-safe, comparable pairs, sorted by name.

    Strings are clipped to 200 characters; values that are not JSON scalars become their repr
    (paths their string), so the report never holds on to callers' objects.
    """
    return tuple(sorted((str(name), _json_scalar(value)) for name, value in details.items()))


_PLAIN: Final = frozenset({str, int, bool, type(None)})
_PLAIN_KEPT: Final = 64


def _plain_key(details: Mapping[str, object]) -> tuple[tuple[str, object], ...] | None:
    """``details`` as a hashable key when every value is a plain str, int, bool or None
    (whose normalized form depends on the value alone), else None."""
    items = tuple(details.items())
    for _, value in items:
        if type(value) not in _PLAIN:
            return None
    return items


def _json_scalar(value: object) -> Scalar:
    """Return ``value`` as a JSON scalar: itself when it is one, else a short text."""
    if value is None or type(value) is bool:
        return value
    if type(value) is int:
        return value if value in _INT_RANGE else f"<int of {value.bit_length()} bits>"
    if type(value) is float:
        return value if math.isfinite(value) else repr(value)
    if type(value) is str:
        return _clip(value)
    # pathlib looked up, not imported: a path object exists only once pathlib is loaded, and
    # importing it here would put it (with urllib.parse and ipaddress) in every process that
    # records a gap -- a pool's zygote among them, where each module is copied per guest
    # (getattr and the type check: a test's fake may stand in sys.modules for pathlib)
    pure_path = getattr(sys.modules.get("pathlib"), "PurePath", None)
    if isinstance(pure_path, type) and isinstance(value, pure_path):
        return _clip(str(value))
    return _clip(_safe_repr(value))


def _safe_repr(value: object) -> str:
    """Return ``repr(value)``, or a placeholder when the object's repr fails."""
    try:
        return repr(value)
    except Exception as error:  # noqa: BLE001 - a broken __repr__ must not break the caller
        return f"<{type(value).__qualname__} object; repr raised {type(error).__name__}>"


def _clip(text: str) -> str:
    """Shorten long text so examples stay small."""
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


@attrs.frozen
class GapStats:
    """What was recorded for one gap: hits, where the first came from, example details."""

    count: int
    first_site: CallSite | None
    examples: tuple[Example, ...]


class _GapState:
    """The mutable counterpart of :class:`GapStats`, plus the gap's logger.

    Guarded by the recorder's lock; kept (and zeroed) across resets so the logger is looked up
    once per gap.
    """

    __slots__ = ("count", "examples", "first_site", "logger", "plain_seen")

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.clear()

    def clear(self) -> None:
        """Forget everything recorded."""
        self.count = 0
        self.first_site: CallSite | None = None
        self.examples: list[Example] = []
        self.plain_seen: set[tuple[tuple[str, object], ...]] = set()
        """Details (of plain values only) already turned into examples."""

    def add_example(self, example: Example) -> None:
        """Keep ``example`` if it is new and there is room."""
        if len(self.examples) < MAX_EXAMPLES and example not in self.examples:
            self.examples.append(example)

    def freeze(self) -> GapStats:
        """Return an immutable copy."""
        return GapStats(self.count, self.first_site, tuple(self.examples))


class Recorder:
    """Counts hits per gap and logs them under ``<logger_root>.<module>``, de-duplicated.

    In ``site`` mode a call site is first recognised by its code object and instruction
    offset (cheap), and only the first time by file and line (``f_lineno`` scans the code's
    line table); the code objects are kept alive so their ids stay unique.
    """

    def __init__(self, internal: InternalFrames, logger_root: str) -> None:
        self.internal = internal
        self.logger_root = logger_root
        self.dedupe = Dedupe.SITE
        # Re-entrant: a signal handler or trace function that hits a gap while its thread is
        # recording one (e.g. the memory file system's refusal of re-entry, vfs/ownedlock.py)
        # must not wait for itself forever; the nested hit is counted as any other.
        self._lock = threading.RLock()
        self._states: dict[str, _GapState] = {}
        self._logged: set[object] = set()
        self._seen_instructions: dict[tuple[str, int, int], CodeType] = {}
        self._logging = threading.local()
        self.generation = 0
        """How many times the record was reset (a caller keeping what it already reported
        knows it must report again)."""

    def record(self, gap: Gap, details: Mapping[str, object]) -> None:
        """Count one hit of ``gap`` from the caller's call site and log it if it is due.

        The stack is only walked when the call site matters: for a gap's first hit and when
        its level is enabled. Otherwise a hit is a counter increment.
        """
        state = self._states.get(gap.id) or self._new_state(gap)
        enabled = state.logger.isEnabledFor(gap.level)
        if state.count and not enabled and (not details or len(state.examples) >= MAX_EXAMPLES):
            with self._lock:  # the common hit: a count, nothing to log or keep
                if state.count:  # (unless a reset came in between)
                    state.count += 1
                    return
        located = enabled or not state.count
        frame = self.internal.find(sys._getframe(1)) if located else None
        example = None
        raw = None
        if details and len(state.examples) < MAX_EXAMPLES:
            # the same plain details as before (a loop's hits) are not normalized again
            raw = _plain_key(details)
            if raw is None or raw not in state.plain_seen:
                example = normalize_details(details)  # outside the lock: it may call __repr__
        with self._lock:
            if not state.count:
                if not located:  # a reset came in between
                    frame = self.internal.find(sys._getframe(1))
                state.first_site = _site(frame)
            state.count += 1
            if example is not None:
                state.add_example(example)
                if raw is not None and len(state.plain_seen) < _PLAIN_KEPT:
                    state.plain_seen.add(raw)
            if not (enabled and self._claim_log(gap, frame)):
                return
        self._log(state.logger, gap, frame, details)

    def logger(self, gap: Gap) -> logging.Logger:
        """Return the logger a gap logs on: ``<logger_root>.<module of its function>``."""
        state = self._states.get(gap.id) or self._new_state(gap)
        return state.logger

    def snapshot(self) -> dict[str, GapStats]:
        """Return the stats of every gap hit so far, by id."""
        with self._lock:
            return {key: state.freeze() for key, state in self._states.items() if state.count}

    def reset(self) -> None:
        """Forget counts, examples, call sites and which lines were logged."""
        with self._lock:
            for state in self._states.values():
                state.clear()
            self._logged = set()
            self._seen_instructions = {}
            self.generation += 1

    def _new_state(self, gap: Gap) -> _GapState:
        """Create a gap's state on its first hit (the logger outside the lock)."""
        logger = logging.getLogger(f"{self.logger_root}.{gap.module}")
        with self._lock:
            return self._states.setdefault(gap.id, _GapState(logger))

    def _claim_log(self, gap: Gap, frame: FrameType | None) -> bool:
        """Tell whether this hit is the one to log, and mark it logged; the lock is held.

        Hits made while this thread is logging are never logged, so a handler that hits a gap
        cannot recurse.
        """
        mode = self.dedupe
        if mode is Dedupe.SITE and frame is not None:
            code = frame.f_code
            instruction = (gap.id, id(code), frame.f_lasti)
            if instruction in self._seen_instructions:
                return False
            if self._logging_here():
                return False
            self._seen_instructions[instruction] = code
            key: object = (gap.id, code.co_filename, frame.f_lineno)
        elif mode is Dedupe.SITE:
            key = (gap.id, None, 0)
        elif mode is Dedupe.GAP:
            key = gap.id
        else:
            return not self._logging_here()
        if key in self._logged or self._logging_here():
            return False
        self._logged.add(key)
        return True

    def _logging_here(self) -> bool:
        """Tell whether this thread is inside :meth:`_log` (whose hits are not logged)."""
        return bool(getattr(self._logging, "active", False))

    def _log(
        self,
        logger: logging.Logger,
        gap: Gap,
        frame: FrameType | None,
        details: Mapping[str, object],
    ) -> None:
        """Log one hit, attributed to its call site."""
        self._logging.active = True
        try:
            logger.handle(_log_record(logger, gap, _site(frame), details))
        finally:
            self._logging.active = False


def _site(frame: FrameType | None) -> CallSite | None:
    """Describe a frame's call site, if there is a frame."""
    return None if frame is None else CallSite.from_frame(frame)


def _log_record(
    logger: logging.Logger,
    gap: Gap,
    site: CallSite | None,
    details: Mapping[str, object],
) -> logging.LogRecord:
    """Build the record for a hit, with the call site as its source location."""
    suffix = "".join(f", {name}={_clip(_safe_repr(value))}" for name, value in details.items())
    return logger.makeRecord(
        logger.name,
        gap.level,
        site.file if site else "(unknown)",
        site.line if site else 0,
        "%s [%s%s]",
        (gap.describe(), gap.id, suffix),
        None,
        func=site.function if site else None,
        extra={"compat_gap": gap, "compat_details": dict(details)},
    )
