"""The measured scenarios: wire runs (ABAB over clients) and the micro benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from bench.clients.common import HandlerKind, StreamMode
from bench.control import PROJECT_ROOT, BenchServerProcess, Measured, child_env
from bench.installed import INSTALLED_SUFFIX, InstallFailed
from bench.micro import DecodeResult, MemoryResult
from bench.results import MicroResult, RunRecord, ScenarioResult
from bench.server import RunConfig
from bench.stats import percentile, steady_rate

CLIENTS = ("r-httpx", "r-aiohttp", "sdk-async", "sdk-sync")
"""Every wire scenario runs these, rotating the order each repetition."""
SYNC_FLOOR = ("r-sync",)
"""websockets.sync + http.client, one call at a time: what any sync client costs per call here."""
THREADED_SYNC_FLOOR = ("r-sync-threads",)
"""The same with 128 handler threads (shared-stream runs): what threads cost a sync client once
its handlers block."""


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big each scenario is (full run or ``--quick`` smoke run)."""

    reps: int
    tp_reps: int
    seq_calls: int
    seq_warmup: int
    noise_frames: int
    tp_sessions: int
    tp_calls: int
    tp_window: int
    decode_frames: int
    decode_reps: int
    import_reps: int
    memory_registries: int
    memory_skills: int
    client_timeout_s: float


FULL = Sizes(
    reps=5,
    tp_reps=5,
    seq_calls=400,
    seq_warmup=30,
    noise_frames=10,
    tp_sessions=50,
    tp_calls=40,
    tp_window=4,
    decode_frames=100_000,
    decode_reps=5,
    import_reps=9,
    memory_registries=1000,
    memory_skills=5,
    client_timeout_s=120.0,
)
QUICK = Sizes(
    reps=1,
    tp_reps=1,
    seq_calls=12,
    seq_warmup=2,
    noise_frames=10,
    tp_sessions=3,
    tp_calls=4,  # a steady rate needs three answers past the first window (3 x 2)
    tp_window=2,
    decode_frames=2_000,
    decode_reps=1,
    import_reps=1,
    memory_registries=20,
    memory_skills=5,
    client_timeout_s=30.0,
)

Progress = Callable[[str], None]

TP_WARMUP = 1
"""Warm-up calls per session before the timed phase of the throughput scenarios."""


def _rotated(items: tuple[str, ...], by: int) -> list[str]:
    k = by % len(items)
    return list(items[k:] + items[:k])


def _record(m: Measured, client: str, variant: _Variant, rep: int) -> RunRecord:
    s = m.server
    window = variant.config.window
    # Without the ramp: one window's worth of answers (the calls emitted at once when the timed
    # phase starts) left out. Backlog runs (no window: every call at once) have no steady state.
    steady = steady_rate(s.answer_ns, variant.config.sessions * window) if window > 0 else None
    lat_us = [v / 1000.0 for v in s.latencies_ns]
    quiet_us = [v / 1000.0 for v, n in zip(s.latencies_ns, s.noise_frames, strict=True) if not n]
    noisy_us = [v / 1000.0 for v, n in zip(s.noise_latencies_ns, s.noise_frames, strict=True) if n]
    span_s = (s.last_answer_ns - s.first_emit_ns) / 1e9 if s.measured_answered else 0.0
    return RunRecord(
        client=client,
        variant=variant.name,
        rep=rep,
        status=m.client.status,
        reason=m.client.reason[:2000],
        expected=s.expected,
        answered=s.answered,
        not_found_answers=s.not_found_answers,
        p50_us=percentile(lat_us, 50) if lat_us else None,
        p99_us=percentile(lat_us, 99) if lat_us else None,
        quiet_p50_us=percentile(quiet_us, 50) if quiet_us else None,
        noisy_p50_us=percentile(noisy_us, 50) if noisy_us else None,
        calls_per_s=s.measured_answered / span_s if span_s > 0 else 0.0,
        wall_s=m.client.wall_s,
        cpu_us_per_call=(
            m.client.cpu_s * 1e6 / s.measured_answered if s.measured_answered else None
        ),
        steady_calls_per_s=steady,
    )


@dataclass(frozen=True, slots=True)
class _Variant:
    name: str
    config: RunConfig
    stream_mode: StreamMode
    handler: HandlerKind
    extra_clients: tuple[str, ...] = ()
    """Clients measured in this variant only (the R-sync floor serves a few)."""


def _run_wire(
    server: BenchServerProcess,
    name: str,
    variants: list[_Variant],
    sizes: Sizes,
    config: dict[str, int | str],
    progress: Progress,
    *,
    reps: int,
    deadline: float,
) -> ScenarioResult:
    runs: list[RunRecord] = []
    for rep in range(reps):
        for variant in variants:
            for client in _rotated(CLIENTS + variant.extra_clients, rep):
                # The first repetition always completes; later ones stop at the deadline.
                if rep > 0 and time.monotonic() > deadline:
                    progress(f"  {name}: time budget spent during repetition {rep}")
                    return ScenarioResult(name=name, config=config, runs=runs)
                measured = server.measure(
                    client,
                    variant.config,
                    stream_mode=variant.stream_mode,
                    handler=variant.handler,
                    timeout_s=sizes.client_timeout_s,
                )
                record = _record(measured, client, variant, rep)
                runs.append(record)
                progress(
                    f"  {name}/{variant.name} rep {rep} {client}: {record.status} "
                    f"{record.answered}/{record.expected} p50={record.p50_us or 0:.0f}us "
                    f"{record.calls_per_s:.0f}/s cpu={record.cpu_us_per_call or 0:.0f}us/call"
                )
    return ScenarioResult(name=name, config=config, runs=runs)


def sequential(
    server: BenchServerProcess, sizes: Sizes, progress: Progress, deadline: float
) -> ScenarioResult:
    """One session, one call at a time; with and without noise frames before each call."""
    base = RunConfig(
        sessions=1,
        calls_per_session=sizes.seq_calls + sizes.seq_warmup,
        window=1,
        warmup_calls=sizes.seq_warmup,
    )
    noisy = msgspec.structs.replace(base, noise=sizes.noise_frames, noise_alternate=True)
    variants = [
        _Variant("plain", base, "shared", "trivial", SYNC_FLOOR),
        _Variant(f"noise{sizes.noise_frames}", noisy, "shared", "trivial"),
    ]
    config: dict[str, int | str] = {
        "calls_measured": sizes.seq_calls,
        "warmup_calls": sizes.seq_warmup,
        "noise_frames": sizes.noise_frames,
        "reps": sizes.reps,
    }
    return _run_wire(
        server, "sequential", variants, sizes, config, progress, reps=sizes.reps, deadline=deadline
    )


def throughput(
    server: BenchServerProcess, sizes: Sizes, progress: Progress, deadline: float
) -> ScenarioResult:
    """S sessions x C calls, a window of unanswered calls per session; shared or per-session."""
    variants: list[_Variant] = []
    for mode in ("shared", "per_session"):
        sockets = 1 if mode == "shared" else sizes.tp_sessions
        config = RunConfig(
            sessions=sizes.tp_sessions,
            calls_per_session=sizes.tp_calls + TP_WARMUP,
            window=sizes.tp_window,
            warmup_calls=TP_WARMUP,
            expect_sockets=sockets,
        )
        for handler in ("trivial", "sleep20"):
            floor: tuple[str, ...] = SYNC_FLOOR if (mode, handler) == ("shared", "trivial") else ()
            if mode == "shared":
                floor += THREADED_SYNC_FLOOR
            variants.append(_Variant(f"{mode}/{handler}", config, mode, handler, floor))
    # The backlog configuration: every call emitted at once on one shared stream, slow handler.
    backlog = RunConfig(
        sessions=sizes.tp_sessions,
        calls_per_session=sizes.tp_calls + TP_WARMUP,
        window=0,
        warmup_calls=TP_WARMUP,
    )
    variants.append(_Variant("shared/sleep20/backlog", backlog, "shared", "sleep20"))
    cfg: dict[str, int | str] = {
        "sessions": sizes.tp_sessions,
        "calls_per_session": sizes.tp_calls,
        "window_per_session": sizes.tp_window,
        "reps": sizes.tp_reps,
    }
    return _run_wire(
        server, "throughput", variants, sizes, cfg, progress, reps=sizes.tp_reps, deadline=deadline
    )


def _run_json(args: list[str], env: dict[str, str], timeout_s: float) -> bytes:
    proc = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=timeout_s,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{args} exited {proc.returncode}: {proc.stderr.decode()[-800:]}")
    return proc.stdout.strip().splitlines()[-1]


def decode(sizes: Sizes, progress: Progress) -> MicroResult:
    """Decode + route of recorded-shape frames: the SDK's functions vs a raw json loop."""
    out = _run_json(
        [
            "-m",
            "bench.micro",
            "decode",
            "--frames",
            str(sizes.decode_frames),
            "--reps",
            str(sizes.decode_reps),
        ],
        child_env(),
        300.0,
    )
    result = msgspec.json.decode(out, type=DecodeResult)
    progress(f"  decode: raw {result.raw_fps} sdk {result.sdk_fps} {result.sdk_unavailable}")
    unavailable = {"sdk": result.sdk_unavailable} if result.sdk_unavailable else {}
    return MicroResult(
        name="decode_route",
        unit="frames/s",
        samples={"raw-json": result.raw_fps, "sdk": result.sdk_fps},
        unavailable=unavailable,
    )


IMPORT_COMMANDS = {
    "python": "pass",
    "httpx": "import httpx",
    "sdk": "from codex_manager import CodexManager",
}


def import_time(
    sizes: Sizes, progress: Progress, installed: Path | InstallFailed | None = None
) -> MicroResult:
    """Wall time of ``python -c <import>`` with PYTHONDONTWRITEBYTECODE=1, alternating labels.

    Each command runs in the project's virtualenv and, when ``installed`` is an interpreter,
    in that one too (labels with :data:`INSTALLED_SUFFIX`).
    """
    env = child_env()
    env.pop("PYTHONPATH", None)  # the installed package, as a user imports it
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    interpreters: dict[str, str] = {"": sys.executable}
    unavailable: dict[str, str] = {}
    if isinstance(installed, Path):
        interpreters[INSTALLED_SUFFIX] = str(installed)
    elif isinstance(installed, InstallFailed):
        for label in IMPORT_COMMANDS:
            unavailable[label + INSTALLED_SUFFIX] = installed.reason
    samples: dict[str, list[float]] = {
        label + suffix: [] for suffix in interpreters for label in IMPORT_COMMANDS
    }
    with tempfile.TemporaryDirectory() as neutral:  # no project files importable from cwd
        for _ in range(sizes.import_reps):
            for suffix, python in interpreters.items():
                for command_label, code in IMPORT_COMMANDS.items():
                    label = command_label + suffix
                    if label in unavailable:
                        continue
                    start = time.perf_counter()
                    proc = subprocess.run(
                        [python, "-c", code],
                        capture_output=True,
                        env=env,
                        cwd=neutral,
                        check=False,
                    )
                    elapsed_ms = (time.perf_counter() - start) * 1000.0
                    if proc.returncode != 0:
                        unavailable[label] = proc.stderr.decode().strip().splitlines()[-1][:300]
                        continue
                    samples[label].append(elapsed_ms)
    progress(f"  import: { {k: [round(x) for x in v] for k, v in samples.items()} } {unavailable}")
    return MicroResult(name="import_time", unit="ms", samples=samples, unavailable=unavailable)


def memory(sizes: Sizes, progress: Progress) -> MicroResult:
    """RSS growth per 1,000 registries of 5 skills: the SDK vs plain per-registry dicts."""
    samples: dict[str, list[float]] = {"raw-dicts": [], "sdk": []}
    unavailable: dict[str, str] = {}
    scale = 1000.0 / sizes.memory_registries
    for _ in range(max(1, min(3, sizes.reps))):
        for kind, label in (("raw", "raw-dicts"), ("sdk", "sdk")):
            if label in unavailable:
                continue
            out = _run_json(
                [
                    "-m",
                    "bench.micro",
                    "memory",
                    "--kind",
                    kind,
                    "--registries",
                    str(sizes.memory_registries),
                    "--skills",
                    str(sizes.memory_skills),
                ],
                child_env(),
                300.0,
            )
            result = msgspec.json.decode(out, type=MemoryResult)
            if result.unavailable:
                unavailable[label] = result.unavailable
                continue
            samples[label].append(result.rss_growth_bytes * scale / (1024 * 1024))
    progress(f"  memory MiB/1000: {samples} {unavailable}")
    return MicroResult(name="memory", unit="MiB/1000", samples=samples, unavailable=unavailable)


def cpu_model() -> str:
    """The CPU model name, for the report."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def cpu_count() -> int:
    """CPUs usable by this process."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
