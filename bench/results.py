"""The shape of ``bench/results.json``."""

from __future__ import annotations

import msgspec

from bench.stats import Spread


class RunRecord(msgspec.Struct, frozen=True):
    """One client run of a wire scenario (timings measured by the server process)."""

    client: str
    variant: str
    rep: int
    status: str
    reason: str
    expected: int
    answered: int
    """Answers the server accepted (200)."""
    not_found_answers: int
    """Answers for calls already answered or unknown (404): a duplicate or late answer."""
    p50_us: float | None
    p99_us: float | None
    quiet_p50_us: float | None
    """p50 of the calls without noise frames before them."""
    noisy_p50_us: float | None
    """p50 of the calls with noise frames, measured from the first noise frame. The
    percentiles are ``None`` when no call of that kind was measured."""
    calls_per_s: float
    """Answers of the timed phase over its whole span: first timed frame -> last answer."""
    wall_s: float
    cpu_us_per_call: float | None
    """Client process CPU time per accepted answer: insensitive to other load on the machine."""
    steady_calls_per_s: float | None = None
    """Answers per second without the ramp: from the answer after the first window's worth
    (sessions x unanswered calls allowed per session) to the last. ``None`` for runs without
    a window (backlog) or too short to tell."""

    @property
    def all_answered(self) -> bool:
        """Every emitted call got an accepted answer."""
        return self.status == "ok" and self.answered == self.expected


class ScenarioResult(msgspec.Struct, frozen=True):
    """A wire scenario: its configuration and every run, in the order they ran."""

    name: str
    config: dict[str, int | str]
    runs: list[RunRecord]


class MicroResult(msgspec.Struct, frozen=True):
    """A micro benchmark's raw samples per label (``unavailable`` when it could not run)."""

    name: str
    unit: str
    samples: dict[str, list[float]]
    unavailable: dict[str, str] = {}


class Figure(msgspec.Struct, frozen=True):
    """One line of the table: an SDK figure, its same-run baseline, and the target."""

    key: str
    label: str
    unit: str
    sdk: Spread | None
    baseline_label: str
    baseline: Spread | None
    ratio: Spread | None
    """Per-repetition SDK/baseline ratios (ABAB pairs)."""
    target: str
    met: bool | None
    """``None`` when the SDK figure is unavailable or the row has no target."""
    note: str = ""


class Meta(msgspec.Struct, frozen=True):
    """Where and how the figures were measured."""

    date_utc: str
    python: str
    platform: str
    cpu: str
    cpus: int
    git_commit: str
    quick: bool
    duration_s: float
    load_average: list[float]
    """1/5/15-minute load averages at the start, then at the end: other work on the machine
    (a load above the CPU count) makes figures noisy."""
    command: str
    network_env: dict[str, str]
    """Environment settings every process of the network runs had (server and clients alike)."""
    cpu_split: dict[str, list[int]] | None = None
    """CPUs of the server and of the clients in the network runs (``None``: not split)."""


class BenchReport(msgspec.Struct, frozen=True):
    """Everything ``make bench`` measured."""

    meta: Meta
    figures: list[Figure]
    scenarios: list[ScenarioResult]
    micro: list[MicroResult]
