"""In-process micro benchmarks; the harness runs each in a fresh subprocess.

``python -m bench.micro decode --frames N --reps R`` times decode + route of N recorded-shape
frames, the SDK's functions and a raw ``json.loads`` loop alternating; ``python -m bench.micro
memory --kind sdk|raw --registries N --skills K`` measures RSS growth. Each prints one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable

import msgspec

from bench.frames import TOOL_CALL_TYPE, FrameFactory, thread_id_for
from bench.sdk_adapters import SdkUnavailableError, sdk_decode_router, sdk_registries


class DecodeResult(msgspec.Struct, frozen=True):
    """Frames per second of each repetition, alternating raw and SDK."""

    frames: int
    raw_fps: list[float]
    sdk_fps: list[float]
    sdk_tool_calls_routed: int
    sdk_unavailable: str = ""


class MemoryResult(msgspec.Struct, frozen=True):
    """RSS growth of building ``registries`` registries of ``skills`` skills each."""

    kind: str
    registries: int
    skills: int
    rss_growth_bytes: int
    unavailable: str = ""


def _raw_router(frames_seen: list[int]) -> Callable[[str], None]:
    """What a hand-written reader loop does: parse, then dispatch on the event type."""

    def on_tool_call(frame: dict[str, object]) -> None:
        frames_seen[0] += 1

    routes: dict[str, Callable[[dict[str, object]], None]] = {TOOL_CALL_TYPE: on_tool_call}

    def route(text: str) -> None:
        frame = json.loads(text)
        if isinstance(frame, dict):
            kind = frame.get("type")
            handler = routes.get(kind) if isinstance(kind, str) else None
            if handler is not None:
                handler(frame)

    return route


def _time_loop(route: Callable[[str], None], frames: list[str]) -> float:
    gc.collect()
    start = time.perf_counter()
    for text in frames:
        route(text)
    return len(frames) / (time.perf_counter() - start)


def run_decode(n_frames: int, reps: int) -> DecodeResult:
    """Decode + route ``n_frames`` frames ``reps`` times per implementation, alternating."""
    threads = [thread_id_for(i, 99) for i in range(50)]
    frames = FrameFactory().decode_corpus(n_frames, thread_ids=threads)
    raw_seen = [0]
    raw = _raw_router(raw_seen)
    try:
        sdk, sdk_count = sdk_decode_router()
        unavailable = ""
    except SdkUnavailableError as exc:
        sdk, sdk_count, unavailable = None, None, str(exc)
    raw_fps: list[float] = []
    sdk_fps: list[float] = []
    # One untimed pass each: warms caches (e.g. method normalization) as a running stream would.
    _time_loop(raw, frames[: n_frames // 10])
    if sdk is not None:
        _time_loop(sdk, frames[: n_frames // 10])
    for _ in range(reps):
        raw_fps.append(_time_loop(raw, frames))
        if sdk is not None:
            sdk_fps.append(_time_loop(sdk, frames))
    return DecodeResult(
        frames=n_frames,
        raw_fps=raw_fps,
        sdk_fps=sdk_fps,
        sdk_tool_calls_routed=sdk_count() if sdk_count is not None else 0,
        sdk_unavailable=unavailable,
    )


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            resident_pages = int(statm.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        # No procfs (macOS): peak RSS, which tracks growth here since nothing is freed meanwhile.
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def _raw_registries(count: int, skills: int) -> list[object]:
    """Baseline: per registry, a dict of name -> (handler, schema), the schemas made once and
    shared by every registry (as the SDK shares them): the least a registry can hold."""
    from bench.clients.common import lookup_ticket

    schemas: list[dict[str, object]] = [
        {
            "type": "object",
            "properties": {"ticket_id": {"type": "string", "description": f"Ticket {k}"}},
            "required": ["ticket_id"],
        }
        for k in range(skills)
    ]
    out: list[object] = []
    for _ in range(count):
        registry: dict[str, tuple[object, dict[str, object]]] = {}
        for k in range(skills):
            registry[f"skill_{k}"] = (lookup_ticket, schemas[k])
        out.append(registry)
    return out


def run_memory(kind: str, count: int, skills: int) -> MemoryResult:
    """RSS growth of ``count`` registries (one built first, untimed, to load code and caches)."""
    build: Callable[[int, int], list[object]]
    if kind == "raw":
        build = _raw_registries
    else:
        try:
            build = sdk_registries()
        except SdkUnavailableError as exc:
            return MemoryResult(kind, count, skills, 0, unavailable=str(exc))
    warm = build(2, skills)
    gc.collect()
    before = _rss_bytes()
    kept = build(count, skills)
    gc.collect()
    growth = _rss_bytes() - before
    del warm, kept
    return MemoryResult(kind, count, skills, growth)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run one micro benchmark and print its JSON result."""
    parser = argparse.ArgumentParser(prog="python -m bench.micro")
    sub = parser.add_subparsers(dest="what", required=True)
    decode = sub.add_parser("decode")
    decode.add_argument("--frames", type=int, default=100_000)
    decode.add_argument("--reps", type=int, default=5)
    memory = sub.add_parser("memory")
    memory.add_argument("--kind", choices=["sdk", "raw"], required=True)
    memory.add_argument("--registries", type=int, default=1000)
    memory.add_argument("--skills", type=int, default=5)
    args = parser.parse_args(argv)
    result: DecodeResult | MemoryResult
    if args.what == "decode":
        result = run_decode(args.frames, args.reps)
    else:
        result = run_memory(args.kind, args.registries, args.skills)
    sys.stdout.write(msgspec.json.encode(result).decode() + "\n")


if __name__ == "__main__":
    main()
