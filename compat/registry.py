"""The registry of known gaps: declared once, hit anywhere, reported at the end.

A :class:`Registry` is the single source of the log messages, the report and the documentation
table. The package's module-level functions use one default registry; tests make their own so
throwaway gaps never reach the default one.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Final

from compat.callsite import DEFAULT_PACKAGES, InternalFrames
from compat.gap import Gap
from compat.levels import parse_level
from compat.recorder import Dedupe, Recorder, parse_dedupe
from compat.report import GapReport, Report, host_path, resolve_report_format, write_report

__all__ = [
    "DEFAULT_LOGGER_ROOT",
    "DuplicateGapError",
    "Registry",
    "RegistryView",
    "UnknownGapError",
]

DEFAULT_LOGGER_ROOT: Final = "python.compatibility"
"""The logger every gap of the default registry logs under (``<root>.<module>``)."""

_LOGGER_NAME: Final = re.compile(r"[\w-]+(\.[\w-]+)*")


class DuplicateGapError(ValueError):
    """A gap id was declared a second time."""


class UnknownGapError(LookupError):
    """No gap with that id is declared in the registry (not a KeyError, on purpose)."""


class RegistryView:
    """A read-only, live view of a registry's declarations.

    Iterating gives the gaps in declaration order. :meth:`get` returns None for an unknown id,
    :meth:`require` raises :class:`UnknownGapError`.
    """

    __slots__ = ("_registry",)

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def __iter__(self) -> Iterator[Gap]:
        return iter(self._registry.declared())

    def __len__(self) -> int:
        return len(self._registry.declared())

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Gap):
            return self.get(item.id) is item
        return isinstance(item, str) and self.get(item) is not None

    def __repr__(self) -> str:
        return f"<RegistryView of {len(self)} gaps>"

    def get(self, gap_id: str) -> Gap | None:
        """Return the gap declared with ``gap_id``, or None."""
        return self._registry.get(gap_id)

    def require(self, gap_id: str) -> Gap:
        """Return the gap declared with ``gap_id``; raise :class:`UnknownGapError` if none."""
        return self._registry.require(gap_id)


class Registry:
    """Declared gaps plus what was recorded about them; thread safe."""

    def __init__(
        self,
        *,
        logger_root: str = DEFAULT_LOGGER_ROOT,
        internal_packages: Iterable[str] = DEFAULT_PACKAGES,
    ) -> None:
        if not isinstance(logger_root, str) or not _LOGGER_NAME.fullmatch(logger_root):
            raise ValueError(f"invalid logger root {logger_root!r}: use a dotted logger name")
        self._lock = threading.Lock()
        self._gaps: dict[str, Gap] = {}
        self._recorder = Recorder(InternalFrames(internal_packages), logger_root)
        self._exit_hook: Callable[[], None] | None = None

    # Declarations -------------------------------------------------------------------------

    def declare(
        self, *, id: str, function: str, aspect: str, level: object, explanation: str
    ) -> Gap:
        """Declare a gap once; a second declaration of the same id raises DuplicateGapError,
        unless it says exactly the same, which returns the first gap (a module whose first
        import was interrupted after its declarations must import again).

        ``level`` is anything :func:`compat.parse_level` accepts that names one of the seven Java
        levels. Wrong types raise TypeError, bad values ValueError.
        """
        gap = Gap(id, function, aspect, level, explanation, recorder=self._recorder)
        with self._lock:
            earlier = self._gaps.get(gap.id)
            if earlier is not None and earlier == gap:
                return earlier
            if earlier is not None:
                raise DuplicateGapError(
                    f"gap {gap.id!r} is already declared "
                    f"(function {earlier.function!r}, aspect {earlier.aspect!r})"
                )
            self._gaps[gap.id] = gap
        return gap

    def declared(self) -> tuple[Gap, ...]:
        """Return the gaps in declaration order."""
        with self._lock:
            return tuple(self._gaps.values())

    def get(self, gap_id: str) -> Gap | None:
        """Return the gap declared with ``gap_id``, or None."""
        with self._lock:
            return self._gaps.get(gap_id)

    def require(self, gap_id: str) -> Gap:
        """Return the gap declared with ``gap_id``; raise :class:`UnknownGapError` if none."""
        gap = self.get(gap_id)
        if gap is None:
            raise UnknownGapError(f"no gap {gap_id!r} is declared")
        return gap

    def view(self) -> RegistryView:
        """Return a read-only view of the declarations."""
        return RegistryView(self)

    # Hits ---------------------------------------------------------------------------------

    def hit(self, gap: Gap | str, /, **details: object) -> None:
        """Record a hit of a gap given as a :class:`Gap` of this registry or by id."""
        declared = self.require(gap.id if isinstance(gap, Gap) else gap)
        if isinstance(gap, Gap) and declared is not gap:
            raise UnknownGapError(f"gap {gap.id!r} belongs to another registry")
        self._recorder.record(declared, details)

    def configure(self, *, level: object = None, dedupe: object = None) -> None:
        """Set the level of the root compatibility logger and the de-duplication mode.

        ``None`` leaves a setting alone. ``level`` is anything :func:`compat.parse_level`
        accepts; ``dedupe`` is 'every', 'gap' or 'site'. Bad values raise ValueError before
        anything changes.
        """
        number = None if level is None else parse_level(level)
        mode = None if dedupe is None else parse_dedupe(dedupe)
        if number is not None:
            self.root_logger.setLevel(number)
        if mode is not None:
            self._recorder.dedupe = mode

    @property
    def dedupe(self) -> Dedupe:
        """The current de-duplication mode."""
        return self._recorder.dedupe

    @property
    def root_logger(self) -> logging.Logger:
        """The logger all gaps log under; :meth:`configure` sets its level."""
        return logging.getLogger(self._recorder.logger_root)

    def reset(self) -> None:
        """Forget counts, call sites, examples and de-duplication state; keep declarations."""
        self._recorder.reset()

    # Call sites ---------------------------------------------------------------------------

    def add_internal_path(self, path: str | os.PathLike[str]) -> None:
        """Skip frames of code under ``path`` when finding call sites."""
        self._recorder.internal.add_path(path)

    def remove_internal_path(self, path: str | os.PathLike[str]) -> None:
        """Undo :meth:`add_internal_path`."""
        self._recorder.internal.remove_path(path)

    def add_internal_module(self, name: str) -> None:
        """Skip frames of a module or package (ModuleNotFoundError if it cannot be found)."""
        self._recorder.internal.add_module(name)

    def remove_internal_module(self, name: str) -> None:
        """Undo :meth:`add_internal_module`."""
        self._recorder.internal.remove_module(name)

    def internal_paths(self) -> frozenset[str]:
        """Return the canonical paths whose frames are skipped."""
        return self._recorder.internal.paths()

    # Report -------------------------------------------------------------------------------

    def report(self) -> Report:
        """Return a snapshot of what was hit so far."""
        stats = self._recorder.snapshot()
        gaps = self.declared()
        entries = tuple(
            GapReport.from_stats(gap, stats[gap.id], self._recorder.logger(gap).name)
            for gap in sorted(gaps, key=lambda gap: gap.id)
            if gap.id in stats
        )
        return Report(entries, len(gaps), self._recorder.logger_root, self.dedupe.value)

    def write_report_at_exit(
        self, target: str | os.PathLike[str] | None, format: str | None = None
    ) -> None:
        """Write the report at interpreter exit to a file, or to stderr for '-'.

        Replaces an earlier registration; ``None`` cancels it. ``format`` is 'text' or 'json';
        by default files named ``*.json`` get JSON and everything else text. A relative path
        is resolved now, against the process's working directory.
        """
        hook = None if target is None else self._exit_writer(target, format)
        with self._lock:
            if self._exit_hook is not None:
                atexit.unregister(self._exit_hook)
            self._exit_hook = hook
            if hook is not None:
                atexit.register(hook)

    def _exit_writer(
        self, target: str | os.PathLike[str], format: str | None
    ) -> Callable[[], None]:
        """Return the callable that writes the report to ``target`` at exit."""
        chosen = resolve_report_format(target, format)
        destination = "-" if os.fspath(target) == "-" else host_path(target)

        def write_at_exit() -> None:
            write_report(self.report(), destination, chosen)

        return write_at_exit
