"""The asyncio ``AsyncEventStream`` over a real loopback websocket.

Same server and same rules as test_sync_stream.py: wait on observed events, not on time.
Blocking server controls run in a worker thread (``asyncio.to_thread``). Every test runs on
both websocket libraries the stream can read with (aiohttp's and ``websockets.asyncio``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import threading
from collections.abc import AsyncGenerator, Callable

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection

from codex_manager import retry
from codex_manager.config import ClientConfig
from codex_manager.retry import RetryPolicy
from codex_manager.stream import (
    AppServerSignal,
    AsyncEventStream,
    DeadConnectionError,
    HandlerContext,
    HandlerError,
    Reconnected,
    StreamConnectionError,
    StreamError,
    StreamEvent,
    StreamFrameError,
    StreamOptions,
    StreamRefusedError,
    StreamServerError,
    WebSocketClientChoice,
)
from codex_manager.stream.async_socket import AsyncWebSocket
from codex_manager.stream.async_stream import _Liveness

from .peer_server import PeerServer, ready_events_then_close
from .raw_peer import RawPeer, RawPeerServer
from .ws_server import FakeClient, MiniStreamServer, Recorder, tool_call_signal

FAST_RECONNECT = RetryPolicy(max_attempts=1000, initial_delay=0.01, max_delay=0.1)


def deeply_nested() -> str:
    """Valid JSON deeper than the recursion limit (now: tools may raise it): msgspec raises
    RecursionError on it."""
    depth = sys.getrecursionlimit() + 50
    return '{"type":"deep","threadId":"t","payload":' + "[" * depth + "]" * depth + "}"


LIBRARY: WebSocketClientChoice = "auto"
"""``StreamOptions.websocket_client`` of every stream the tests build (set per test below)."""


@pytest.fixture(autouse=True, params=["aiohttp", "websockets"])
def websocket_library(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> WebSocketClientChoice:
    """Run each test with the stream read by one library, then the other."""
    library: WebSocketClientChoice = request.param
    monkeypatch.setattr(sys.modules[__name__], "LIBRARY", library)
    return library


Context = HandlerContext[FakeClient]


def make_stream(
    server: MiniStreamServer, *, ping_interval: float = 15.0, pong_timeout: float = 10.0
) -> AsyncEventStream[FakeClient]:
    settings = StreamOptions(
        ping_interval=ping_interval,
        pong_timeout=pong_timeout,
        reconnect=FAST_RECONNECT,
        shutdown_timeout=5.0,
        websocket_client=LIBRARY,
    )
    return AsyncEventStream(FakeClient(server.config), options=settings)


async def finish(stream: AsyncEventStream[FakeClient], runner: asyncio.Task[None]) -> None:
    stream.stop()
    async with asyncio.timeout(10):
        await runner
    assert not stream.running


async def wait_until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition`` holds; fails the test after 10 s."""
    async with asyncio.timeout(10):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


async def test_thread_filter_is_active_from_the_first_frame(server: MiniStreamServer) -> None:
    stream = make_stream(server)
    seen: list[tuple[str, str | None]] = []

    @stream.on_event_prefix("")
    async def record(event: StreamEvent, context: Context) -> None:
        seen.append((event.type, event.thread_id))
        if event.type == "done":
            context.stop()

    def feed() -> None:
        server.wait_for_connections(1)
        server.publish("other_thread", "t2", {})
        server.publish("mine", "t1", {})
        server.send_raw('{"type":"leaked","threadId":"t2","payload":{}}')
        server.send_raw('{"type":"broadcast","threadId":null,"payload":{}}')
        server.wait_for_command({"type": "subscribe", "threadId": "t1"})
        server.publish("done", "t1", {})

    feeder = asyncio.create_task(asyncio.to_thread(feed))
    await stream.run_forever(thread_id="t1")
    await feeder
    # Order is kept per thread only (the broadcast has its own lane).
    assert sorted(seen, key=str) == [("broadcast", None), ("done", "t1"), ("mine", "t1")]
    assert server.paths == ["/api/stream?threadId=t1"]


async def test_typed_tool_call_and_sync_handler_off_the_loop(server: MiniStreamServer) -> None:
    stream = make_stream(server)
    loop_thread = threading.get_ident()
    calls: list[tuple[AppServerSignal, bool]] = []

    @stream.on_app_server_request("item.tool.call")
    def on_tool_call(signal: AppServerSignal, context: Context) -> None:
        # Sync handlers of the async stream run in a worker thread, never on the loop.
        calls.append((signal, threading.get_ident() != loop_thread))
        context.stop()

    async def feed() -> None:
        await asyncio.to_thread(server.wait_for_command, {"type": "subscribe", "threadId": "t1"})
        server.publish("app_server.request.item.tool.call", "t1", tool_call_signal("t1", 7, "c7"))

    feeder = asyncio.create_task(feed())
    await stream.run_forever(thread_id="t1")
    await feeder
    ((signal, off_loop),) = calls
    assert off_loop
    assert signal.tool_call is not None
    assert (signal.request_id, signal.tool_call.call_id) == (7, "c7")


async def test_pongs_keep_the_connection_and_missing_pongs_kill_it(
    server: MiniStreamServer,
) -> None:
    stream = make_stream(server, ping_interval=0.02, pong_timeout=0.5)
    errors: Recorder[StreamError] = Recorder()
    reconnects: Recorder[Reconnected] = Recorder()
    stream.on_error(lambda error, context: errors.add(error))
    stream.on_reconnect(lambda notice, context: reconnects.add(notice))
    runner = asyncio.create_task(stream.run_forever())
    await asyncio.to_thread(server.wait_for_command, {"type": "ping"}, 50)
    assert server.connections_opened == 1
    assert errors.snapshot() == []
    server.answer_pings = False
    (error,) = await asyncio.to_thread(errors.wait_for, 1)
    assert isinstance(error, DeadConnectionError)
    server.answer_pings = True
    await asyncio.to_thread(server.wait_for_connections, 2)
    (notice,) = await asyncio.to_thread(reconnects.wait_for, 1)
    assert notice.reconnects == 1
    await finish(stream, runner)


@pytest.mark.parametrize("fault", ["drop", "restart"])
async def test_reconnects_after_drop_or_restart(server: MiniStreamServer, fault: str) -> None:
    stream = make_stream(server)
    reconnects: Recorder[Reconnected] = Recorder()
    errors: Recorder[StreamError] = Recorder()
    events: Recorder[str] = Recorder()

    @stream.on_reconnect
    async def reconnected(notice: Reconnected, context: Context) -> None:
        reconnects.add(notice)

    stream.on_error(lambda error, context: errors.add(error))
    stream.on_event("tick")(lambda event, context: events.add(str(event.payload)))
    runner = asyncio.create_task(stream.run_forever(thread_id="t1"))
    await asyncio.to_thread(server.wait_for_command, {"type": "subscribe", "threadId": "t1"})
    server.publish("tick", "t1", "before")
    await asyncio.to_thread(events.wait_for, 1)
    if fault == "drop":
        server.drop_connections()
    else:
        await asyncio.to_thread(server.restart)
    (notice,) = await asyncio.to_thread(reconnects.wait_for, 1)
    assert (notice.thread_id, notice.reconnects) == ("t1", 1)
    await asyncio.to_thread(server.wait_for_command, {"type": "subscribe", "threadId": "t1"}, 2)
    server.publish("tick", "t1", "after")
    assert await asyncio.to_thread(events.wait_for, 2) == ["before", "after"]
    assert any(isinstance(error, StreamConnectionError) for error in errors.snapshot())
    await finish(stream, runner)


async def test_slow_handler_delays_nobody_else(server: MiniStreamServer) -> None:
    stream = make_stream(server)
    release = asyncio.Event()
    slow_seen: list[tuple[str | None, object]] = []
    fast_seen: list[tuple[str | None, object]] = []
    total = 20
    all_slow = asyncio.Event()

    @stream.on_event("work")
    async def slow(event: StreamEvent, context: Context) -> None:
        slow_seen.append((event.thread_id, event.payload))
        if (event.thread_id, event.payload) == ("t1", 0):
            async with asyncio.timeout(10):  # fails the test if the stream waited for us
                await release.wait()
        if len(slow_seen) == total:
            all_slow.set()

    @stream.on_event("work")
    async def fast(event: StreamEvent, context: Context) -> None:
        fast_seen.append((event.thread_id, event.payload))
        if len(fast_seen) == total:
            # t1 of the slow handler is still blocked; its t2 lane went on.
            assert len(slow_seen) == 1 + total // 2
            release.set()

    runner = asyncio.create_task(stream.run_forever())
    await asyncio.to_thread(server.wait_for_connections, 1)
    for index in range(total // 2):
        server.publish("work", "t1", index)
        server.publish("work", "t2", index)
    async with asyncio.timeout(10):
        await all_slow.wait()
    for thread in ("t1", "t2"):
        assert [n for t, n in slow_seen if t == thread] == list(range(total // 2))
        assert [n for t, n in fast_seen if t == thread] == list(range(total // 2))
    await finish(stream, runner)


async def test_raising_handler_is_reported_and_the_stream_goes_on(
    server: MiniStreamServer,
) -> None:
    stream = make_stream(server)
    errors: Recorder[StreamError] = Recorder()
    survivors: Recorder[object] = Recorder()

    @stream.on_event("boom")
    async def explode(event: StreamEvent, context: Context) -> None:
        raise RuntimeError(f"bad {event.payload}")

    @stream.on_event("boom")
    def explode_sync(event: StreamEvent, context: Context) -> None:
        raise KeyError(event.payload)

    @stream.on_event("boom")
    async def survive(event: StreamEvent, context: Context) -> None:
        survivors.add(event.payload)

    @stream.on_error
    async def report(error: StreamError, context: Context) -> None:
        errors.add(error)
        raise ValueError("error handlers may fail too")

    runner = asyncio.create_task(stream.run_forever())
    await asyncio.to_thread(server.wait_for_connections, 1)
    server.publish("boom", "t", 1)
    server.publish("boom", "t", 2)
    assert await asyncio.to_thread(survivors.wait_for, 2) == [1, 2]
    reported = await asyncio.to_thread(errors.wait_for, 4)
    assert all(isinstance(error, HandlerError) for error in reported)
    raised = sorted(type(e.exception).__name__ for e in reported if isinstance(e, HandlerError))
    assert raised == ["KeyError", "KeyError", "RuntimeError", "RuntimeError"]
    await finish(stream, runner)


async def test_unknown_malformed_and_binary_frames_are_survived(
    server: MiniStreamServer,
) -> None:
    stream = make_stream(server)
    errors: Recorder[StreamError] = Recorder()
    seen: Recorder[str] = Recorder()
    stream.on_error(lambda error, context: errors.add(error))
    stream.on_event_prefix("")(lambda event, context: seen.add(event.type))
    runner = asyncio.create_task(stream.run_forever())
    await asyncio.to_thread(server.wait_for_connections, 1)
    server.send_raw(b"\x00\x01binary")
    server.send_raw("{not json")
    server.send_raw('{"type": 42}')
    server.send_raw('{"type":"app_server.request.item.tool.call","threadId":"t","payload":{}}')
    server.send_raw('{"type":"error","message":"invalid websocket command"}')
    server.send_raw(deeply_nested())
    server.publish("never_seen_before", "t", {"any": "thing"})
    assert await asyncio.to_thread(seen.wait_for, 1) == ["never_seen_before"]
    reported = await asyncio.to_thread(errors.wait_for, 6)
    assert [type(error) for error in reported] == [StreamFrameError] * 4 + [
        StreamServerError,
        StreamFrameError,
    ]
    assert server.connections_opened == 1
    await finish(stream, runner)


async def test_stop_from_a_handler_returns_run_forever(server: MiniStreamServer) -> None:
    stream = make_stream(server)

    @stream.on_event("stop_now")
    def stopper(event: StreamEvent, context: Context) -> None:
        context.stop()  # from a worker thread

    async def feed(count: int) -> None:
        await asyncio.to_thread(server.wait_for_connections, count)
        server.publish("stop_now", "t", count)

    feeder = asyncio.create_task(feed(1))
    await stream.run_forever()
    await feeder
    assert not stream.running
    feeder = asyncio.create_task(feed(2))
    await stream.run_forever()  # runs again after a stop
    await feeder


async def test_stop_from_another_thread(server: MiniStreamServer) -> None:
    stream = make_stream(server)
    runner = asyncio.create_task(stream.run_forever())
    await asyncio.to_thread(server.wait_for_connections, 1)
    await asyncio.to_thread(stream.stop)
    async with asyncio.timeout(10):
        await runner


async def test_a_stop_while_no_run_goes_ends_the_next_run_and_says_so(
    server: MiniStreamServer, caplog: pytest.LogCaptureFixture
) -> None:
    stream = make_stream(server)
    stream.stop()
    with caplog.at_level(logging.WARNING, logger="codex_manager.stream"):
        async with asyncio.timeout(10):
            await stream.run_forever()  # returns at once
    assert "stop() was called while no run was going" in caplog.text
    caplog.clear()
    runner = asyncio.create_task(stream.run_forever())  # consumed: this one runs
    await asyncio.to_thread(server.wait_for_connections, 1)
    assert not runner.done()
    stream.stop()
    async with asyncio.timeout(10):
        await runner
    assert "no run was going" not in caplog.text


async def test_events_iterator_with_stop(server: MiniStreamServer) -> None:
    stream = make_stream(server)

    def feed() -> None:
        server.wait_for_command({"type": "subscribe", "threadId": "t"})
        for index in range(5):
            server.publish("n", "t", index)

    feeder = asyncio.create_task(asyncio.to_thread(feed))
    received: list[object] = []
    async for event in stream.events(thread_id="t"):
        received.append(event.payload)
        if len(received) == 3:
            stream.stop()
    await feeder
    assert received[:3] == [0, 1, 2]
    assert not stream.running


async def test_reconnect_policy_exhaustion_raises() -> None:
    with MiniStreamServer() as closed:
        config = closed.config
    stream = AsyncEventStream(
        FakeClient(config),
        options=StreamOptions(
            reconnect=RetryPolicy(max_attempts=2, initial_delay=0.01), websocket_client=LIBRARY
        ),
    )
    errors: list[StreamError] = []
    stream.on_error(lambda error, context: errors.append(error))
    with pytest.raises(StreamConnectionError):
        await stream.run_forever()
    assert len(errors) == 2


async def test_a_server_that_closes_right_after_ready_is_backed_off_and_given_up_on(
    server: MiniStreamServer,
) -> None:
    server.close_after_ready = True
    stream = AsyncEventStream(
        FakeClient(server.config),
        options=StreamOptions(
            reconnect=RetryPolicy(max_attempts=3, initial_delay=0.01), websocket_client=LIBRARY
        ),
    )
    try:
        with pytest.raises(StreamConnectionError):
            await asyncio.wait_for(stream.run_forever(), 10)
    finally:
        stream.stop()
    assert server.connections_opened == 3


async def test_a_close_frame_without_the_tcp_close_ends_the_connection_on_time() -> None:
    # websockets enforced its close deadline only when sending: a peer that sent a close
    # frame and held the TCP connection open kept recv() waiting for the next ping (15 s).
    release = threading.Event()

    def close_and_hold(peer: RawPeer) -> None:
        peer.text({"type": "ready", "threadId": None})
        if len(peers.peers) == 1:
            peer.protocol.send_close(1001, "going away")
        peer.write()
        release.wait(10)

    peers = RawPeerServer(close_and_hold)
    stream = AsyncEventStream(
        FakeClient(ClientConfig(base_url=peers.base_url)),
        options=StreamOptions(
            close_timeout=0.2, reconnect=FAST_RECONNECT, websocket_client=LIBRARY
        ),
    )
    reconnected = asyncio.Event()
    stream.on_reconnect(lambda notice, context: reconnected.set())
    runner = asyncio.create_task(stream.run_forever())
    try:
        await asyncio.wait_for(reconnected.wait(), 5)
    finally:
        release.set()
        stream.stop()
        await runner
        peers.close()


async def test_a_flapping_server_that_holds_the_tcp_connection_is_given_up_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its connections "lasted" up to the end of the close handshake (close_timeout, which
    # the peer made the client wait out): healthy each time, so max_attempts never ended it.
    monkeypatch.setattr(retry, "HEALTHY_AFTER_SECONDS", 0.3)
    release = threading.Event()

    def ready_then_close_and_hold(peer: RawPeer) -> None:
        peer.text({"type": "ready", "threadId": None})
        peer.protocol.send_close(1001, "going away")
        peer.write()
        release.wait(10)

    peers = RawPeerServer(ready_then_close_and_hold)
    stream = AsyncEventStream(
        FakeClient(ClientConfig(base_url=peers.base_url)),
        options=StreamOptions(
            close_timeout=0.5,
            reconnect=RetryPolicy(max_attempts=3, initial_delay=0.01),
            websocket_client=LIBRARY,
        ),
    )
    try:
        with pytest.raises(StreamConnectionError):
            await asyncio.wait_for(stream.run_forever(), 10)
    finally:
        release.set()
        stream.stop()
        peers.close()
    assert len(peers.peers) == 3


async def test_refused_upgrade_is_final(server: MiniStreamServer) -> None:
    server.reject_status = 404
    stream = make_stream(server)
    with pytest.raises(StreamRefusedError) as caught:
        await stream.run_forever()
    assert caught.value.status_code == 404


async def test_running_twice_is_refused(server: MiniStreamServer) -> None:
    stream = make_stream(server)
    runner = asyncio.create_task(stream.run_forever())
    await asyncio.to_thread(server.wait_for_connections, 1)
    with pytest.raises(RuntimeError, match="already running"):
        await stream.run_forever()
    await finish(stream, runner)


async def test_aclosing_events_closes_the_connection_on_early_break(
    server: MiniStreamServer,
) -> None:
    stream = make_stream(server)

    def feed() -> None:
        server.wait_for_connections(1)
        for index in range(3):
            server.publish("n", "t", index)

    feeder = asyncio.create_task(asyncio.to_thread(feed))
    events: AsyncGenerator[StreamEvent, None] = stream.events()
    async with contextlib.aclosing(events) as iterator:
        async for event in iterator:
            first = event.payload
            break
    await feeder
    assert first == 0
    assert not stream.running
    # Blocking the event loop on purpose: only a close completed inside aclose() lets the
    # server see the connection end; one left to a later task on the loop could not.
    server.wait_for_no_connections()
    assert server.connections_opened == 1


async def test_stop_is_prompt_while_stuck_handlers_fill_max_pending(
    server: MiniStreamServer,
) -> None:
    settings = StreamOptions(
        max_concurrency=2,
        max_pending=2,
        shutdown_timeout=0.05,
        reconnect=FAST_RECONNECT,
        websocket_client=LIBRARY,
    )
    stream = AsyncEventStream(FakeClient(server.config), options=settings)
    release = asyncio.Event()  # never set while the stream runs
    started: Recorder[object] = Recorder()

    @stream.on_event("work")
    async def stuck(event: StreamEvent, context: Context) -> None:
        started.add(event.payload)
        await release.wait()

    runner = asyncio.create_task(stream.run_forever())
    await asyncio.to_thread(server.wait_for_connections, 1)
    for index in range(3):  # one lane per thread: the third call finds no free slot
        server.publish("work", f"t{index}", index)
    await asyncio.to_thread(started.wait_for, 2)
    dispatcher = stream._dispatcher
    assert dispatcher is not None
    await wait_until(lambda: dispatcher.waiting_for_slot)  # the reader is held back now
    stream.stop()
    # Without the fix the reader waits for a slot that the stuck handlers never free.
    async with asyncio.timeout(10):
        await runner
    release.set()
    assert not stream.running
    assert sorted(started.snapshot(), key=str) == [0, 1]  # the held-back call was dropped


async def test_events_between_ready_and_a_close_reach_their_handlers(
    peer: Callable[..., PeerServer],
) -> None:
    # The subscribe command then meets a closing connection: the events the server sent
    # before its close must still be handled, and the stream reconnect.
    talk, connections = ready_events_then_close("t1", 5)
    server = peer(talk)
    options = StreamOptions(
        reconnect=FAST_RECONNECT, shutdown_timeout=5.0, websocket_client=LIBRARY
    )
    stream = AsyncEventStream(FakeClient(server.config), options=options)
    seen: Recorder[object] = Recorder()
    stream.on_event("tick")(lambda event, context: seen.add(event.payload))
    runner = asyncio.create_task(stream.run_forever(thread_id="t1"))
    await wait_until(lambda: len(seen.snapshot()) == 5 and len(connections) >= 2)
    await finish(stream, runner)
    assert seen.snapshot() == [0, 1, 2, 3, 4]


async def test_handlers_holding_the_reader_past_the_pong_timeout_do_not_kill_the_connection(
    server: MiniStreamServer,
) -> None:
    # One pending slot and a handler that takes a second: the reader waits for the slot
    # and reads no pong meanwhile. The connection is alive all along: nothing may be lost.
    settings = StreamOptions(
        max_concurrency=1,
        max_pending=1,
        ping_interval=0.1,
        pong_timeout=0.3,
        reconnect=FAST_RECONNECT,
        shutdown_timeout=5.0,
        websocket_client=LIBRARY,
    )
    stream = AsyncEventStream(FakeClient(server.config), options=settings)
    seen: Recorder[object] = Recorder()
    errors: Recorder[StreamError] = Recorder()
    stream.on_error(lambda error, context: errors.add(error))

    @stream.on_event("work")
    async def slow(event: StreamEvent, context: Context) -> None:
        if event.payload == 0:
            await asyncio.sleep(1.0)
        seen.add(event.payload)

    runner = asyncio.create_task(stream.run_forever())
    await asyncio.to_thread(server.wait_for_command, {"type": "ping"})
    for number in range(100):
        server.publish("work", "t1", number)
    await wait_until(lambda: len(seen.snapshot()) == 100)
    await finish(stream, runner)
    assert seen.snapshot() == list(range(100))
    assert not [error for error in errors.snapshot() if isinstance(error, DeadConnectionError)]
    assert server.connections_opened == 1


def _short_shutdown(server: MiniStreamServer, seconds: float) -> AsyncEventStream[FakeClient]:
    settings = StreamOptions(
        reconnect=FAST_RECONNECT, shutdown_timeout=seconds, websocket_client=LIBRARY
    )
    return AsyncEventStream(FakeClient(server.config), options=settings)


async def test_stop_cancels_on_error_handlers_still_running_after_the_shutdown_timeout(
    server: MiniStreamServer,
) -> None:
    stream = _short_shutdown(server, 0.2)
    reported: Recorder[StreamError] = Recorder()

    @stream.on_event("boom")
    async def explode(event: StreamEvent, context: Context) -> None:
        raise RuntimeError("boom")

    @stream.on_error
    async def hangs(error: StreamError, context: Context) -> None:
        reported.add(error)
        await asyncio.sleep(3600)  # an alerting call that never returns, say

    runner = asyncio.create_task(stream.run_forever())
    await asyncio.to_thread(server.wait_for_connections, 1)
    server.publish("boom", "t1", 1)
    await asyncio.to_thread(reported.wait_for, 1)
    stream.stop()
    async with asyncio.timeout(3):
        await runner
    assert not stream.running


async def test_a_second_cancel_during_shutdown_still_leaves_the_stream_stopped(
    server: MiniStreamServer,
) -> None:
    stream = _short_shutdown(server, 5.0)
    started: Recorder[object] = Recorder()
    handler_cancelled = asyncio.Event()

    @stream.on_event("work")
    async def stuck(event: StreamEvent, context: Context) -> None:
        started.add(event.payload)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            handler_cancelled.set()
            raise

    runner = asyncio.create_task(stream.run_forever())
    await asyncio.to_thread(server.wait_for_connections, 1)
    server.publish("work", "t1", 1)
    await asyncio.to_thread(started.wait_for, 1)
    runner.cancel()
    await asyncio.sleep(0.1)  # the stream now waits out its 5 s grace for the handler
    runner.cancel()  # an outer timeout or a TaskGroup, say
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert not stream.running
    async with asyncio.timeout(2):
        await handler_cancelled.wait()


async def test_stop_ends_an_opening_handshake_at_once() -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never answers the upgrade
    try:
        settings = StreamOptions(
            open_timeout=30.0, reconnect=FAST_RECONNECT, websocket_client=LIBRARY
        )
        base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        stream = AsyncEventStream(FakeClient(ClientConfig(base_url=base_url)), options=settings)
        runner = asyncio.create_task(stream.run_forever())
        await asyncio.sleep(0.3)  # in the handshake now
        stream.stop()
        async with asyncio.timeout(3):
            await runner
        assert not stream.running
    finally:
        listener.close()


async def test_a_cancel_that_comes_while_a_lost_connection_is_wound_up_is_kept(
    server: MiniStreamServer,
) -> None:
    # The cancel lands while the reader of a lost connection waits for its keepalive task to
    # end: it must end run_forever(), not pass for the keepalive's own cancellation.
    running: list[asyncio.Task[None]] = []

    class CancelledWhileWindingUp(AsyncEventStream[FakeClient]):
        async def _keepalive(self, websocket: AsyncWebSocket, liveness: _Liveness) -> None:
            try:
                await super()._keepalive(websocket, liveness)
            except asyncio.CancelledError:
                running[0].cancel()  # an outer timeout or TaskGroup, at that very moment
                raise

    settings = StreamOptions(
        reconnect=FAST_RECONNECT, shutdown_timeout=1.0, websocket_client=LIBRARY
    )
    stream = CancelledWhileWindingUp(FakeClient(server.config), options=settings)
    runner = asyncio.create_task(stream.run_forever())
    running.append(runner)
    await asyncio.to_thread(server.wait_for_connections, 1)
    await asyncio.sleep(0.1)
    server.drop_connections()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(5):
            await runner
    assert not stream.running


def _stream_sending(peer: Callable[..., PeerServer], *frames: str) -> AsyncEventStream[FakeClient]:
    """A stream whose server says ``ready``, then sends ``frames``."""

    def talk(connection: ServerConnection) -> None:
        connection.send('{"type":"ready","threadId":null}')
        for frame in frames:
            connection.send(frame)

    server = peer(talk)
    return AsyncEventStream(
        FakeClient(server.config), options=StreamOptions(websocket_client=LIBRARY)
    )


async def test_every_error_handler_hears_of_a_failure_met_while_stopping(
    peer: Callable[..., PeerServer],
) -> None:
    # The executor was shut down before the error handlers ran: the first plain one ran, the
    # second met "cannot schedule new futures after shutdown" (the sync stream runs both).
    stream = _stream_sending(peer, '{"type":"boom","threadId":"t","payload":1}')
    heard: list[str] = []

    @stream.on_event("boom")
    def boom(event: StreamEvent, context: Context) -> None:
        context.stop()
        raise RuntimeError("failed while stopping")

    @stream.on_error
    def first(error: StreamError, context: Context) -> None:
        heard.append("first")

    @stream.on_error
    def second(error: StreamError, context: Context) -> None:
        heard.append("second")

    async with asyncio.timeout(10):
        await stream.run_forever()
    assert heard == ["first", "second"]


async def test_a_missing_ready_frame_is_a_failed_attempt_not_a_dead_connection(
    peer: Callable[..., PeerServer],
) -> None:
    # As on the sync stream: DeadConnectionError means a missing pong.
    def silent(connection: ServerConnection) -> None:  # accepts, never says ready
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            connection.recv(timeout=3)

    server = peer(silent)
    options = StreamOptions(
        open_timeout=0.3,
        reconnect=RetryPolicy(max_attempts=1, initial_delay=0.01),
        websocket_client=LIBRARY,
    )
    stream = AsyncEventStream(FakeClient(server.config), options=options)
    with pytest.raises(StreamConnectionError, match="no ready frame") as caught:
        async with asyncio.timeout(10):
            await stream.run_forever()
    assert not isinstance(caught.value, DeadConnectionError)


class _OutcomeError(BaseException):
    """Not an Exception, as pytest's ``Failed`` is not."""


@pytest.mark.parametrize("kind", [SystemExit, _OutcomeError])
async def test_an_error_handler_raising_a_base_exception_is_contained(
    peer: Callable[..., PeerServer], kind: type[BaseException]
) -> None:
    # A plain on_error handler's SystemExit ended the event loop; any other BaseException was
    # lost in its task ("Task exception was never retrieved") and the next handler not run.
    stream = _stream_sending(
        peer,
        '{"type":"boom","threadId":"t","payload":1}',
        '{"type":"last","threadId":"t","payload":2}',
    )
    heard: list[str] = []

    @stream.on_event("boom")
    def boom(event: StreamEvent, context: Context) -> None:
        raise RuntimeError("boom")

    @stream.on_event("last")
    def last(event: StreamEvent, context: Context) -> None:
        heard.append("last")
        context.stop()

    @stream.on_error
    def first(error: StreamError, context: Context) -> None:
        heard.append("first")
        raise kind("from on_error")

    @stream.on_error
    def second(error: StreamError, context: Context) -> None:
        heard.append("second")

    async with asyncio.timeout(10):
        await stream.run_forever()
    assert sorted(heard) == ["first", "last", "second"]
