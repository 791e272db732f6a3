"""Smoke test of ``python -m bench --quick``: every scenario runs at tiny size, so the bench
cannot rot. Timings are never asserted (speed is measured only by ``make bench``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from bench.control import FIXED_MALLOC_THRESHOLDS, BenchServerProcess, cpu_split
from bench.results import BenchReport
from bench.scenarios import CLIENTS, SYNC_FLOOR, THREADED_SYNC_FLOOR

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> BenchReport:
    """Run the whole harness once at smoke size and load its results file."""
    out = tmp_path_factory.mktemp("bench") / "results.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--silent", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=150,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "results written to" in proc.stdout
    return msgspec.json.decode(out.read_bytes(), type=BenchReport)


@pytest.mark.timeout(180)
def test_results_file_has_every_scenario(quick_report: BenchReport) -> None:
    """The report holds both wire scenarios, the three micro benchmarks and the figures."""
    assert quick_report.meta.quick
    assert [s.name for s in quick_report.scenarios] == ["sequential", "throughput"]
    assert [m.name for m in quick_report.micro] == ["decode_route", "import_time", "memory"]
    keys = {f.key for f in quick_report.figures}
    for expected in (
        "seq_async_p50",
        "seq_sync_p50",
        "noise_async_us_per_frame",
        "tp_shared_async_trivial",
        "tp_per_session_sync_sleep20",
        "tp_shared_floor_sleep20",
        "tp_shared_threaded_sync_floor_sleep20",
        "decode_route_fps",
        "import_ms",
        "memory_mib_per_1000",
    ):
        assert expected in keys


@pytest.mark.timeout(180)
def test_every_variant_ran_every_client(quick_report: BenchReport) -> None:
    """Each client ran (or reported why it could not) in each variant of each scenario; the
    sync floor exactly in the shared-stream, trivial-handler ones, the threaded sync floor in
    the shared-stream throughput ones with a window."""
    floor_variants = {("sequential", "plain"), ("throughput", "shared/trivial")}
    threaded_floor_variants = {("throughput", "shared/trivial"), ("throughput", "shared/sleep20")}
    for scenario in quick_report.scenarios:
        variants = {r.variant for r in scenario.runs}
        assert variants, scenario.name
        for variant in variants:
            ran = {r.client for r in scenario.runs if r.variant == variant}
            expected = set(CLIENTS)
            if (scenario.name, variant) in floor_variants:
                expected |= set(SYNC_FLOOR)
            if (scenario.name, variant) in threaded_floor_variants:
                expected |= set(THREADED_SYNC_FLOOR)
            assert ran == expected, (scenario.name, variant, ran)


@pytest.mark.timeout(180)
def test_every_call_answered(quick_report: BenchReport) -> None:
    """Every client, the SDK's included, answered every call exactly once in every run."""
    for scenario in quick_report.scenarios:
        for run in scenario.runs:
            assert run.status == "ok", run
            assert run.answered == run.expected > 0, run
            assert run.not_found_answers == 0, run


@pytest.mark.timeout(180)
def test_baseline_figures_measured(quick_report: BenchReport) -> None:
    """Every figure has an SDK value and a same-run baseline (smoke sizes: values not checked)."""
    for figure in quick_report.figures:
        assert figure.sdk is not None, (figure.key, figure.note)
        assert figure.baseline is not None, figure.key
    decode = quick_report.micro[0]
    assert len(decode.samples["raw-json"]) >= 1


@pytest.mark.timeout(180)
def test_network_runs_record_their_allocator_settings(quick_report: BenchReport) -> None:
    """The report says which environment the server and client processes ran with."""
    assert quick_report.meta.network_env == FIXED_MALLOC_THRESHOLDS


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
@pytest.mark.timeout(60)
def test_the_bench_server_runs_with_the_fixed_allocator_settings() -> None:
    """Server and clients alike: no process of a network run keeps glibc's adaptive threshold."""
    with BenchServerProcess() as server:
        pid = server.pid
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    environ = dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
    for key, value in FIXED_MALLOC_THRESHOLDS.items():
        assert environ.get(key) == value


@pytest.mark.timeout(180)
def test_network_runs_record_their_cpu_split(quick_report: BenchReport) -> None:
    split = cpu_split()
    recorded = quick_report.meta.cpu_split
    if split is None:
        assert recorded is None
    else:
        assert recorded == {"server": sorted(split.server), "clients": sorted(split.clients)}


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="CPU affinity is Linux's")
@pytest.mark.timeout(60)
def test_the_server_and_the_clients_never_share_a_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    available = os.sched_getaffinity(0)
    split = cpu_split()
    if len(available) < 2:
        assert split is None
        return
    assert split is not None
    assert split.server
    assert split.clients
    assert not split.server & split.clients
    assert split.server | split.clients == available
    with BenchServerProcess(split) as server:
        assert os.sched_getaffinity(server.pid) == split.server
    probe = subprocess.run(
        [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=lambda: os.sched_setaffinity(0, split.clients),
    )
    assert probe.stdout.strip() == str(sorted(split.clients))
    monkeypatch.setenv("BENCH_CPU_SPLIT", "0")
    assert cpu_split() is None
