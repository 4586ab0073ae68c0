"""A one-line progress report on stderr (no dependency): done/total, rate and time left."""

from __future__ import annotations

import sys
import time


def duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


class Progress:
    """Rewrites one stderr line at most every ``every`` seconds; ``close`` ends the line."""

    def __init__(self, label: str, total: int, unit: str, every: float = 1.0) -> None:
        self.label, self.total, self.unit, self.every = label, total, unit, every
        self.done = 0
        self.started = self._shown = time.perf_counter()

    def advance(self, count: int) -> None:
        self.done += count
        now = time.perf_counter()
        if now - self._shown >= self.every or self.done >= self.total:
            self._shown = now
            self._show(now)

    def _show(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate else 0.0
        share = 100 * self.done / self.total if self.total else 100.0
        sys.stderr.write(
            f"\r{self.label}: {self.done:,}/{self.total:,} {self.unit} ({share:.0f} %), "
            f"{rate:,.0f} {self.unit}/s, {duration(elapsed)} elapsed, {duration(left)} left   "
        )
        sys.stderr.flush()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def close(self) -> None:
        self._show(time.perf_counter())
        sys.stderr.write("\n")
        sys.stderr.flush()
