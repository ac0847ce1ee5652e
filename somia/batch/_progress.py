"""What a person sees while a batch runs: a progress bar on a terminal (tqdm, from the
`batch` extra), otherwise a short line on stderr every few seconds; a summary at the end."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from somia.batch._limiter import LimiterStats

__all__ = ["Progress"]

LINE_SECONDS = 5.0  # between two plain progress lines
BAR_SECONDS = 0.5  # between two refreshes of the bar's figures


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """Counts rows as they end and shows them (`on`: False shows nothing)."""

    def __init__(self, total: int, *, on: bool, stream: TextIO | None = None) -> None:
        self.total = total  # rows this run has to send
        self.done = self.failed = 0
        self._stream = stream or sys.stderr
        self._on = on
        self._started = time.monotonic()
        self._bar: Any = None
        self.interval = LINE_SECONDS
        if not on:
            self.interval = 0.0
        elif self._stream.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                print(
                    "somia batch: pip install 'somia[batch]' for a progress bar",
                    file=self._stream,
                )
            else:
                self._bar = tqdm(
                    total=total, unit="row", file=self._stream, dynamic_ncols=True, smoothing=0.05
                )
                self.interval = BAR_SECONDS

    def note(self, text: str) -> None:
        """Show one line of news (when progress is shown)."""
        if self._bar is not None:
            self._bar.write(f"somia batch: {text}", file=self._stream)
        elif self._on:
            print(f"somia batch: {text}", file=self._stream, flush=True)

    def row(self, ok: bool) -> None:
        """Count a row that ended."""
        self.done += 1
        if not ok:
            self.failed += 1
        if self._bar is not None:
            self._bar.update(1)

    def show(self, stats: LimiterStats) -> None:
        """Refresh the bar's figures, or write one progress line."""
        figures = f"concurrency {stats.limit}, {stats.throttled} throttled (429/503)"
        if stats.paused:
            figures += f", paused {stats.paused:.0f} s (Retry-After)"
        if stats.connect_failures:
            figures += f", {stats.connect_failures} failed to connect"
        if self._bar is not None:
            self._bar.set_postfix_str(f"{self.failed} failed, {figures}", refresh=True)
            return
        elapsed = time.monotonic() - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = f", about {_duration((self.total - self.done) / rate)} left" if rate else ""
        print(
            f"somia batch: {self.done}/{self.total} rows ({self.failed} failed), "
            f"{rate:.1f} rows/s, {figures}{left}",
            file=self._stream,
            flush=True,
        )

    def close(self) -> None:
        """Close the bar, if any."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
