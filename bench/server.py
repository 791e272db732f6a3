"""Loopback bench server: codex-manager's stream and tool-call routes, built for speed.

It speaks the real wire (``server-contract.md`` sections 2.8, 2.9 and 4): ``GET /api/stream``
(``ready`` on connect, ``?threadId=`` filter, subscribe/unsubscribe/ping), ``POST
/api/tool-calls/{requestId}/response`` (200 / 404 / 400) and ``GET
/api/sessions/{id}/tool-calls``. Unlike ``codex_manager.testing`` it favours throughput over
fidelity: frames are pre-serialized templates, and each call's frame-sent and answer-received
instants are taken here with ``time.perf_counter_ns`` so client CPU never skews them.

A benchmark run is set up with ``POST /bench/runs``; emission starts once the expected number of
websockets has connected; ``GET /bench/runs/{id}/results`` reports per-call latencies. Run it as
``python -m bench.server``: it prints ``BENCH_SERVER_PORT=<port>`` and serves until killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field

import msgspec
from aiohttp import WSMsgType, web

from bench.frames import FrameFactory, ThreadFrames, thread_id_for

_JSON = "application/json"
_START_DELAY_S = 0.1  # lets a client finish subscribing before the first call is emitted


class RunConfig(msgspec.Struct, frozen=True):
    """What one benchmark run emits."""

    sessions: int
    calls_per_session: int
    window: int = 1
    """Unanswered calls allowed per session before the next is emitted (0 = unlimited)."""
    noise: int = 0
    """Noise frames (deltas, notifications) emitted before each call."""
    noise_alternate: bool = False
    """Noise before odd-numbered calls only, so quiet and noisy calls pair up in one run."""
    warmup_calls: int = 0
    """Leading calls per session, answered before the timed phase starts and left out of
    every figure (first-call costs such as lazy imports are not steady state)."""
    expect_sockets: int = 1


class RunCreated(msgspec.Struct, frozen=True):
    """Answer to ``POST /bench/runs``."""

    run_id: int
    thread_ids: list[str]


class RunResults(msgspec.Struct, frozen=True):
    """Answer to ``GET /bench/runs/{id}/results``: everything measured in the server process."""

    run_id: int
    started: bool
    complete: bool
    expected: int
    emitted: int
    answered: int
    not_found_answers: int
    bad_bodies: int
    pending_lists_served: int
    latencies_ns: list[int]
    """Per measured call: tool-call frame sent -> answer request received."""
    noise_latencies_ns: list[int]
    """Per measured call: first noise frame sent -> answer received (= the above without noise)."""
    noise_frames: list[int]
    """Per measured call: how many noise frames preceded it."""
    first_emit_ns: int
    """When the timed phase began (after every warm-up call was answered)."""
    last_answer_ns: int
    measured_answered: int
    """Answers accepted in the timed phase (warm-up calls excluded)."""
    answer_ns: list[int] = []
    """When each answer of the timed phase was received, in arrival order."""


@dataclass(slots=True, eq=False)  # identity hashing: sockets live in sets
class _Socket:
    ws: web.WebSocketResponse
    thread_filter: str | None
    run_id: int


@dataclass(slots=True)
class _Call:
    run: _Run
    request_id: str
    frames: ThreadFrames
    index: int
    first_ns: int
    sent_ns: int
    noise: int
    measured: bool


@dataclass(slots=True)
class _Run:
    run_id: int
    config: RunConfig
    thread_ids: list[str]
    windows: dict[str, asyncio.Semaphore]
    sockets_seen: int = 0
    started: bool = False
    emitted: int = 0
    answered: int = 0
    not_found_answers: int = 0
    bad_bodies: int = 0
    pending_lists_served: int = 0
    first_emit_ns: int = 0
    last_answer_ns: int = 0
    measured_answered: int = 0
    warmup_answered: int = 0
    warmed_up: asyncio.Event = field(default_factory=asyncio.Event)
    latencies_ns: list[int] = field(default_factory=list)
    answer_ns: list[int] = field(default_factory=list)
    noise_latencies_ns: list[int] = field(default_factory=list)
    noise_frames: list[int] = field(default_factory=list)
    complete: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def expected(self) -> int:
        return self.config.sessions * self.config.calls_per_session

    def results(self) -> RunResults:
        return RunResults(
            run_id=self.run_id,
            started=self.started,
            complete=self.complete.is_set(),
            expected=self.expected,
            emitted=self.emitted,
            answered=self.answered,
            not_found_answers=self.not_found_answers,
            bad_bodies=self.bad_bodies,
            pending_lists_served=self.pending_lists_served,
            latencies_ns=self.latencies_ns,
            noise_latencies_ns=self.noise_latencies_ns,
            noise_frames=self.noise_frames,
            first_emit_ns=self.first_emit_ns,
            last_answer_ns=self.last_answer_ns,
            measured_answered=self.measured_answered,
            answer_ns=self.answer_ns,
        )


class BenchServer:
    """The aiohttp application and its state (one active run at a time)."""

    def __init__(self) -> None:
        self._factory = FrameFactory()
        self._unfiltered: set[_Socket] = set()
        self._by_thread: dict[str, set[_Socket]] = {}
        self._pending: dict[str, _Call] = {}
        self._runs: dict[int, _Run] = {}
        self._current: _Run | None = None
        self._next_request_id = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def app(self) -> web.Application:
        """The aiohttp application serving the API and the bench control routes."""
        app = web.Application()
        app.router.add_get("/api/stream", self._stream)
        app.router.add_post("/api/tool-calls/{request_id}/response", self._respond)
        app.router.add_get("/api/sessions/{session_id}/tool-calls", self._list_pending)
        app.router.add_get("/api/health", self._health)
        app.router.add_post("/bench/runs", self._create_run)
        app.router.add_get("/bench/runs/{run_id}/results", self._results)
        return app

    # ---- websocket -------------------------------------------------------------------------

    def _attach(self, sock: _Socket) -> None:
        if sock.thread_filter is None:
            self._unfiltered.add(sock)
        else:
            self._by_thread.setdefault(sock.thread_filter, set()).add(sock)

    def _detach(self, sock: _Socket) -> None:
        self._unfiltered.discard(sock)
        if sock.thread_filter is not None:
            group = self._by_thread.get(sock.thread_filter)
            if group is not None:
                group.discard(sock)

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        # Like the Node `ws` server, no permessage-deflate: compression would dominate the CPU.
        ws = web.WebSocketResponse(compress=False, autoping=True)
        await ws.prepare(request)
        thread_filter = request.query.get("threadId") or None
        run = self._current
        sock = _Socket(ws, thread_filter, run.run_id if run is not None else -1)
        self._attach(sock)
        await ws.send_str(json.dumps({"type": "ready", "threadId": thread_filter}))
        if run is not None and not run.started:
            run.sockets_seen += 1
            if run.sockets_seen >= run.config.expect_sockets:
                run.started = True
                self._spawn(self._emit_run(run))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._command(sock, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await self._command(sock, msg.data.decode("utf-8", "replace"))
        finally:
            self._detach(sock)
        return ws

    async def _command(self, sock: _Socket, text: str) -> None:
        try:
            command = json.loads(text)
        except ValueError:
            command = None
        kind = command.get("type") if isinstance(command, dict) else None
        if kind == "ping":
            await sock.ws.send_str('{"type":"pong"}')
        elif kind == "subscribe" and isinstance(command, dict):
            thread = command.get("threadId")
            if isinstance(thread, str) and thread:
                self._detach(sock)
                sock.thread_filter = thread
                self._attach(sock)
                return
            await sock.ws.send_str('{"type":"error","message":"invalid websocket command"}')
        elif kind == "unsubscribe":
            self._detach(sock)
            sock.thread_filter = None
            self._attach(sock)
        else:
            await sock.ws.send_str('{"type":"error","message":"invalid websocket command"}')

    async def _deliver(self, thread_id: str, frame: str) -> None:
        """Send ``frame`` to every socket that receives events of ``thread_id``."""
        targets = list(self._unfiltered)
        group = self._by_thread.get(thread_id)
        if group:
            targets.extend(group)
        for sock in targets:
            try:
                await sock.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                self._detach(sock)  # a closing socket: the real server skips it too

    # ---- emission --------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _emit_run(self, run: _Run) -> None:
        await asyncio.sleep(_START_DELAY_S)
        warmup = min(run.config.warmup_calls, run.config.calls_per_session)
        if warmup:
            await asyncio.gather(*(self._emit_session(run, t, 0, warmup) for t in run.thread_ids))
            await run.warmed_up.wait()
        run.first_emit_ns = time.perf_counter_ns()
        await asyncio.gather(
            *(
                self._emit_session(run, t, warmup, run.config.calls_per_session)
                for t in run.thread_ids
            )
        )

    async def _emit_session(self, run: _Run, thread_id: str, first: int, end: int) -> None:
        frames = self._factory.for_thread(thread_id)
        window = run.windows.get(thread_id)
        noise = frames.noise
        alternate = run.config.noise_alternate
        for index in range(first, end):
            n_noise = run.config.noise if not alternate or index % 2 else 0
            if window is not None:
                await window.acquire()
            request_id = self._next_request_id
            self._next_request_id += 1
            tool_frame, requested_frame = frames.call_frames(request_id, index)
            first_ns = time.perf_counter_ns()
            for k in range(n_noise):
                await self._deliver(thread_id, noise[(index * n_noise + k) % len(noise)])
            sent_ns = time.perf_counter_ns()
            rid = str(request_id)
            self._pending[rid] = _Call(
                run=run,
                request_id=rid,
                frames=frames,
                index=index,
                first_ns=first_ns,
                sent_ns=sent_ns,
                noise=n_noise,
                measured=index >= run.config.warmup_calls,
            )
            run.emitted += 1
            await self._deliver(thread_id, tool_frame)
            await self._deliver(thread_id, requested_frame)
            if window is None:
                await asyncio.sleep(0)  # unlimited: still let other sessions and answers in

    # ---- REST ------------------------------------------------------------------------------

    async def _respond(self, request: web.Request) -> web.Response:
        received_ns = time.perf_counter_ns()
        request_id = request.match_info["request_id"]
        body = await request.read()
        call = self._pending.pop(request_id, None)
        if call is None:
            if self._current is not None:
                self._current.not_found_answers += 1
            return web.Response(
                status=404,
                text=json.dumps({"status": "not_found", "requestId": request_id}),
                content_type=_JSON,
            )
        run = call.run
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            self._pending[request_id] = call  # invalid body: the call stays pending
            run.bad_bodies += 1
            return web.Response(
                status=400,
                text='{"status":"error","code":"invalid_request","message":"invalid body"}',
                content_type=_JSON,
            )
        run.answered += 1
        run.last_answer_ns = received_ns
        if not call.measured:
            run.warmup_answered += 1
            if run.warmup_answered >= run.config.sessions * run.config.warmup_calls:
                run.warmed_up.set()
        else:
            run.measured_answered += 1
            run.latencies_ns.append(received_ns - call.sent_ns)
            run.answer_ns.append(received_ns)
            run.noise_latencies_ns.append(received_ns - call.first_ns)
            run.noise_frames.append(call.noise)
        thread_id = call.frames.thread_id
        await self._deliver(thread_id, call.frames.resolved_frame(request_id))
        window = run.windows.get(thread_id)
        if window is not None:
            window.release()
        if run.answered >= run.expected:
            run.complete.set()
        return web.Response(
            text=json.dumps({"status": "ok", "requestId": request_id, "threadId": thread_id}),
            content_type=_JSON,
        )

    async def _list_pending(self, request: web.Request) -> web.Response:
        session_id = request.match_info["session_id"]
        calls = [c for c in self._pending.values() if c.frames.thread_id == session_id]
        calls.sort(key=lambda c: int(c.request_id))
        if self._current is not None:
            self._current.pending_lists_served += 1
        records = ",".join(c.frames.pending_json(int(c.request_id), c.index) for c in calls)
        return web.Response(text=f'{{"data":[{records}]}}', content_type=_JSON)

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text='{"status":"ok"}', content_type=_JSON)

    # ---- bench control ---------------------------------------------------------------------

    async def _create_run(self, request: web.Request) -> web.Response:
        config = msgspec.json.decode(await request.read(), type=RunConfig)
        run_id = len(self._runs) + 1
        threads = [thread_id_for(i, run_id) for i in range(config.sessions)]
        windows = (
            {t: asyncio.Semaphore(config.window) for t in threads} if config.window > 0 else {}
        )
        run = _Run(run_id=run_id, config=config, thread_ids=threads, windows=windows)
        self._runs[run_id] = run
        self._current = run
        # Calls left over from an earlier run (a client that gave up) must not leak into this one.
        self._pending.clear()
        created = RunCreated(run_id=run_id, thread_ids=threads)
        return web.Response(body=msgspec.json.encode(created), content_type=_JSON)

    async def _results(self, request: web.Request) -> web.Response:
        run = self._runs.get(int(request.match_info["run_id"]))
        if run is None:
            return web.Response(status=404, text='{"status":"not_found"}', content_type=_JSON)
        wait_s = float(request.query.get("wait", "0"))
        if wait_s > 0 and not run.complete.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.complete.wait(), wait_s)
        return web.Response(body=msgspec.json.encode(run.results()), content_type=_JSON)


async def serve(port: int = 0) -> None:
    """Serve on 127.0.0.1 until cancelled, printing the bound port first."""
    server = BenchServer()
    runner = web.AppRunner(server.app(), access_log=None, handle_signals=False)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    site = web.SockSite(runner, sock)
    await site.start()
    print(f"BENCH_SERVER_PORT={sock.getsockname()[1]}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    """Entry point of ``python -m bench.server``."""
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(port))


if __name__ == "__main__":
    main()
