"""Small statistics: percentiles of one run, medians with ranges over repetitions."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import msgspec


class Spread(msgspec.Struct, frozen=True):
    """Median with min..max over repetitions."""

    median: float
    min: float
    max: float
    n: int

    def fmt(self, digits: int = 1) -> str:
        """``median [min..max]`` with ``digits`` decimals."""
        return f"{self.median:,.{digits}f} [{self.min:,.{digits}f}..{self.max:,.{digits}f}]"


def spread(values: Sequence[float]) -> Spread | None:
    """The median and range of ``values``; ``None`` when there are none."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    return Spread(median=statistics.median(finite), min=min(finite), max=max(finite), n=len(finite))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0..100) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Per-repetition ratios of two alternating series (ABAB... pairs up by index)."""
    return [a / b for a, b in zip(numerators, denominators, strict=False) if b > 0]


def steady_rate(arrivals_ns: Sequence[int], trim: int) -> float | None:
    """Events per second between the ``trim``-th first and the ``trim``-th last of
    ``arrivals_ns`` (perf_counter_ns values, any order): the rate once a run has filled its
    window of calls in flight and before it runs out of calls to emit.

    ``None`` when fewer than three are left from one to the other (too short a run to tell).
    """
    ordered = sorted(arrivals_ns)
    first, last = trim, len(ordered) - 1 - trim
    if trim < 0 or last - first < 2:
        return None
    span_ns = ordered[last] - ordered[first]
    return (last - first) / (span_ns / 1e9) if span_ns > 0 else None
