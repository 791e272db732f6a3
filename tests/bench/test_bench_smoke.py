"""Smoke test of ``python -m bench --quick``: every scenario runs at tiny size, so the bench
cannot rot. Timings are never asserted (speed is measured only by ``make bench``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from bench.results import BenchReport
from bench.scenarios import CLIENTS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BASELINES = ("r-httpx", "r-aiohttp")


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
        "decode_route_fps",
        "import_ms",
        "memory_mib_per_1000",
    ):
        assert expected in keys


@pytest.mark.timeout(180)
def test_every_variant_ran_every_client(quick_report: BenchReport) -> None:
    """Each client ran (or reported why it could not) in each variant of each scenario."""
    for scenario in quick_report.scenarios:
        variants = {r.variant for r in scenario.runs}
        assert variants, scenario.name
        for variant in variants:
            ran = {r.client for r in scenario.runs if r.variant == variant}
            assert ran == set(CLIENTS) or ran >= set(BASELINES), (scenario.name, variant, ran)


@pytest.mark.timeout(180)
def test_every_call_answered(quick_report: BenchReport) -> None:
    """Every run that was not 'unavailable' answered every call exactly once."""
    for scenario in quick_report.scenarios:
        for run in scenario.runs:
            if run.status == "unavailable":
                assert run.client not in BASELINES, run
                assert run.reason, run
                continue
            assert run.status == "ok", run
            assert run.answered == run.expected > 0, run
            assert run.not_found_answers == 0, run


@pytest.mark.timeout(180)
def test_baseline_figures_measured(quick_report: BenchReport) -> None:
    """Baselines always produce numbers; an SDK figure either has a number or says why not."""
    for figure in quick_report.figures:
        if figure.key.startswith(("seq_", "tp_shared", "tp_per_session")) and figure.ratio:
            assert figure.baseline is not None, figure.key
        if figure.sdk is None:
            assert figure.note, figure.key
    decode = quick_report.micro[0]
    assert len(decode.samples["raw-json"]) >= 1
