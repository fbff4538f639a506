"""A one-line progress bar for the batch command: done/total, rate, failures, time left.

Drawn on a terminal only (the caller decides; :func:`for_stream` asks ``isatty``), redrawn in
place with a carriage return at most every ``interval`` seconds and once at the end, then left
on its own line, so it never mixes into results piped elsewhere.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 24


class Progress:
    """Counts finished jobs and failures and redraws the bar on ``stream``."""

    def __init__(
        self,
        total: int,
        stream: TextIO,
        *,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self._stream = stream
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._drawn = -interval

    def advance(self, *, failed: bool) -> None:
        """One more job finished (``failed``: not with status ok)."""
        self.done += 1
        self.failed += failed
        now = self._clock()
        if now - self._drawn >= self._interval or self.done == self.total:
            self._draw(now)

    def close(self) -> None:
        """Draw the final state and end the line."""
        self._draw(self._clock())
        self._stream.write("\n")
        self._stream.flush()

    def line(self, now: float) -> str:
        """The bar as it reads at ``now``: ``[#####.....] 12/40  3.1/s  2 failed  ETA 0:09``."""
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        filled = BAR_WIDTH * self.done // self.total if self.total else BAR_WIDTH
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        left = self.total - self.done
        if left == 0:
            eta = f"took {_clock_time(elapsed)}"
        elif rate > 0:
            eta = f"ETA {_clock_time(left / rate)}"
        else:
            eta = "ETA ?"
        return f"[{bar}] {self.done}/{self.total}  {rate:.1f}/s  {self.failed} failed  {eta}"

    def _draw(self, now: float) -> None:
        self._drawn = now
        width = shutil.get_terminal_size().columns
        text = self.line(now)[: max(width - 1, 10)]
        self._stream.write(f"\r{text}\x1b[K")  # the rest of the old line erased
        self._stream.flush()


def _clock_time(seconds: float) -> str:
    """``seconds`` as H:MM:SS, or M:SS under an hour."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def for_stream(total: int, stream: TextIO | None) -> Progress | None:
    """A progress bar on ``stream`` when it is a terminal; None otherwise."""
    if stream is None or not stream.isatty():
        return None
    return Progress(total, stream)
