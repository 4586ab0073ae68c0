"""Figures from latencies: rate, percentiles, errors; and the table they are printed in."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of ``values`` (seconds), ``share`` in [0, 100]."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Figure:
    """One measured line: what, how many per second, latency percentiles (ms), errors, RSS."""

    scenario: str
    step: str
    count: int
    rate: float  # per second
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    rss_mib: float | None = None  # peak server RSS (all processes), when a server is measured
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def figure(
    scenario: str,
    step: str,
    latencies: list[float],
    elapsed: float,
    errors: int = 0,
    **extra: Any,
) -> Figure:
    def ms(share: float) -> float:
        return round(1000 * percentile(latencies, share), 2)

    rate = len(latencies) / elapsed if elapsed else math.nan
    return Figure(
        scenario, step, len(latencies), round(rate, 1), ms(50), ms(95), ms(99), errors, **extra
    )


HEADER = ("scenario", "step", "n", "per s", "p50 ms", "p95 ms", "p99 ms", "err", "RSS MiB", "note")


def table(figures: list[Figure]) -> str:
    """A Markdown table (what docs/performance.md shows)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for f in figures:
        rss = "" if f.rss_mib is None else f"{f.rss_mib:.0f}"
        cells = (f.scenario, f.step, f.count, f.rate, f.p50_ms, f.p95_ms, f.p99_ms, f.errors)
        lines.append("| " + " | ".join(str(c) for c in (*cells, rss, f.note)) + " |")
    return "\n".join(lines)
