"""``python -m bench``: run every scenario, print the table, write ``bench/results.json``."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from bench import scenarios
from bench.control import FIXED_MALLOC_THRESHOLDS, PROJECT_ROOT, BenchServerProcess, cpu_split
from bench.installed import installed_python
from bench.report import micro_figures, render, sequential_figures, throughput_figures
from bench.results import BenchReport, Meta

DEFAULT_OUT = Path(__file__).with_name("results.json")
WIRE_BUDGET_S = 400.0
"""Wall time allowed for the wire scenarios (the micro benchmarks take under a minute)."""
QUICK_OUT = Path(tempfile.gettempdir()) / "codex_manager_bench_quick.json"


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            check=False,
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def run(quick: bool, reps: int | None, verbose: bool) -> BenchReport:
    """Measure everything and return the report."""
    sizes = scenarios.QUICK if quick else scenarios.FULL
    if reps is not None:
        sizes = dataclasses.replace(sizes, reps=reps, tp_reps=reps)

    def progress(line: str) -> None:
        if verbose:
            print(line, file=sys.stderr, flush=True)

    started = time.perf_counter()
    load_before = os.getloadavg()
    # Later repetitions are dropped rather than overrun the 10-minute bound on a busy machine.
    wire_deadline = time.monotonic() + WIRE_BUDGET_S
    split = cpu_split()
    with BenchServerProcess(split) as server:
        progress("sequential latency ...")
        seq = scenarios.sequential(server, sizes, progress, wire_deadline - WIRE_BUDGET_S * 0.7)
        progress("throughput ...")
        tp = scenarios.throughput(server, sizes, progress, wire_deadline)
    progress("decode + route ...")
    decode = scenarios.decode(sizes, progress)
    if quick:
        progress("import time (project virtualenv only: a quick run installs nothing) ...")
        imports = scenarios.import_time(sizes, progress)
    else:
        progress("import time: installing the SDK into a fresh virtualenv ...")
        with installed_python() as installed:
            imports = scenarios.import_time(sizes, progress, installed)
    progress("memory ...")
    memory = scenarios.memory(sizes, progress)
    figures = [
        *sequential_figures(seq),
        *throughput_figures(tp),
        *micro_figures(decode, imports, memory),
    ]
    meta = Meta(
        date_utc=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        python=platform.python_version(),
        platform=platform.platform(),
        cpu=scenarios.cpu_model(),
        cpus=scenarios.cpu_count(),
        git_commit=_git_commit(),
        quick=quick,
        duration_s=time.perf_counter() - started,
        load_average=[round(x, 2) for x in (*load_before, *os.getloadavg())],
        command="python -m bench" + (" --quick" if quick else ""),
        network_env=dict(FIXED_MALLOC_THRESHOLDS),
        cpu_split=None
        if split is None
        else {"server": sorted(split.server), "clients": sorted(split.clients)},
    )
    return BenchReport(
        meta=meta, figures=figures, scenarios=[seq, tp], micro=[decode, imports, memory]
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m bench``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run, no figures")
    parser.add_argument("--out", type=Path, default=None, help="results JSON path")
    parser.add_argument("--reps", type=int, default=None, help="override repetitions")
    parser.add_argument("-q", "--silent", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    report = run(args.quick, args.reps, verbose=not args.silent)
    out: Path = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    out.write_bytes(msgspec.json.format(msgspec.json.encode(report), indent=1) + b"\n")
    print(render(report))
    print(f"\nresults written to {out}")
    return 0
