"""From raw runs to figures (each a ratio to a same-run baseline) and the printed table."""

from __future__ import annotations

from collections.abc import Callable

from bench.clients.common import HANDLER_SLEEP_S
from bench.clients.raw_sync_threads import WORKERS
from bench.installed import INSTALLED_SUFFIX
from bench.results import BenchReport, Figure, MicroResult, RunRecord, ScenarioResult
from bench.stats import Spread, paired_ratios, spread

Check = Callable[[Spread, Spread | None], bool]
"""Decides ``met`` from the SDK spread and the ratio spread (medians are compared)."""


class _Reps(dict[int, float]):
    """A client's figure per repetition, and the repetitions whose run failed."""

    def __init__(self, values: dict[int, float], failed: set[int]) -> None:
        super().__init__(values)
        self.failed = failed


def _by_rep(
    runs: list[RunRecord], client: str, variant: str, value: Callable[[RunRecord], float | None]
) -> _Reps:
    out: dict[int, float] = {}
    failed: set[int] = set()
    for r in runs:
        if r.client != client or r.variant != variant:
            continue
        # A run that lost or doubled an answer counts as failed, whatever its timings.
        v = value(r) if r.all_answered and not r.not_found_answers else None
        if v is None:
            failed.add(r.rep)
        else:
            out[r.rep] = v
    return _Reps(out, failed)


def _reason(runs: list[RunRecord], client: str) -> str:
    for r in runs:
        if r.client == client and r.status != "ok":
            first_line = r.reason.splitlines()[0] if r.reason else ""
            return first_line if r.status == "unavailable" else f"{r.status}: {first_line}"
    return "no successful run"


def _figure(
    key: str,
    label: str,
    unit: str,
    sdk: dict[int, float],
    baseline_label: str,
    baseline: dict[int, float],
    target: str,
    check: Check | None,
    *,
    unavailable: str = "",
    note: str = "",
    own_baseline: bool = False,
) -> Figure:
    """``own_baseline``: the baseline is the SDK's own runs (its trivial figure), whose failed
    repetitions fail the figure as its own do; a raw baseline's are named in the note."""
    # Every column from the repetitions both sides ran (a deadline may cut one short).
    reps = sorted(set(sdk) & set(baseline)) if baseline else sorted(sdk)
    sdk_spread = spread([sdk[r] for r in reps])
    ratio = (
        spread(paired_ratios([sdk[r] for r in reps], [baseline[r] for r in reps]))
        if baseline
        else None
    )
    failed_baseline: set[int] = getattr(baseline, "failed", set())
    failed = sorted(getattr(sdk, "failed", set()) | (failed_baseline if own_baseline else set()))
    if failed_baseline and not own_baseline:
        note = (
            f"baseline failed in repetition(s) {', '.join(map(str, sorted(failed_baseline)))}"
            + (f"; {note}" if note else "")
        )
    met: bool | None = None
    if check is not None:
        # A target is met only by runs that all succeeded: a figure without them, or with
        # a failed repetition dropped, says "no" (not "-", not a yes from the survivors).
        met = sdk_spread is not None and not failed and check(sdk_spread, ratio)
    if sdk_spread is None and unavailable:
        note = f"unavailable: {unavailable}"
    elif failed:
        note = f"failed in repetition(s) {', '.join(map(str, failed))}" + (
            f"; {note}" if note else ""
        )
    return Figure(
        key=key,
        label=label,
        unit=unit,
        sdk=sdk_spread,
        baseline_label=baseline_label,
        baseline=spread([baseline[r] for r in reps]) if baseline else None,
        ratio=ratio,
        target=target,
        met=met,
        note=note,
    )


def _ratio_at_most(limit: float) -> Check:
    return lambda _sdk, ratio: ratio is not None and ratio.median <= limit


def _ratio_at_least(limit: float) -> Check:
    return lambda _sdk, ratio: ratio is not None and ratio.median >= limit


def _value_at_most(limit: float) -> Check:
    return lambda sdk, _ratio: sdk.median <= limit


def _excess_at_most(excess: Spread | None, limit: float) -> Check:
    return lambda _sdk, _ratio: excess is not None and excess.median <= limit


def _all_answered(runs: list[RunRecord]) -> Check:
    complete = bool(runs) and all(r.all_answered and not r.not_found_answers for r in runs)
    return lambda _sdk, _ratio: complete


def _value_at_least(limit: float) -> Check:
    return lambda sdk, _ratio: sdk.median >= limit


def sequential_figures(scn: ScenarioResult) -> list[Figure]:
    """Latency p50/p99 (async, sync) and the cost of noise frames."""
    runs = scn.runs
    noise_n = int(scn.config["noise_frames"])
    noisy = f"noise{noise_n}"

    def p50(r: RunRecord) -> float | None:
        return r.p50_us

    def p99(r: RunRecord) -> float | None:
        return r.p99_us

    httpx50 = _by_rep(runs, "r-httpx", "plain", p50)
    aio50 = _by_rep(runs, "r-aiohttp", "plain", p50)
    httpx99 = _by_rep(runs, "r-httpx", "plain", p99)
    figures: list[Figure] = []
    for client, kind in (("sdk-async", "async"), ("sdk-sync", "sync")):
        why = _reason(runs, client)
        figures.append(
            _figure(
                f"seq_{kind}_p50",
                f"sequential latency p50, {kind}",
                "us",
                _by_rep(runs, client, "plain", p50),
                "R-httpx",
                httpx50,
                "<= 0.8x R-httpx",
                _ratio_at_most(0.8),
                unavailable=why,
            )
        )
        if kind == "async":
            figures.append(
                _figure(
                    "seq_async_p50_vs_aiohttp",
                    "sequential latency p50, async (moonshot)",
                    "us",
                    _by_rep(runs, client, "plain", p50),
                    "R-aiohttp",
                    aio50,
                    "<= 1.2x R-aiohttp",
                    _ratio_at_most(1.2),
                    unavailable=why,
                )
            )
        figures.append(
            _figure(
                f"seq_{kind}_p99",
                f"sequential latency p99, {kind}",
                "us",
                _by_rep(runs, client, "plain", p99),
                "R-httpx",
                httpx99,
                "(reported)",
                None,
                unavailable=why,
            )
        )

    floor50 = _by_rep(runs, "r-sync", "plain", p50)
    if floor50:
        figures.append(
            _figure(
                "seq_sync_p50_vs_floor",
                "sequential latency p50, sync, against the sync floor",
                "us",
                _by_rep(runs, "sdk-sync", "plain", p50),
                "R-sync",
                floor50,
                "(reported)",
                None,
                unavailable=_reason(runs, "sdk-sync"),
                note="R-sync: websockets.sync + http.client, one call at a time in one thread",
            )
        )

    def per_noise(client: str) -> _Reps:
        # Quiet and noisy calls alternate within one run: the difference is paired per run.
        quiet = _by_rep(runs, client, noisy, lambda r: r.quiet_p50_us)
        loud = _by_rep(runs, client, noisy, lambda r: r.noisy_p50_us)
        values = {rep: (loud[rep] - quiet[rep]) / noise_n for rep in quiet.keys() & loud.keys()}
        return _Reps(values, quiet.failed | loud.failed)

    raw_per_noise = per_noise("r-aiohttp")
    for client, kind in (("sdk-async", "async"), ("sdk-sync", "sync")):
        mine = per_noise(client)
        excess = {r: mine[r] - raw_per_noise[r] for r in mine.keys() & raw_per_noise.keys()}
        excess_spread = spread(list(excess.values()))
        figures.append(
            _figure(
                f"noise_{kind}_us_per_frame",
                f"added latency per noise frame, {kind}",
                "us",
                mine,
                "R-aiohttp",
                raw_per_noise,
                "SDK - R-aiohttp <= 5 us/frame",
                _excess_at_most(excess_spread, 5.0),
                unavailable=_reason(runs, client),
                note="(p50 from first noise frame - p50 of quiet calls) / frames, quiet and noisy "
                "calls alternating in one run; includes the server's sends and the websocket "
                "library, hence the target compares against R-aiohttp on the same path",
            )
        )
    return figures


STEADY_NOTE = (
    "answers per second from the 201st answer to the last: without the ramp (the first window "
    "of calls in flight, 50 sessions x 4), since with 20 ms handlers no client can answer in the "
    "first 20 ms of a run, which weighs more the faster the client; both sides of the ratio alike"
)
WHOLE_RUN_NOTE = (
    "first timed frame -> last answer, ramp included (how the 20 ms ratio was judged until "
    "2026-11-26)"
)


def _ratio_text(numerator: dict[int, float], denominator: dict[int, float]) -> str:
    """``median [min..max]`` of the per-repetition ratios, or ``?`` without a pair."""
    reps = sorted(set(numerator) & set(denominator))
    ratios = spread(paired_ratios([numerator[r] for r in reps], [denominator[r] for r in reps]))
    return ratios.fmt(2) if ratios is not None else "?"


def throughput_figures(scn: ScenarioResult) -> list[Figure]:
    """Calls/s per stream mode and handler, and whether every call was answered."""
    runs = scn.runs

    def cps(r: RunRecord) -> float:
        return r.calls_per_s

    def steady(r: RunRecord) -> float | None:
        return r.steady_calls_per_s

    figures: list[Figure] = []
    for mode in ("shared", "per_session"):
        for client, kind in (("sdk-async", "async"), ("sdk-sync", "sync")):
            why = _reason(runs, client)
            trivial = _by_rep(runs, client, f"{mode}/trivial", cps)
            figures.append(
                _figure(
                    f"tp_{mode}_{kind}_trivial",
                    f"throughput {mode}, {kind}, trivial",
                    "calls/s",
                    trivial,
                    "R-httpx",
                    _by_rep(runs, "r-httpx", f"{mode}/trivial", cps),
                    ">= 2.5x R-httpx",
                    _ratio_at_least(2.5),
                    unavailable=why,
                )
            )
            figures.append(
                _figure(
                    f"tp_{mode}_{kind}_trivial_vs_aiohttp",
                    f"throughput {mode}, {kind}, trivial (moonshot)",
                    "calls/s",
                    trivial,
                    "R-aiohttp",
                    _by_rep(runs, "r-aiohttp", f"{mode}/trivial", cps),
                    ">= 0.5x R-aiohttp",
                    _ratio_at_least(0.5),
                    unavailable=why,
                )
            )
            figures.append(
                _figure(
                    f"tp_{mode}_{kind}_sleep20",
                    f"throughput {mode}, {kind}, 20 ms handler, steady state",
                    "calls/s",
                    _by_rep(runs, client, f"{mode}/sleep20", steady),
                    "same, trivial",
                    _by_rep(runs, client, f"{mode}/trivial", steady),
                    ">= 0.9x trivial",
                    _ratio_at_least(0.9),
                    unavailable=why,
                    note=STEADY_NOTE,
                    own_baseline=True,
                )
            )
            figures.append(
                _figure(
                    f"tp_{mode}_{kind}_sleep20_whole_run",
                    f"throughput {mode}, {kind}, 20 ms handler, whole run",
                    "calls/s",
                    _by_rep(runs, client, f"{mode}/sleep20", cps),
                    "same, trivial",
                    trivial,
                    "(reported)",
                    None,
                    unavailable=why,
                    note=WHOLE_RUN_NOTE,
                )
            )
        raw_whole = _ratio_text(
            _by_rep(runs, "r-aiohttp", f"{mode}/sleep20", cps),
            _by_rep(runs, "r-aiohttp", f"{mode}/trivial", cps),
        )
        figures.append(
            _figure(
                f"tp_{mode}_floor_sleep20",
                f"throughput {mode}, 20 ms handler, of R-aiohttp itself (not the SDK), "
                "steady state",
                "calls/s",
                _by_rep(runs, "r-aiohttp", f"{mode}/sleep20", steady),
                "same, trivial",
                _by_rep(runs, "r-aiohttp", f"{mode}/trivial", steady),
                "(reported)",
                None,
                unavailable=_reason(runs, "r-aiohttp"),
                note="the raw path's own 20 ms / trivial ratio, for the 0.9x target above; "
                f"over the whole run: {raw_whole}",
            )
        )

    def cpu(r: RunRecord) -> float | None:
        return r.cpu_us_per_call

    for client, kind in (("sdk-async", "async"), ("sdk-sync", "sync")):
        figures.append(
            _figure(
                f"cpu_per_call_{kind}",
                f"client CPU per call, shared, {kind}, trivial",
                "us",
                _by_rep(runs, client, "shared/trivial", cpu),
                "R-aiohttp",
                _by_rep(runs, "r-aiohttp", "shared/trivial", cpu),
                "(reported)",
                None,
                unavailable=_reason(runs, client),
                note="client process CPU (all threads) / answered calls: barely affected by "
                "other load on the machine, unlike calls/s; R-httpx: "
                + (
                    f"{s.median:,.0f} us"
                    if (s := spread(list(_by_rep(runs, "r-httpx", "shared/trivial", cpu).values())))
                    else "?"
                ),
            )
        )

    def added_by_sleep(client: str) -> _Reps:
        slow = _by_rep(runs, client, "shared/sleep20", cpu)
        quick = _by_rep(runs, client, "shared/trivial", cpu)
        both = slow.keys() & quick.keys()
        return _Reps({r: slow[r] - quick[r] for r in both}, slow.failed | quick.failed)

    figures.append(
        _figure(
            "cpu_added_by_sleep_sync",
            "client CPU per call added by a 20 ms handler, shared, sync",
            "us",
            added_by_sleep("sdk-sync"),
            "R-sync-threads",
            added_by_sleep("r-sync-threads"),
            "(reported)",
            None,
            unavailable=_reason(runs, "sdk-sync"),
            note="CPU per call with 20 ms handlers minus with trivial ones, same repetition: "
            "what a handler that blocks costs a sync client in thread wake-ups; R-sync-threads "
            "is websockets.sync + 128 handler threads, each answering on its own http.client "
            "connection",
        )
    )

    def cpu_bound(client: str) -> str:
        """The 20 ms ratio ``client`` would have if its CPU per call alone bound it."""
        return _ratio_text(
            _by_rep(runs, client, "shared/trivial", cpu),
            _by_rep(runs, client, "shared/sleep20", cpu),
        )

    figures.append(
        _figure(
            "tp_shared_threaded_sync_floor_sleep20",
            "throughput shared, 20 ms handler, of R-sync-threads itself (not the SDK), "
            "steady state",
            "calls/s",
            _by_rep(runs, "r-sync-threads", "shared/sleep20", steady),
            "same, trivial",
            _by_rep(runs, "r-sync-threads", "shared/trivial", steady),
            "(reported)",
            None,
            unavailable=_reason(runs, "r-sync-threads"),
            note="the threaded sync floor's own 20 ms / trivial ratio, for the sync client's "
            f"0.9x target above; its {WORKERS} threads sleeping {HANDLER_SLEEP_S * 1000:g} ms "
            f"cap it at {WORKERS / HANDLER_SLEEP_S:,.0f} calls/s, so also its ratio of CPU "
            "per call (trivial / 20 ms), the ratio a client bound by "
            f"its CPU alone would reach: {cpu_bound('r-sync-threads')} (the SDK's: "
            f"{cpu_bound('sdk-sync')})",
        )
    )
    floor_cpu = _by_rep(runs, "r-sync", "shared/trivial", cpu)
    if floor_cpu:
        figures.append(
            _figure(
                "cpu_per_call_sync_vs_floor",
                "client CPU per call, shared, sync, trivial, against the sync floor",
                "us",
                _by_rep(runs, "sdk-sync", "shared/trivial", cpu),
                "R-sync",
                floor_cpu,
                "(reported)",
                None,
                unavailable=_reason(runs, "sdk-sync"),
            )
        )
        figures.append(
            _figure(
                "tp_shared_sync_floor",
                "throughput shared, trivial, of the sync floor itself (R-sync, not the SDK)",
                "calls/s",
                _by_rep(runs, "r-sync", "shared/trivial", cps),
                "R-httpx",
                _by_rep(runs, "r-httpx", "shared/trivial", cps),
                "(reported)",
                None,
                unavailable=_reason(runs, "r-sync"),
                note="one call at a time in one thread, so bounded by its own CPU per call; "
                "no handler runs concurrently with another",
            )
        )
    for client, kind in (("sdk-async", "async"), ("sdk-sync", "sync")):
        backlog = [r for r in runs if r.client == client and r.variant == "shared/sleep20/backlog"]
        figures.append(
            _figure(
                f"tp_backlog_{kind}",
                f"backlog: shared, {kind}, 20 ms, all calls at once",
                "calls/s",
                _by_rep(runs, client, "shared/sleep20/backlog", cps),
                "R-httpx",
                _by_rep(runs, "r-httpx", "shared/sleep20/backlog", cps),
                "every call answered",
                _all_answered(backlog),
                unavailable=_reason(runs, client),
            )
        )
    for client in ("sdk-async", "sdk-sync", "r-httpx", "r-aiohttp"):
        mine = [r for r in runs if r.client == client and r.status != "unavailable"]
        complete = [r for r in mine if r.all_answered]
        dupes = sum(r.not_found_answers for r in mine)
        figures.append(
            Figure(
                key=f"tp_all_answered_{client}",
                label=f"every call answered, {client}",
                unit="runs",
                sdk=spread([float(len(complete))]) if mine else None,
                baseline_label="runs",
                baseline=spread([float(len(mine))]) if mine else None,
                ratio=None,
                target="all runs, 0 duplicates" if client.startswith("sdk") else "(reported)",
                met=(len(complete) == len(mine) and dupes == 0)
                if mine and client.startswith("sdk")
                else None,
                note=f"{dupes} duplicate/late answers (404)"
                if mine
                else f"unavailable: {_reason(runs, client)}",
            )
        )
    return figures


def _median_at_most(samples: list[float], limit: float) -> bool:
    summary = spread(samples)
    return summary is not None and summary.median <= limit


def _micro_series(m: MicroResult, label: str) -> dict[int, float]:
    return dict(enumerate(m.samples.get(label, [])))


def _import_figure(imports: MicroResult, suffix: str, key: str, where: str) -> Figure:
    sdk = imports.samples.get("sdk" + suffix, [])
    bare = spread(imports.samples.get("python" + suffix, []))
    return _figure(
        key,
        f"import time, {where}: from codex_manager import CodexManager",
        "ms",
        dict(enumerate(sdk)),
        "import httpx",
        dict(enumerate(imports.samples.get("httpx" + suffix, []))),
        "<= 250 ms (moonshot 150)",
        _value_at_most(250.0),
        unavailable=imports.unavailable.get("sdk" + suffix, ""),
        note=("moonshot met; " if _median_at_most(sdk, 150.0) else "")
        + "bare interpreter: "
        + (f"{bare.median:.0f} ms" if bare else "?"),
    )


def _import_figures(imports: MicroResult) -> list[Figure]:
    """As a user's ``pip install`` leaves it (full runs), and in the project's virtualenv."""
    figures = []
    installed = "sdk" + INSTALLED_SUFFIX
    if imports.samples.get(installed) or installed in imports.unavailable:
        where = "pip install, no extras"
        figures.append(_import_figure(imports, INSTALLED_SUFFIX, "import_installed_ms", where))
    figures.append(_import_figure(imports, "", "import_ms", "project virtualenv (dev tools)"))
    return figures


def micro_figures(decode: MicroResult, imports: MicroResult, memory: MicroResult) -> list[Figure]:
    """Decode+route rate, import time, registry memory."""
    sdk_decode = _micro_series(decode, "sdk")
    return [
        _figure(
            "decode_route_fps",
            "decode + route, recorded-shape frames",
            "frames/s",
            sdk_decode,
            "raw json.loads loop",
            _micro_series(decode, "raw-json"),
            ">= 150k/s (moonshot 300k)",
            _value_at_least(150_000.0),
            unavailable=decode.unavailable.get("sdk", ""),
            note="moonshot met" if sdk_decode and min(sdk_decode.values()) >= 300_000 else "",
        ),
        *_import_figures(imports),
        _figure(
            "memory_mib_per_1000",
            "RSS per 1,000 registries x 5 skills",
            "MiB",
            _micro_series(memory, "sdk"),
            "plain dicts, shared schemas",
            _micro_series(memory, "raw-dicts"),
            "<= 2.6 MiB",
            _value_at_most(2.6),
            unavailable=memory.unavailable.get("sdk", ""),
        ),
    ]


def _fmt(s: Spread | None, unit: str) -> str:
    if s is None:
        return "-"
    digits = 0 if unit in ("calls/s", "frames/s", "us", "ms", "runs") else 2
    if unit == "us" and s.median < 100:
        digits = 1
    return s.fmt(digits)


def _split_line(split: dict[str, list[int]] | None) -> str:
    if split is None:
        return "server and clients on any CPU (not split)"
    return f"server on CPU {split['server']}, clients on CPU {split['clients']}"


def render(report: BenchReport) -> str:
    """The table printed on stdout: Markdown, so it pastes into the README as is."""
    m = report.meta
    kind = "QUICK smoke sizes: not figures" if m.quick else "full run"
    lines = [
        f"codex_manager bench, {m.date_utc}, {m.cpu} x{m.cpus}, Python {m.python}, "
        f"commit {m.git_commit}, {kind}, {m.duration_s:.0f} s, "
        f"load {m.load_average[0]:.1f} -> {m.load_average[3]:.1f}",
        "network runs with " + " ".join(f"{k}={v}" for k, v in sorted(m.network_env.items())),
        _split_line(m.cpu_split),
        "",
        "| figure | unit | SDK median [min..max] | baseline (same run) | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    notes: list[str] = []
    for f in report.figures:
        met = "-" if f.met is None else ("yes" if f.met else "**no**")
        base = f"{f.baseline_label} {_fmt(f.baseline, f.unit)}" if f.baseline else "-"
        ratio = f.ratio.fmt(2) if f.ratio is not None else "-"
        label = f.label
        if f.note:
            if f.note not in notes:
                notes.append(f.note)
            label += f" [{notes.index(f.note) + 1}]"
        lines.append(
            f"| {label} | {f.unit} | {_fmt(f.sdk, f.unit)} | {base} | {ratio} | {f.target} "
            f"| {met} |"
        )
    if notes:
        lines.append("")
        lines.extend(f"[{i}] {note}" for i, note in enumerate(notes, 1))
    return "\n".join(lines)
