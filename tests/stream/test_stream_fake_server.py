"""The stream through the real clients against ``FakeCodexManager``, end to end.

A scripted turn calls a tool; the handler answers it over REST; the turn completes. Also
reconnects after the fake drops its websockets, restarts or leaves them half-open (no pong
any more), and bad frames it injects.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from codex_manager.client import AsyncCodexManager, CodexManager
from codex_manager.retry import RetryPolicy
from codex_manager.stream import (
    AppServerSignal,
    Connected,
    Reconnected,
    StreamConnectionError,
    StreamError,
    StreamEvent,
    StreamFrameError,
    StreamOptions,
)
from codex_manager.testing import FakeCodexManager

from .fake_tools import CALL_TEXT, TOOL, AsyncContext, SyncContext
from .ws_server import Recorder


@pytest.fixture
def fake() -> Iterator[FakeCodexManager]:
    with FakeCodexManager() as server:
        yield server


def test_tool_call_roundtrip_with_thread_filter(fake: FakeCodexManager) -> None:
    mine = fake.create_session(dynamic_tools=[TOOL])
    other = fake.create_session(dynamic_tools=[TOOL])
    with CodexManager(fake.base_url) as cm:
        threads: set[str | None] = set()
        started: list[str | None] = []

        @cm.on_event_prefix("")
        def every_event(event: StreamEvent, context: SyncContext) -> None:
            threads.add(event.thread_id)

        @cm.on_turn_started()
        def turn_started(signal: AppServerSignal, context: SyncContext) -> None:
            started.append(signal.turn_id)

        @cm.on_app_server_request("item.tool.call")
        def on_tool_call(signal: AppServerSignal, context: SyncContext) -> None:
            call = signal.tool_call
            assert call is not None
            assert call.thread_id == mine
            assert call.arguments == {"ticket_id": "ABC-1"}
            context.client.tool_calls.respond(str(signal.request_id), text="ticket is open")

        @cm.on_app_server("turn.completed")
        def turn_completed(signal: AppServerSignal, context: SyncContext) -> None:
            context.stop()

        def drive() -> None:
            fake.wait_for(lambda: fake.websocket_count == 1)
            # The other session's turn runs first: none of its frames may reach us.
            cm.session(other).messages.send("hello")
            fake.wait_idle()
            cm.session(mine).messages.send(CALL_TEXT)

        driver = threading.Thread(target=drive, daemon=True)
        driver.start()
        cm.stream.run_forever(thread_id=mine)
        driver.join(timeout=10)
    assert threads <= {mine, None}
    assert len(started) == 1
    fake.wait_idle()
    assert "ticket is open" in fake.turns(mine)[-1].replies[0]


QUICK_PINGS = StreamOptions(ping_interval=0.05, pong_timeout=0.3)
"""Pings often enough that a silent (stalled) connection is found dead within a second."""


def _inject(fake: FakeCodexManager, fault: str) -> None:
    """Break the live stream connection(s) the way ``fault`` names."""
    if fault == "restart":
        fake.restart(downtime=0.2)
    elif fault == "stall":
        # Half-open: nothing closes, only the missing pong reveals the dead connection.
        assert fake.stall_websockets() == 1
    else:
        fake.drop_websockets(abrupt=fault == "drop_abrupt")


@pytest.mark.parametrize("fault", ["drop", "drop_abrupt", "restart", "stall"])
def test_reconnect_after_fake_faults(fake: FakeCodexManager, fault: str) -> None:
    session = fake.create_session(dynamic_tools=[TOOL])
    with CodexManager(fake.base_url, stream_options=QUICK_PINGS) as cm:
        connected: Recorder[Connected] = Recorder()
        reconnects: Recorder[Reconnected] = Recorder()
        calls: Recorder[str] = Recorder()
        cm.on_connect(lambda notice, context: connected.add(notice))
        cm.on_reconnect(lambda notice, context: reconnects.add(notice))

        @cm.on_app_server_request("item.tool.call")
        def on_tool_call(signal: AppServerSignal, context: SyncContext) -> None:
            calls.add(str(signal.request_id))
            context.client.tool_calls.respond(str(signal.request_id), text="done")

        runner = threading.Thread(target=lambda: cm.stream.run_forever(thread_id=session))
        runner.start()
        try:
            # Listening (ready seen), not merely accepted: a connection lost before its ready
            # frame was never up, and its replacement is a first connection, not a reconnect.
            connected.wait_for(1)
            _inject(fake, fault)
            (notice,) = reconnects.wait_for(1)
            assert notice.thread_id == session
            fake.wait_for(lambda: fake.websocket_count == 1)  # the dead one is closed
            cm.session(session).messages.send(CALL_TEXT)
            calls.wait_for(1)
            fake.wait_idle()
        finally:
            cm.stream.stop()
            runner.join(timeout=10)
        assert not runner.is_alive()


def test_injected_bad_frames_are_survived(fake: FakeCodexManager) -> None:
    with CodexManager(fake.base_url) as cm:
        errors: Recorder[StreamError] = Recorder()
        seen: Recorder[str] = Recorder()
        cm.on_error(lambda error, context: errors.add(error))
        cm.on_event("custom_event")(lambda event, context: seen.add(event.type))
        runner = threading.Thread(target=cm.stream.run_forever)
        runner.start()
        try:
            fake.wait_for(lambda: fake.websocket_count == 1)
            fake.send_raw_frame("{oops")
            fake.send_raw_frame(b"\xff\xfe")
            fake.send_raw_frame('{"type":"app_server.turn.started","threadId":null,"payload":7}')
            fake.publish_event("custom_event", {"ok": True}, broadcast=True)
            seen.wait_for(1)
            reported = errors.wait_for(3)
            assert all(isinstance(error, StreamFrameError) for error in reported)
        finally:
            cm.stream.stop()
            runner.join(timeout=10)
        assert not runner.is_alive()


@pytest.mark.parametrize("fault", ["drop_abrupt", "stall"])
async def test_async_tool_call_roundtrip_and_reconnect(fake: FakeCodexManager, fault: str) -> None:
    session = fake.create_session(dynamic_tools=[TOOL])
    async with AsyncCodexManager(fake.base_url, stream_options=QUICK_PINGS) as cm:
        answered: list[str] = []
        connected = asyncio.Event()
        reconnected = asyncio.Event()
        done = asyncio.Event()

        @cm.on_connect
        async def on_connect(notice: Connected, context: AsyncContext) -> None:
            connected.set()

        @cm.on_reconnect
        async def on_reconnect(notice: Reconnected, context: AsyncContext) -> None:
            reconnected.set()

        @cm.on_app_server_request("item.tool.call")
        async def on_tool_call(signal: AppServerSignal, context: AsyncContext) -> None:
            call = signal.tool_call
            assert call is not None
            await context.client.tool_calls.respond(str(signal.request_id), text="async answer")
            answered.append(call.call_id)

        @cm.on_app_server("turn.completed")
        async def turn_completed(signal: AppServerSignal, context: AsyncContext) -> None:
            done.set()

        runner = asyncio.create_task(cm.stream.run_forever(thread_id=session))
        await asyncio.wait_for(connected.wait(), 10)  # a connection that was up, then lost
        await asyncio.to_thread(_inject, fake, fault)
        async with asyncio.timeout(10):
            await reconnected.wait()
        await fake.wait_for_async(lambda: fake.websocket_count == 1)
        await cm.session(session).messages.send(CALL_TEXT)
        async with asyncio.timeout(10):
            await done.wait()
        cm.stream.stop()
        async with asyncio.timeout(10):
            await runner
    assert len(answered) == 1
    await fake.wait_idle_async()
    assert "async answer" in fake.turns(session)[-1].replies[0]


def test_first_message_sent_from_on_connect(fake: FakeCodexManager) -> None:
    session = fake.create_session(dynamic_tools=[TOOL])
    with CodexManager(fake.base_url) as cm:
        connections: Recorder[int] = Recorder()

        @cm.stream.on_connect
        def start(notice: Connected, context: SyncContext) -> None:
            # The stream listens already: the tool call of this turn cannot be missed.
            connections.add(notice.connection)
            context.client.session(session).messages.send(CALL_TEXT)

        @cm.on_app_server_request("item.tool.call")
        def on_tool_call(signal: AppServerSignal, context: SyncContext) -> None:
            context.client.tool_calls.respond(str(signal.request_id), text="answered early")

        @cm.on_app_server("turn.completed")
        def turn_completed(signal: AppServerSignal, context: SyncContext) -> None:
            context.stop()

        cm.stream.run_forever(thread_id=session)
    assert connections.snapshot() == [1]
    fake.wait_idle()
    assert "answered early" in fake.turns(session)[-1].replies[0]


async def test_async_on_connect_runs_again_after_a_drop(fake: FakeCodexManager) -> None:
    session = fake.create_session(dynamic_tools=[TOOL])
    async with AsyncCodexManager(fake.base_url) as cm:
        connections: list[Connected] = []
        answered: list[str] = []

        @cm.stream.on_connect
        async def start(notice: Connected, context: AsyncContext) -> None:
            connections.append(notice)
            await context.client.session(session).messages.send(CALL_TEXT)

        @cm.on_app_server_request("item.tool.call")
        async def on_tool_call(signal: AppServerSignal, context: AsyncContext) -> None:
            text = f"answer {len(answered) + 1}"
            await context.client.tool_calls.respond(str(signal.request_id), text=text)
            answered.append(text)

        @cm.on_app_server("turn.completed")
        async def turn_completed(signal: AppServerSignal, context: AsyncContext) -> None:
            if len(connections) == 1:
                await asyncio.to_thread(fake.drop_websockets, abrupt=True)
            else:
                context.stop()

        async with asyncio.timeout(20):
            await cm.stream.run_forever(thread_id=session)
    assert [(n.connection, n.is_reconnect) for n in connections] == [(1, False), (2, True)]
    assert answered == ["answer 1", "answer 2"]
    await fake.wait_idle_async()
    assert "answer 2" in fake.turns(session)[-1].replies[0]


@pytest.mark.parametrize("library", ["aiohttp", "websockets"])
async def test_credentials_in_the_base_url_reach_the_stream_beside_a_bearer_token(
    fake: FakeCodexManager, library: str
) -> None:
    # aiohttp refused a URL with user info beside an Authorization header: ValueError out of
    # run_forever(). The credentials go in one header now, and the URL has none.
    base = fake.base_url.replace("http://", "http://alice:s3cret@")
    options = StreamOptions(websocket_client=library)  # type: ignore[arg-type]  # both values
    async with AsyncCodexManager(base, bearer_token="tok", stream_options=options) as cm:
        connected: list[Connected] = []

        @cm.stream.on_connect
        async def stop_once_connected(notice: Connected, context: AsyncContext) -> None:
            connected.append(notice)
            context.stop()

        async with asyncio.timeout(10):
            await cm.stream.run_forever()
    assert len(connected) == 1


def test_a_stream_error_shows_no_password() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: connections are refused
    base = f"http://alice:s3cret@127.0.0.1:{port}"
    options = StreamOptions(reconnect=RetryPolicy(max_attempts=1, initial_delay=0.01))
    cm = CodexManager(base, stream_options=options)
    try:
        with pytest.raises(StreamConnectionError) as caught:
            cm.stream.run_forever()
    finally:
        cm.close()
    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in caught.value.url
