"""The synchronous ``EventStream`` over a real loopback websocket.

The server is ``MiniStreamServer`` (tests/stream/ws_server.py), which speaks the
``/api/stream`` protocol and misbehaves on demand. Assertions wait on observed events,
never on elapsed time.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Generator

import pytest

from codex_manager import retry
from codex_manager.config import ClientConfig
from codex_manager.retry import RetryPolicy
from codex_manager.stream import (
    AppServerSignal,
    DeadConnectionError,
    EventStream,
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
)
from codex_manager.stream.context import StreamClient

from .raw_peer import RawPeer, RawPeerServer
from .ws_server import FakeClient, MiniStreamServer, Recorder, tool_call_signal

Context = HandlerContext[FakeClient]

FAST_RECONNECT = RetryPolicy(max_attempts=1000, initial_delay=0.01, max_delay=0.1)


def deeply_nested() -> str:
    """Valid JSON deeper than the recursion limit (now: tools may raise it): msgspec raises
    RecursionError on it."""
    depth = sys.getrecursionlimit() + 50
    return '{"type":"deep","threadId":"t","payload":' + "[" * depth + "]" * depth + "}"


def make_stream(
    server: MiniStreamServer, *, ping_interval: float = 15.0, pong_timeout: float = 10.0
) -> EventStream[FakeClient]:
    settings = StreamOptions(
        ping_interval=ping_interval,
        pong_timeout=pong_timeout,
        reconnect=FAST_RECONNECT,
        shutdown_timeout=5.0,
    )
    return EventStream(FakeClient(server.config), options=settings)


def run_in_thread(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def when_connected(
    server: MiniStreamServer, count: int, then: Callable[[], None]
) -> threading.Thread:
    """In a helper thread: wait for the ``count``-th connection, then act."""

    def act() -> None:
        server.wait_for_connections(count)
        then()

    return run_in_thread(act)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def background(stream: EventStream[FakeClient], thread_id: str | None = None) -> threading.Thread:
    return run_in_thread(lambda: stream.run_forever(thread_id=thread_id))


def finish(stream: EventStream[FakeClient], runner: threading.Thread) -> None:
    stream.stop()
    runner.join(timeout=10)
    assert not runner.is_alive(), "run_forever did not return after stop()"
    assert not stream.running


def test_thread_filter_is_active_from_the_first_frame(server: MiniStreamServer) -> None:
    stream = make_stream(server)
    seen: Recorder[tuple[str, str | None]] = Recorder()

    @stream.on_event_prefix("")
    def record(event: StreamEvent, context: Context) -> None:
        seen.add((event.type, event.thread_id))
        if event.type == "done":
            context.stop()

    def feed() -> None:
        server.wait_for_connections(1)
        # Published right away: the server already filters by the query parameter.
        server.publish("other_thread", "t2", {})
        server.publish("mine", "t1", {})
        # A misbehaving server: the client still drops other threads' frames itself.
        server.send_raw('{"type":"leaked","threadId":"t2","payload":{}}')
        # A broadcast (e.g. account_rate_limits_updated) reaches filtered sockets too.
        server.send_raw('{"type":"broadcast","threadId":null,"payload":{}}')
        server.wait_for_command({"type": "subscribe", "threadId": "t1"})
        server.publish("done", "t1", {})

    feeder = run_in_thread(feed)
    stream.run_forever(thread_id="t1")
    feeder.join()
    # Order is kept per thread only (the broadcast has its own lane).
    assert sorted(seen.snapshot(), key=str) == [("broadcast", None), ("done", "t1"), ("mine", "t1")]
    assert server.paths == ["/api/stream?threadId=t1"]


def test_typed_tool_call_reaches_request_handler(server: MiniStreamServer) -> None:
    stream = make_stream(server)
    calls: Recorder[AppServerSignal] = Recorder()

    @stream.on_app_server_request("item.tool.call")
    def on_tool_call(signal: AppServerSignal, context: Context) -> None:
        assert context.thread_id == "t1"
        assert isinstance(context.client, FakeClient)
        calls.add(signal)
        context.stop()

    def feed() -> None:
        server.wait_for_command({"type": "subscribe", "threadId": "t1"})
        server.publish("app_server.request.item.tool.call", "t1", tool_call_signal("t1", 5, "c5"))

    run_in_thread(feed)
    stream.run_forever(thread_id="t1")
    (signal_,) = calls.snapshot()
    assert signal_.request_id == 5
    assert signal_.tool_call is not None
    assert (signal_.tool_call.call_id, signal_.tool_call.arguments) == ("c5", {"n": 5})


def test_pongs_keep_the_connection_and_missing_pongs_kill_it(server: MiniStreamServer) -> None:
    stream = make_stream(server, ping_interval=0.02, pong_timeout=0.5)
    errors: Recorder[StreamError] = Recorder()
    reconnects: Recorder[Reconnected] = Recorder()
    stream.on_error(lambda error, context: errors.add(error))
    stream.on_reconnect(lambda notice, context: reconnects.add(notice))
    runner = background(stream)
    # Fifty answered pings (about a second): a pong-handling bug would have cut the
    # connection after 0.5 s and reconnected.
    server.wait_for_command({"type": "ping"}, count=50)
    assert server.connections_opened == 1
    assert errors.snapshot() == []
    # Now the server goes silent: the stream must notice and replace the connection.
    server.answer_pings = False
    (error,) = errors.wait_for(1)
    assert isinstance(error, DeadConnectionError)
    server.answer_pings = True
    server.wait_for_connections(2)
    (notice,) = reconnects.wait_for(1)
    assert notice.reconnects == 1
    finish(stream, runner)


@pytest.mark.parametrize("fault", ["drop", "restart"])
def test_reconnects_after_drop_or_restart(server: MiniStreamServer, fault: str) -> None:
    stream = make_stream(server)
    reconnects: Recorder[Reconnected] = Recorder()
    errors: Recorder[StreamError] = Recorder()
    events: Recorder[str] = Recorder()
    stream.on_reconnect(lambda notice, context: reconnects.add(notice))
    stream.on_error(lambda error, context: errors.add(error))
    stream.on_event("tick")(lambda event, context: events.add(str(event.payload)))
    runner = background(stream, "t1")
    server.wait_for_command({"type": "subscribe", "threadId": "t1"})
    server.publish("tick", "t1", "before")
    events.wait_for(1)
    if fault == "drop":
        server.drop_connections()
    else:
        server.restart()
    (notice,) = reconnects.wait_for(1)
    assert (notice.thread_id, notice.reconnects) == ("t1", 1)
    # The new connection subscribed again.
    server.wait_for_command({"type": "subscribe", "threadId": "t1"}, count=2)
    server.publish("tick", "t1", "after")
    assert events.wait_for(2) == ["before", "after"]
    assert any(isinstance(error, StreamConnectionError) for error in errors.snapshot())
    finish(stream, runner)


def test_slow_handler_delays_nobody_else(server: MiniStreamServer) -> None:
    stream = make_stream(server)
    release = threading.Event()
    slow_seen: Recorder[tuple[str | None, int]] = Recorder()
    fast_seen: Recorder[tuple[str | None, int]] = Recorder()
    total = 20

    @stream.on_event("work")
    def slow(event: StreamEvent, context: Context) -> None:
        assert isinstance(event.payload, int)
        slow_seen.add((event.thread_id, event.payload))
        if event.thread_id == "t1" and event.payload == 0:
            # Blocks until the fast handler saw every event: if this held up the
            # reader or the other handlers, the wait would time out.
            assert release.wait(timeout=10), "a slow handler blocked the stream"

    @stream.on_event("work")
    def fast(event: StreamEvent, context: Context) -> None:
        assert isinstance(event.payload, int)
        fast_seen.add((event.thread_id, event.payload))
        if len(fast_seen.snapshot()) == total:
            release.set()

    runner = background(stream)
    server.wait_for_connections(1)
    for index in range(total // 2):
        server.publish("work", "t1", index)
        server.publish("work", "t2", index)
    fast_seen.wait_for(total)
    # While t1's lane of the slow handler is blocked, its t2 lane went on.
    slow_seen.wait_for(1 + total // 2)
    assert release.wait(timeout=10)
    slow_all = slow_seen.wait_for(total)
    # Per (handler, thread), events keep their order.
    for thread in ("t1", "t2"):
        assert [n for t, n in slow_all if t == thread] == list(range(total // 2))
        assert [n for t, n in fast_seen.snapshot() if t == thread] == list(range(total // 2))
    finish(stream, runner)


def test_raising_handler_is_reported_and_the_stream_goes_on(server: MiniStreamServer) -> None:
    stream = make_stream(server)
    errors: Recorder[StreamError] = Recorder()
    survivors: Recorder[object] = Recorder()

    @stream.on_event("boom")
    def explode(event: StreamEvent, context: Context) -> None:
        raise RuntimeError(f"bad {event.payload}")

    @stream.on_event("boom")
    def survive(event: StreamEvent, context: Context) -> None:
        survivors.add(event.payload)

    @stream.on_error
    def report(error: StreamError, context: Context) -> None:
        errors.add(error)
        raise ValueError("error handlers may fail too")

    runner = background(stream)
    server.wait_for_connections(1)
    server.publish("boom", "t", 1)
    server.publish("boom", "t", 2)
    assert survivors.wait_for(2) == [1, 2]
    reported = errors.wait_for(2)
    assert all(isinstance(error, HandlerError) for error in reported)
    first = reported[0]
    assert isinstance(first, HandlerError)
    assert isinstance(first.exception, RuntimeError)
    assert first.handler_name.endswith("explode")
    assert isinstance(first.item, StreamEvent)
    finish(stream, runner)


def test_unknown_malformed_and_binary_frames_are_survived(server: MiniStreamServer) -> None:
    stream = make_stream(server)
    errors: Recorder[StreamError] = Recorder()
    seen: Recorder[str] = Recorder()
    stream.on_error(lambda error, context: errors.add(error))
    stream.on_event_prefix("")(lambda event, context: seen.add(event.type))
    runner = background(stream)
    server.wait_for_connections(1)
    server.send_raw(b"\x00\x01binary")
    server.send_raw("{not json")
    server.send_raw('{"type": 42}')
    server.send_raw('{"type":"app_server.request.item.tool.call","threadId":"t","payload":{}}')
    server.send_raw('{"type":"error","message":"invalid websocket command"}')
    server.send_raw(deeply_nested())
    server.publish("never_seen_before", "t", {"any": "thing"})
    assert seen.wait_for(1) == ["never_seen_before"]
    reported = errors.wait_for(6)
    kinds = [type(error) for error in reported]
    assert kinds == [StreamFrameError] * 4 + [StreamServerError, StreamFrameError]
    assert isinstance(reported[0], StreamFrameError)
    assert reported[0].reason == "binary frame"
    assert server.connections_opened == 1
    finish(stream, runner)


def test_stop_from_a_handler_returns_run_forever(server: MiniStreamServer) -> None:
    stream = make_stream(server)

    @stream.on_event("stop_now")
    def stopper(event: StreamEvent, context: Context) -> None:
        context.stop()

    when_connected(server, 1, lambda: server.publish("stop_now", "t", 1))
    stream.run_forever()
    assert not stream.running
    # The stream can run again afterwards.
    when_connected(server, 2, lambda: server.publish("stop_now", "t", 2))
    stream.run_forever()


def test_no_handler_starts_for_an_event_read_after_stop(server: MiniStreamServer) -> None:
    # The hub went on handing events to handlers until the stream's thread noticed the stop
    # (up to a quarter of a second): 20 of 20 ran here; the async stream runs none.
    stream = make_stream(server)
    ticks: Recorder[object] = Recorder()
    stream.on_event("tick")(lambda event, context: ticks.add(event.payload))

    @stream.on_event("stop_now")
    def stopper(event: StreamEvent, context: Context) -> None:
        context.stop()
        for number in range(20):
            server.publish("tick", "t", number)
        time.sleep(0.1)  # the hub reads them meanwhile

    when_connected(server, 1, lambda: server.publish("stop_now", "t", 1))
    stream.run_forever()
    assert ticks.snapshot() == []


def _stop_is_prompt_against_a_silent_listener(scheme: str) -> None:
    """A listener that never accepts: the kernel completes the TCP connect, then nothing
    answers (neither the upgrade request nor, for https, the TLS ClientHello)."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    port = silent.getsockname()[1]
    try:
        stream: EventStream[FakeClient] = EventStream(
            FakeClient(ClientConfig(base_url=f"{scheme}://127.0.0.1:{port}")),
            options=StreamOptions(open_timeout=30, reconnect=FAST_RECONNECT),
        )
        runner = background(stream)
        time.sleep(0.3)  # in the handshake by now
        finish(stream, runner)  # within 10 s, not the 30 of open_timeout
    finally:
        silent.close()


def test_stop_is_prompt_while_the_server_never_answers_the_upgrade() -> None:
    # The opening handshake waited out open_timeout (10 s by default) before stop() took.
    _stop_is_prompt_against_a_silent_listener("http")


def test_stop_is_prompt_while_the_tls_handshake_goes_unanswered() -> None:
    # The TCP connect and the TLS handshake did not look at stop(): it took open_timeout.
    _stop_is_prompt_against_a_silent_listener("https")


def test_stop_is_prompt_while_the_tcp_connect_hangs() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(4):  # fill the accept queue: further SYNs are dropped
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        probe = socket.socket()
        fillers.append(probe)
        probe.settimeout(0.5)
        try:
            probe.connect(("127.0.0.1", port))
        except TimeoutError:
            pass
        else:
            pytest.skip("this system's accept queue does not make a connect hang")
        stream: EventStream[FakeClient] = EventStream(
            FakeClient(ClientConfig(base_url=f"http://127.0.0.1:{port}")),
            options=StreamOptions(open_timeout=30, reconnect=FAST_RECONNECT),
        )
        runner = background(stream)
        time.sleep(0.3)  # in the connect by now
        finish(stream, runner)
    finally:
        for held in fillers:
            held.close()
        listener.close()


def test_stop_from_another_thread(server: MiniStreamServer) -> None:
    stream = make_stream(server)
    runner = background(stream)
    server.wait_for_connections(1)
    finish(stream, runner)


def test_a_stop_while_no_run_goes_ends_the_next_run_and_says_so(
    server: MiniStreamServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Kept for the next run, so that a stop racing a run's start is not lost; but a left-over
    # stop (a clean-up stop() long before) must not end a run without a word.
    stream = make_stream(server)
    stream.stop()
    with caplog.at_level(logging.WARNING, logger="codex_manager.stream"):
        stream.run_forever()  # returns at once
    assert "stop() was called while no run was going" in caplog.text
    caplog.clear()
    runner = background(stream)  # consumed: the next run goes on until stopped
    server.wait_for_connections(1)
    finish(stream, runner)
    assert "no run was going" not in caplog.text


def test_ctrl_c_ends_run_forever_cleanly(server: MiniStreamServer) -> None:
    stream = make_stream(server)
    main = threading.main_thread().ident
    assert main == threading.get_ident(), "the test must run in the main thread"
    assert main is not None

    def interrupt() -> None:
        server.wait_for_connections(1)
        signal.pthread_kill(main, signal.SIGINT)

    run_in_thread(interrupt)
    stream.run_forever()  # returns instead of raising KeyboardInterrupt
    assert not stream.running


def test_stop_from_a_signal_handler(server: MiniStreamServer) -> None:
    stream = make_stream(server)
    main = threading.main_thread().ident
    assert main is not None
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: stream.stop())
    try:
        when_connected(server, 1, lambda: signal.pthread_kill(main, signal.SIGUSR1))
        stream.run_forever()
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_events_iterator_with_stop(server: MiniStreamServer) -> None:
    stream = make_stream(server)
    handled: Recorder[object] = Recorder()
    stream.on_event("n")(lambda event, context: handled.add(event.payload))

    def feed() -> None:
        server.wait_for_command({"type": "subscribe", "threadId": "t"})
        for index in range(5):
            server.publish("n", "t", index)

    run_in_thread(feed)
    received: list[object] = []
    for event in stream.events(thread_id="t"):
        received.append(event.payload)
        if len(received) == 3:
            stream.stop()
    assert received[:3] == [0, 1, 2]
    assert handled.wait_for(3)[:3] == [0, 1, 2]  # handlers run during iteration too
    assert not stream.running


def test_leaving_the_events_loop_closes_the_connection(server: MiniStreamServer) -> None:
    stream = make_stream(server)
    when_connected(server, 1, lambda: server.publish("n", None, 0))
    events: Generator[StreamEvent, None, None] = stream.events()
    with contextlib.closing(events) as iterator:
        for _event in iterator:
            break
    assert not stream.running
    server.wait_for_no_connections()
    assert server.connections_opened == 1


def test_stop_is_prompt_while_stuck_handlers_fill_max_pending(server: MiniStreamServer) -> None:
    settings = StreamOptions(
        max_concurrency=2, max_pending=2, shutdown_timeout=0.05, reconnect=FAST_RECONNECT
    )
    stream = EventStream(FakeClient(server.config), options=settings)
    release = threading.Event()  # never set while the stream runs
    started: Recorder[object] = Recorder()

    @stream.on_event("work")
    def stuck(event: StreamEvent, context: Context) -> None:
        started.add(event.payload)
        assert release.wait(30)

    runner = background(stream)
    server.wait_for_connections(1)
    for index in range(3):  # one lane per thread: the third call finds no free slot
        server.publish("work", f"t{index}", index)
    started.wait_for(2)
    dispatcher = stream._dispatcher
    assert dispatcher is not None
    wait_until(lambda: dispatcher.waiting_for_slot)  # the reader is held back now
    try:
        finish(stream, runner)
    finally:
        release.set()
    assert sorted(started.snapshot(), key=str) == [0, 1]  # the held-back call was dropped


def test_reconnect_policy_exhaustion_raises() -> None:
    # Nothing listens on this port (the server was stopped).
    with MiniStreamServer() as closed:
        config = closed.config
    stream: EventStream[FakeClient] = EventStream(
        FakeClient(config),
        options=StreamOptions(reconnect=RetryPolicy(max_attempts=2, initial_delay=0.01)),
    )
    errors: Recorder[StreamError] = Recorder()
    stream.on_error(lambda error, context: errors.add(error))
    with pytest.raises(StreamConnectionError):
        stream.run_forever()
    assert len(errors.wait_for(2)) == 2


def _how_it_ends(stream: EventStream[FakeClient]) -> StreamConnectionError | str:
    """What ``run_forever()`` ended with within 10 s (then it is stopped): the error it
    raised, ``"returned"``, or ``"still running"``."""
    outcome: list[StreamConnectionError | str] = []

    def run() -> None:
        try:
            stream.run_forever()
            outcome.append("returned")
        except StreamConnectionError as error:
            outcome.append(error)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(10)
    stream.stop()
    return outcome[0] if outcome else "still running"


def test_a_server_that_closes_right_after_ready_is_backed_off_and_given_up_on(
    server: MiniStreamServer,
) -> None:
    # Each ready reset the backoff: ~6 reconnects a second forever, max_attempts never met.
    server.close_after_ready = True
    stream: EventStream[FakeClient] = EventStream(
        FakeClient(server.config),
        options=StreamOptions(reconnect=RetryPolicy(max_attempts=3, initial_delay=0.01)),
    )
    assert isinstance(_how_it_ends(stream), StreamConnectionError)
    assert server.connections_opened == 3


def test_a_flapping_server_that_holds_the_tcp_connection_is_given_up_on(
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
    stream: EventStream[FakeClient] = EventStream(
        FakeClient(ClientConfig(base_url=peers.base_url)),
        options=StreamOptions(
            close_timeout=0.5, reconnect=RetryPolicy(max_attempts=3, initial_delay=0.01)
        ),
    )
    try:
        assert isinstance(_how_it_ends(stream), StreamConnectionError)
    finally:
        release.set()
        peers.close()
    assert len(peers.peers) == 3


@pytest.mark.parametrize(("status", "fatal"), [(404, True), (403, True), (503, False)])
def test_refused_upgrade(server: MiniStreamServer, status: int, fatal: bool) -> None:
    server.reject_status = status
    stream: EventStream[FakeClient] = EventStream(
        FakeClient(server.config),
        options=StreamOptions(reconnect=RetryPolicy(max_attempts=3, initial_delay=0.01)),
    )
    errors: Recorder[StreamError] = Recorder()
    stream.on_error(lambda error, context: errors.add(error))
    with pytest.raises(StreamConnectionError) as caught:
        stream.run_forever()
    # A 4xx refusal is final at once; a 5xx is retried until the policy gives up.
    assert isinstance(caught.value, StreamRefusedError) == fatal
    assert len(errors.snapshot()) == (1 if fatal else 3)
    if fatal:
        assert isinstance(caught.value, StreamRefusedError)
        assert caught.value.status_code == status


def test_running_twice_is_refused(server: MiniStreamServer) -> None:
    stream = make_stream(server)
    runner = background(stream)
    server.wait_for_connections(1)
    with pytest.raises(RuntimeError, match="already running"):
        stream.run_forever()
    finish(stream, runner)
    with pytest.raises(ValueError, match="thread_id"):
        stream.run_forever(thread_id="")
    with pytest.raises(ValueError, match="thread_id"):
        stream.events(thread_id="")  # at the call, not at the first next()


def test_client_protocol_accepts_plain_objects() -> None:
    client: StreamClient = FakeClient(ClientConfig())
    assert EventStream(client).client is client


@pytest.mark.parametrize(
    "variables",
    [("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"), ("ALL_PROXY",)],
)
def test_an_environment_proxy_is_honoured(
    server: MiniStreamServer, monkeypatch: pytest.MonkeyPatch, variables: tuple[str, ...]
) -> None:
    # The stream reads its own socket only when no proxy applies; otherwise websockets.sync
    # connects, through the proxy the REST calls take (ALL_PROXY alone included). Here the
    # proxy is a closed port, so the stream must fail although the server is listening.
    with MiniStreamServer() as closed:
        proxy = closed.config.base_url
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "WS_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name in variables:
        monkeypatch.setenv(name, proxy)
    stream: EventStream[FakeClient] = EventStream(
        FakeClient(server.config),
        options=StreamOptions(reconnect=RetryPolicy(max_attempts=1, initial_delay=0.01)),
    )
    with pytest.raises(StreamConnectionError):
        stream.run_forever()
    assert server.connections_opened == 0
    # Bypassed for the server's host: straight to the server again.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    connected: Recorder[int] = Recorder()

    @stream.on_connect
    def stop_once_connected(notice: object, context: Context) -> None:
        connected.add(1)
        context.stream.stop()

    stream.run_forever()
    assert connected.snapshot() == [1]


class _OutcomeError(BaseException):
    """Not an Exception, as pytest's ``Failed`` is not."""


def test_an_error_handler_raising_a_base_exception_does_not_keep_the_next_one_from_running(
    server: MiniStreamServer,
) -> None:
    stream = make_stream(server)
    heard: Recorder[str] = Recorder()

    @stream.on_event("boom")
    def explode(event: StreamEvent, context: Context) -> None:
        raise RuntimeError("bad")

    @stream.on_error
    def first(error: StreamError, context: Context) -> None:
        heard.add("first")
        raise _OutcomeError("from on_error")

    @stream.on_error
    def second(error: StreamError, context: Context) -> None:
        heard.add("second")

    runner = background(stream)
    server.wait_for_connections(1)
    server.publish("boom", "t", 1)
    assert sorted(heard.wait_for(2)) == ["first", "second"]
    finish(stream, runner)
