"""The harness side: start the bench server process, set up runs, run a client process per run."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import msgspec

from bench.clients.common import ClientResult, ClientSpec, HandlerKind, StreamMode
from bench.server import RunConfig, RunCreated, RunResults

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def child_env() -> dict[str, str]:
    """Environment for child processes: the project root importable, no proxy detours."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
    )
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env.pop(key, None)
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


FIXED_MALLOC_THRESHOLDS = {
    "MALLOC_MMAP_THRESHOLD_": str(1024 * 1024),
    "MALLOC_TRIM_THRESHOLD_": str(8 * 1024 * 1024),
}
"""glibc settings for every process of a network run (server and clients alike).

glibc maps blocks above its mmap threshold (128 KiB until the process frees a larger mapped
block, which raises it) with ``mmap``, and asyncio reads a socket into a fresh 256 KiB buffer.
A process that never freed a large block (a minimal raw client) maps, shrinks and unmaps that
buffer on every read: measured on R-aiohttp, two ``mmap`` + ``mremap`` + ``munmap`` and four
page faults per call, about 45 us of latency and 15 % of its throughput. A process whose
imports happened to free one (the SDK's) never does. Fixed thresholds give every process
the same allocator, so no baseline is slowed by an accident of its heap history.
"""


def network_env() -> dict[str, str]:
    """:func:`child_env` with :data:`FIXED_MALLOC_THRESHOLDS`: for the server and the clients."""
    return child_env() | FIXED_MALLOC_THRESHOLDS


@dataclass(frozen=True, slots=True)
class CpuSplit:
    """The CPUs the bench server runs on, and those every client runs on (none shared)."""

    server: frozenset[int]
    clients: frozenset[int]


def cpu_split() -> CpuSplit | None:
    """Give the server its own CPU and the clients the others (Linux, two CPUs or more).

    The server is what the clients are measured against, so no client may take CPU from it.
    On two CPUs left to the scheduler, a client's threads also run on the server's CPU and
    preempt it: the sync SDK (a hundred handler threads) then fell, in about one run of three,
    into a mode where both it and the server spent a third more CPU per call (about 3,600
    instead of 5,000 calls/s). A real server has cores of its own. ``BENCH_CPU_SPLIT=0`` turns
    it off (``None``, as on other systems).
    """
    if os.environ.get("BENCH_CPU_SPLIT", "1") == "0" or not hasattr(os, "sched_setaffinity"):
        return None
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None
    return CpuSplit(server=frozenset(available[:1]), clients=frozenset(available[1:]))


@dataclass(frozen=True, slots=True)
class Measured:
    """One client run: what the client said and what the server measured."""

    client: ClientResult
    server: RunResults


def _pinned_to(cpus: frozenset[int]) -> Callable[[], None]:
    """What a child runs before Python starts: every thread it makes inherits ``cpus``."""
    return lambda: os.sched_setaffinity(0, cpus)


class BenchServerProcess:
    """``python -m bench.server`` in a child process, so its CPU never shares the client's GIL."""

    def __init__(self, split: CpuSplit | None = None) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._split = split
        self.base_url = ""

    def __enter__(self) -> BenchServerProcess:
        cpus = None if self._split is None else self._split.server
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.server"],
            stdout=subprocess.PIPE,
            text=True,
            env=network_env(),
            cwd=PROJECT_ROOT,
            preexec_fn=None if cpus is None else _pinned_to(cpus),  # the harness has one thread
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line.startswith("BENCH_SERVER_PORT="):
            self._proc.kill()
            raise RuntimeError(f"bench server did not start (said {line!r})")
        self.base_url = f"http://127.0.0.1:{line.split('=', 1)[1]}"
        return self

    @property
    def pid(self) -> int:
        """The server process's id (once started)."""
        if self._proc is None:
            raise RuntimeError("the bench server is not started")
        return self._proc.pid

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def _request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        req = urllib.request.Request(f"{self.base_url}{path}", data=body, method=method)
        req.add_header("content-type", "application/json")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=120) as response:
            data: bytes = response.read()
            return data

    def create_run(self, config: RunConfig) -> RunCreated:
        """Set up a run; emission starts when its sockets connect."""
        data = self._request("POST", "/bench/runs", msgspec.json.encode(config))
        return msgspec.json.decode(data, type=RunCreated)

    def results(self, run_id: int, wait_s: float = 0.0) -> RunResults:
        """The server's measurements for ``run_id`` (waiting up to ``wait_s`` for completion)."""
        data = self._request("GET", f"/bench/runs/{run_id}/results?wait={wait_s}")
        return msgspec.json.decode(data, type=RunResults)

    def measure(
        self,
        client: str,
        config: RunConfig,
        *,
        stream_mode: StreamMode,
        handler: HandlerKind,
        timeout_s: float,
    ) -> Measured:
        """Run ``client`` in a fresh process against a new run of ``config``."""
        created = self.create_run(config)
        spec = ClientSpec(
            client=client,
            base_url=self.base_url,
            thread_ids=created.thread_ids,
            stream_mode=stream_mode,
            handler=handler,
            expected_calls=config.sessions * config.calls_per_session,
            timeout_s=timeout_s,
            warmup_calls=config.sessions * min(config.warmup_calls, config.calls_per_session),
        )
        clients = None if self._split is None else self._split.clients
        result = run_client_process(spec, timeout_s + 30.0, cpus=clients)
        wait = 2.0 if result.status == "ok" else 0.0
        return Measured(client=result, server=self.results(created.run_id, wait_s=wait))


def run_client_process(
    spec: ClientSpec, hard_timeout_s: float, *, cpus: frozenset[int] | None = None
) -> ClientResult:
    """Run ``python -m bench.clients.runner`` for ``spec`` (on ``cpus``, when given); a crash
    becomes an error result."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.clients.runner", msgspec.json.encode(spec).decode()],
            preexec_fn=None if cpus is None else _pinned_to(cpus),
            capture_output=True,
            text=True,
            env=network_env(),
            cwd=PROJECT_ROOT,
            timeout=hard_timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ClientResult(status="timeout", reason=f"client process exceeded {hard_timeout_s}s")
    lines = proc.stdout.strip().splitlines()
    if lines:
        try:
            return msgspec.json.decode(lines[-1].encode(), type=ClientResult)
        except msgspec.DecodeError:
            pass
    tail = (proc.stderr or proc.stdout)[-800:]
    return ClientResult(status="error", reason=f"client exited {proc.returncode}: {tail}")
