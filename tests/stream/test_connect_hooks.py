"""``on_connect`` (every connection) and ``on_reconnect`` (later ones only), sync and async.

Over a real loopback websocket (``MiniStreamServer``). The hooks publish an event from
inside themselves: that it arrives shows the stream already listens when they run.
"""

from __future__ import annotations

import asyncio
import threading

from codex_manager.json_types import JSONObject
from codex_manager.retry import RetryPolicy
from codex_manager.stream import (
    AsyncEventStream,
    Connected,
    EventStream,
    HandlerContext,
    Reconnected,
    StreamEvent,
    StreamOptions,
)

from .ws_server import FakeClient, MiniStreamServer, Recorder

OPTIONS = StreamOptions(
    reconnect=RetryPolicy(max_attempts=1000, initial_delay=0.01, max_delay=0.1),
    shutdown_timeout=5.0,
)
SUBSCRIBE_T1: JSONObject = {"type": "subscribe", "threadId": "t1"}


Context = HandlerContext[FakeClient]


def check_first(notice: Connected) -> None:
    assert (notice.thread_id, notice.connection, notice.disconnected_for) == ("t1", 1, None)
    assert (notice.reconnects, notice.is_reconnect) == (0, False)


def check_second(notice: Connected, reconnected: Reconnected) -> None:
    assert (notice.thread_id, notice.connection, notice.reconnects) == ("t1", 2, 1)
    assert notice.is_reconnect
    assert notice.disconnected_for is not None
    assert notice.disconnected_for >= 0
    # on_reconnect sees the same reconnect.
    assert (reconnected.thread_id, reconnected.reconnects) == ("t1", 1)
    assert reconnected.disconnected_for == notice.disconnected_for


def test_sync_on_connect_runs_on_every_connection(server: MiniStreamServer) -> None:
    stream = EventStream(FakeClient(server.config), options=OPTIONS)
    connects: Recorder[Connected] = Recorder()
    reconnects: Recorder[Reconnected] = Recorder()
    greetings: Recorder[object] = Recorder()

    @stream.on_connect
    def greet(notice: Connected, context: Context) -> None:
        assert context.thread_id == "t1"
        connects.add(notice)
        server.publish("greeting", "t1", notice.connection)

    stream.on_reconnect(lambda notice, context: reconnects.add(notice))
    stream.on_event("greeting")(lambda event, context: greetings.add(event.payload))
    runner = threading.Thread(target=lambda: stream.run_forever(thread_id="t1"), daemon=True)
    runner.start()
    try:
        assert greetings.wait_for(1) == [1]
        (first,) = connects.snapshot()
        check_first(first)
        assert reconnects.snapshot() == []  # not for the first connection
        server.drop_connections()
        assert greetings.wait_for(2) == [1, 2]
        (reconnected,) = reconnects.wait_for(1)
        check_second(connects.snapshot()[1], reconnected)
        server.wait_for_command(SUBSCRIBE_T1, 2)
    finally:
        stream.stop()
        runner.join(timeout=10)
    assert not runner.is_alive()
    assert len(connects.snapshot()) == 2


def test_sync_on_connect_accepts_async_handlers(server: MiniStreamServer) -> None:
    stream = EventStream(FakeClient(server.config), options=OPTIONS)
    connects: Recorder[Connected] = Recorder()

    @stream.on_connect()
    async def record(notice: Connected, context: Context) -> None:
        await asyncio.sleep(0)
        connects.add(notice)
        context.stop()

    stream.run_forever()  # returns: the hook ran and stopped the stream
    (notice,) = connects.wait_for(1)
    assert (notice.thread_id, notice.connection) == (None, 1)
    assert server.commands == []  # no thread followed: no subscribe


async def test_async_on_connect_runs_on_every_connection(server: MiniStreamServer) -> None:
    stream = AsyncEventStream(FakeClient(server.config), options=OPTIONS)
    connects: Recorder[Connected] = Recorder()
    sync_connects: Recorder[int] = Recorder()
    reconnects: Recorder[Reconnected] = Recorder()
    greetings: Recorder[object] = Recorder()

    @stream.on_connect
    async def greet(notice: Connected, context: Context) -> None:
        connects.add(notice)
        await asyncio.to_thread(server.publish, "greeting", "t1", notice.connection)

    @stream.on_connect()
    def count(notice: Connected, context: Context) -> None:  # sync hooks run in the pool
        sync_connects.add(notice.connection)

    @stream.on_reconnect
    async def reconnected(notice: Reconnected, context: Context) -> None:
        reconnects.add(notice)

    @stream.on_event("greeting")
    async def greeting(event: StreamEvent, context: Context) -> None:
        greetings.add(event.payload)

    runner = asyncio.create_task(stream.run_forever(thread_id="t1"))
    assert await asyncio.to_thread(greetings.wait_for, 1) == [1]
    (first,) = connects.snapshot()
    check_first(first)
    assert reconnects.snapshot() == []
    await asyncio.to_thread(server.drop_connections)
    assert await asyncio.to_thread(greetings.wait_for, 2) == [1, 2]
    (notice,) = await asyncio.to_thread(reconnects.wait_for, 1)
    check_second(connects.snapshot()[1], notice)
    assert sorted(await asyncio.to_thread(sync_connects.wait_for, 2)) == [1, 2]
    await asyncio.to_thread(server.wait_for_command, SUBSCRIBE_T1, 2)
    stream.stop()
    async with asyncio.timeout(10):
        await runner


async def test_async_on_connect_hook_may_stop_the_stream(server: MiniStreamServer) -> None:
    stream = AsyncEventStream(FakeClient(server.config), options=OPTIONS)
    seen: list[Connected] = []

    @stream.on_connect
    def stop_at_once(notice: Connected, context: Context) -> None:
        seen.append(notice)
        context.stop()

    async with asyncio.timeout(10):
        await stream.run_forever(thread_id="t1")
    assert [notice.connection for notice in seen] == [1]
    assert server.connections_opened == 1


def test_remove_handler_unregisters_a_connect_hook(server: MiniStreamServer) -> None:
    stream = EventStream(FakeClient(server.config), options=OPTIONS)

    def hook(notice: Connected, context: Context) -> None: ...

    stream.on_connect(hook)
    assert stream.remove_handler(hook) == 1
    assert stream.remove_handler(hook) == 0
