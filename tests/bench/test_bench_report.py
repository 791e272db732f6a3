"""How raw runs become figures: a target is met only by runs that all succeeded."""

from __future__ import annotations

from bench.report import sequential_figures, throughput_figures
from bench.results import Figure, RunRecord, ScenarioResult


def _run(client: str, rep: int, p50: float, *, status: str = "ok", answered: int = 30) -> RunRecord:
    return RunRecord(
        client=client,
        variant="plain",
        rep=rep,
        status=status,
        reason="" if status == "ok" else "timed out",
        expected=30,
        answered=answered,
        not_found_answers=0,
        p50_us=p50,
        p99_us=p50 * 1.5,
        quiet_p50_us=None,
        noisy_p50_us=None,
        calls_per_s=1.0,
        wall_s=1.0,
        cpu_us_per_call=None,
    )


def _p50_figure(sdk_runs: list[RunRecord]) -> tuple[bool | None, str]:
    baseline = [_run("r-httpx", rep, 460.0) for rep in range(3)]
    scenario = ScenarioResult("sequential", {"noise_frames": 10}, [*baseline, *sdk_runs])
    [figure] = [f for f in sequential_figures(scenario) if f.key == "seq_async_p50"]
    return figure.met, figure.note


def test_all_runs_fast_meet_the_target() -> None:
    met, note = _p50_figure([_run("sdk-async", rep, 270.0) for rep in range(3)])
    assert (met, note) == (True, "")


def test_a_failed_or_incomplete_repetition_fails_the_target() -> None:
    # The surviving repetitions met it, and the table said "yes" (or "-" with none left).
    timed_out = [_run("sdk-async", 0, 270.0, status="timeout"), _run("sdk-async", 1, 270.0)]
    lost_one = [_run("sdk-async", 2, 270.0, answered=29)]
    met, note = _p50_figure([*timed_out, *lost_one])
    assert met is False
    assert note == "failed in repetition(s) 0, 2"
    none_left = [_run("sdk-async", rep, 270.0, status="error") for rep in range(3)]
    assert _p50_figure(none_left)[0] is False


def _throughput_run(
    client: str,
    variant: str,
    rep: int,
    whole: float,
    steady: float | None,
    *,
    lost: bool = False,
    cpu_us: float = 200.0,
) -> RunRecord:
    return RunRecord(
        client=client,
        variant=variant,
        rep=rep,
        status="ok",
        reason="",
        expected=2050,
        answered=2000 if lost else 2050,
        not_found_answers=0,
        p50_us=None,
        p99_us=None,
        quiet_p50_us=None,
        noisy_p50_us=None,
        calls_per_s=whole,
        wall_s=1.0,
        cpu_us_per_call=cpu_us,
        steady_calls_per_s=steady,
    )


def test_the_20ms_ratio_is_judged_on_the_steady_state_and_the_whole_run_is_reported() -> None:
    runs = [
        run
        for rep in range(3)
        for run in (
            _throughput_run("sdk-async", "shared/trivial", rep, 5000.0, 5050.0),
            _throughput_run("sdk-async", "shared/sleep20", rep, 4200.0, 4800.0),
        )
    ]
    figures = {f.key: f for f in throughput_figures(ScenarioResult("throughput", {}, runs))}
    steady = figures["tp_shared_async_sleep20"]
    assert steady.ratio is not None
    assert steady.ratio.median == 4800.0 / 5050.0
    assert steady.met is True
    whole = figures["tp_shared_async_sleep20_whole_run"]
    assert whole.ratio is not None
    assert whole.ratio.median == 4200.0 / 5000.0
    assert whole.met is None  # reported only


def _sleep20_figures(runs: list[RunRecord]) -> dict[str, Figure]:
    return {f.key: f for f in throughput_figures(ScenarioResult("throughput", {}, runs))}


def test_a_run_without_a_steady_rate_fails_the_20ms_target() -> None:
    # Two repetitions meet the target; the third has no steady rate (too short a run).
    runs = [
        run
        for rep in range(3)
        for run in (
            _throughput_run("sdk-async", "shared/trivial", rep, 5000.0, 5050.0),
            _throughput_run("sdk-async", "shared/sleep20", rep, 4900.0, 5000.0 if rep else None),
        )
    ]
    figure = _sleep20_figures(runs)["tp_shared_async_sleep20"]
    assert figure.met is False
    assert figure.note.startswith("failed in repetition(s) 0")


def test_a_failed_trivial_run_fails_the_20ms_target_too() -> None:
    # The 20 ms figure's baseline is the SDK's own trivial run: losing calls there is a failure.
    runs = [
        run
        for rep in range(3)
        for run in (
            _throughput_run("sdk-async", "shared/trivial", rep, 5000.0, 5050.0, lost=rep == 1),
            _throughput_run("sdk-async", "shared/sleep20", rep, 4900.0, 5000.0),
        )
    ]
    figure = _sleep20_figures(runs)["tp_shared_async_sleep20"]
    assert figure.met is False
    assert figure.note.startswith("failed in repetition(s) 1")


def test_a_failed_raw_baseline_is_named_but_does_not_fail_the_sdk() -> None:
    runs = [
        run
        for rep in range(3)
        for run in (
            _throughput_run("sdk-async", "shared/trivial", rep, 5000.0, 5050.0),
            _throughput_run("r-httpx", "shared/trivial", rep, 1500.0, 1500.0, lost=rep == 2),
        )
    ]
    figure = _sleep20_figures(runs)["tp_shared_async_trivial"]
    assert figure.met is True
    assert figure.note == "baseline failed in repetition(s) 2"


def test_the_threaded_sync_floor_reports_its_own_20ms_ratio_and_its_cpu_bound() -> None:
    # Its rate with 20 ms handlers is capped by its threads, so its CPU per call tells more.
    runs = [
        run
        for rep in range(3)
        for run in (
            _throughput_run("r-sync-threads", "shared/trivial", rep, 10_000.0, 10_500.0, cpu_us=90),
            _throughput_run("r-sync-threads", "shared/sleep20", rep, 5_800.0, 6_000.0, cpu_us=150),
            _throughput_run("sdk-sync", "shared/trivial", rep, 5_000.0, 5_200.0, cpu_us=190),
            _throughput_run("sdk-sync", "shared/sleep20", rep, 4_200.0, 4_400.0, cpu_us=225),
        )
    ]
    figure = _sleep20_figures(runs)["tp_shared_threaded_sync_floor_sleep20"]
    assert figure.ratio is not None
    assert figure.ratio.median == 6_000.0 / 10_500.0
    assert figure.met is None  # reported only
    assert "cap it at 6,400 calls/s" in figure.note
    assert "would reach: 0.60 [0.60..0.60] (the SDK's: 0.84 [0.84..0.84])" in figure.note
