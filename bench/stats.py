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


def steady_rate(arrivals_ns: Sequence[int], skip: int) -> float | None:
    """Events per second from the event after the first ``skip`` of ``arrivals_ns``
    (perf_counter_ns values, any order) to the last: the rate once a run has its window of
    calls in flight, without its ramp (with 20 ms handlers no answer can come in the first
    20 ms of a run, whatever the client).

    ``None`` when fewer than three events are left (too short a run to tell).
    """
    ordered = sorted(arrivals_ns)
    last = len(ordered) - 1
    if skip < 0 or last - skip < 2:
        return None
    span_ns = ordered[last] - ordered[skip]
    return (last - skip) / (span_ns / 1e9) if span_ns > 0 else None
