"""Server requests run concurrently; notifications keep their per-thread order.

Over a real loopback websocket, sync and async streams. Tool calls are independent server
requests (each has its own id), so two of one thread must not wait for each other; other
frames keep reaching a handler in order per thread. Tests wait on observed events only.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from codex_manager.retry import RetryPolicy
from codex_manager.stream import (
    AppServerSignal,
    AsyncEventStream,
    EventStream,
    HandlerContext,
    StreamOptions,
)

from .ws_server import FakeClient, MiniStreamServer, Recorder, notification_signal, tool_call_signal

FAST_RECONNECT = RetryPolicy(max_attempts=1000, initial_delay=0.01, max_delay=0.1)
TOOL_CALL = "app_server.request.item.tool.call"
DELTA = "app_server.item.agent_message.delta"  # as the server types it


Context = HandlerContext[FakeClient]


def options(
    *,
    max_concurrency: int = 64,
    max_pending: int = 1024,
    ordered_requests: bool = False,
    shutdown_timeout: float = 5.0,
) -> StreamOptions:
    return StreamOptions(
        max_concurrency=max_concurrency,
        max_pending=max_pending,
        ordered_requests=ordered_requests,
        shutdown_timeout=shutdown_timeout,
        reconnect=FAST_RECONNECT,
    )


def background(stream: EventStream[FakeClient]) -> threading.Thread:
    thread = threading.Thread(target=stream.run_forever, daemon=True)
    thread.start()
    return thread


def finish(stream: EventStream[FakeClient], runner: threading.Thread) -> None:
    stream.stop()
    runner.join(timeout=10)
    assert not runner.is_alive(), "run_forever did not return after stop()"


async def finish_async(stream: AsyncEventStream[FakeClient], runner: asyncio.Task[None]) -> None:
    stream.stop()
    async with asyncio.timeout(10):
        await runner


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition`` holds; fails the test after 10 s."""
    async with asyncio.timeout(10):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition``; fails the test after 10 s."""
    done = threading.Event()
    for _ in range(1000):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("the condition never held")


def publish_tool_calls(server: MiniStreamServer, thread_id: str, count: int) -> None:
    for request_id in range(count):
        server.publish(
            TOOL_CALL, thread_id, tool_call_signal(thread_id, request_id, f"c{request_id}")
        )


def test_options_default_to_concurrent_requests_under_a_wider_bound() -> None:
    settings = StreamOptions()
    assert settings.ordered_requests is False
    assert settings.max_concurrency is None
    assert (settings.task_bound(), settings.thread_bound()) == (256, 128)
    explicit = StreamOptions(max_concurrency=8)
    assert (explicit.task_bound(), explicit.thread_bound()) == (8, 8)


# --- sync stream -----------------------------------------------------------------------


def test_sync_two_tool_calls_of_one_thread_run_concurrently(server: MiniStreamServer) -> None:
    stream = EventStream(FakeClient(server.config), options=options())
    second_started = threading.Event()
    first_saw_second: list[bool] = []

    @stream.on_app_server_request("item.tool.call")
    def tool(signal: AppServerSignal, context: Context) -> None:
        if signal.request_id == 0:
            # Serialized delivery would deadlock here until the timeout: the second call
            # of the same thread could only start after this one returned.
            first_saw_second.append(second_started.wait(10))
            context.stop()
        else:
            second_started.set()

    runner = background(stream)
    server.wait_for_connections(1)
    publish_tool_calls(server, "t1", 2)
    runner.join(timeout=20)
    assert not runner.is_alive()
    assert first_saw_second == [True]


def test_sync_notifications_of_one_thread_stay_in_order(server: MiniStreamServer) -> None:
    stream = EventStream(FakeClient(server.config), options=options())
    seen: Recorder[object] = Recorder()
    running = 0
    overlapped: list[bool] = []
    lock = threading.Lock()
    total = 30

    @stream.on_app_server("item.agentMessage.delta")
    def delta(signal: AppServerSignal, context: Context) -> None:
        nonlocal running
        with lock:
            running += 1
            overlapped.append(running > 1)
        threading.Event().wait(0.001)  # give a wrongly concurrent call time to overlap
        seen.add(signal.params)
        with lock:
            running -= 1

    runner = background(stream)
    server.wait_for_connections(1)
    for index in range(total):
        payload = notification_signal("t1", "item/agentMessage/delta", DELTA)
        assert isinstance(payload, dict)
        payload["params"] = {"threadId": "t1", "n": index}
        server.publish(DELTA, "t1", payload)
    seen.wait_for(total)
    finish(stream, runner)
    assert [p["n"] for p in seen.snapshot() if isinstance(p, dict)] == list(range(total))
    assert not any(overlapped)


@pytest.mark.parametrize("per_handler", [True, False])
def test_sync_ordered_requests_run_one_at_a_time_in_order(
    server: MiniStreamServer, per_handler: bool
) -> None:
    settings = options(ordered_requests=not per_handler)
    stream = EventStream(FakeClient(server.config), options=settings)
    seen: Recorder[object] = Recorder()
    running = 0
    overlapped: list[bool] = []
    lock = threading.Lock()
    total = 20

    def tool(signal: AppServerSignal, context: Context) -> None:
        nonlocal running
        with lock:
            running += 1
            overlapped.append(running > 1)
        threading.Event().wait(0.001)
        seen.add(signal.request_id)
        with lock:
            running -= 1

    stream.on_app_server_request("item.tool.call", ordered=per_handler)(tool)
    runner = background(stream)
    server.wait_for_connections(1)
    publish_tool_calls(server, "t1", total)
    seen.wait_for(total)
    finish(stream, runner)
    assert seen.snapshot() == list(range(total))
    assert not any(overlapped)


def test_sync_concurrency_bound_holds_for_requests(server: MiniStreamServer) -> None:
    stream = EventStream(FakeClient(server.config), options=options(max_concurrency=2))
    gate = threading.Event()
    started: Recorder[object] = Recorder()
    running = 0
    most = 0
    lock = threading.Lock()
    total = 6

    @stream.on_app_server_request("item.tool.call")
    def tool(signal: AppServerSignal, context: Context) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        started.add(signal.request_id)
        assert gate.wait(10)
        with lock:
            running -= 1

    delivered: Recorder[object] = Recorder()

    def read() -> None:
        for event in stream.events():
            if event.type == TOOL_CALL:
                delivered.add(event)  # yielded only after its handler call was queued

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    server.wait_for_connections(1)
    publish_tool_calls(server, "t1", total)
    delivered.wait_for(total)
    started.wait_for(2)
    assert len(started.snapshot()) == 2  # every call is queued, only two may run
    gate.set()
    started.wait_for(total)
    stream.stop()
    reader.join(timeout=10)
    assert not reader.is_alive()
    assert most == 2


def test_sync_stop_is_prompt_while_stuck_requests_fill_max_pending(
    server: MiniStreamServer,
) -> None:
    settings = options(max_concurrency=4, max_pending=2, shutdown_timeout=0.05)
    stream = EventStream(FakeClient(server.config), options=settings)
    release = threading.Event()  # never set while the stream runs
    started: Recorder[object] = Recorder()

    @stream.on_app_server_request("item.tool.call")
    def stuck(signal: AppServerSignal, context: Context) -> None:
        started.add(signal.request_id)
        assert release.wait(30)

    runner = background(stream)
    server.wait_for_connections(1)
    publish_tool_calls(server, "t1", 3)  # one thread: both first calls run at once
    started.wait_for(2)
    dispatcher = stream._dispatcher
    assert dispatcher is not None
    wait_until(lambda: dispatcher.waiting_for_slot)  # backpressure: the reader waits
    try:
        finish(stream, runner)
    finally:
        release.set()
    assert sorted(started.snapshot(), key=str) == [0, 1]


# --- async stream ----------------------------------------------------------------------


async def test_async_two_tool_calls_of_one_thread_run_concurrently(
    server: MiniStreamServer,
) -> None:
    stream = AsyncEventStream(FakeClient(server.config), options=options())
    second_started = asyncio.Event()
    first_saw_second: list[bool] = []

    @stream.on_app_server_request("item.tool.call")
    async def tool(signal: AppServerSignal, context: Context) -> None:
        if signal.request_id == 0:
            try:
                async with asyncio.timeout(10):  # serialized delivery would end here
                    await second_started.wait()
                first_saw_second.append(True)
            except TimeoutError:
                first_saw_second.append(False)
            context.stop()
        else:
            second_started.set()

    runner = asyncio.create_task(stream.run_forever())
    await asyncio.to_thread(server.wait_for_connections, 1)
    publish_tool_calls(server, "t1", 2)
    async with asyncio.timeout(20):
        await runner
    assert first_saw_second == [True]


async def test_async_sync_handler_tool_calls_of_one_thread_run_concurrently(
    server: MiniStreamServer,
) -> None:
    stream = AsyncEventStream(FakeClient(server.config), options=options())
    second_started = threading.Event()
    first_saw_second: list[bool] = []

    @stream.on_app_server_request("item.tool.call")
    def tool(signal: AppServerSignal, context: Context) -> None:  # runs in the pool
        if signal.request_id == 0:
            first_saw_second.append(second_started.wait(10))
            context.stop()
        else:
            second_started.set()

    runner = asyncio.create_task(stream.run_forever())
    await asyncio.to_thread(server.wait_for_connections, 1)
    publish_tool_calls(server, "t1", 2)
    async with asyncio.timeout(20):
        await runner
    assert first_saw_second == [True]


async def test_async_notifications_of_one_thread_stay_in_order(server: MiniStreamServer) -> None:
    stream = AsyncEventStream(FakeClient(server.config), options=options())
    seen: list[object] = []
    running = 0
    overlapped: list[bool] = []
    total = 30
    done = asyncio.Event()

    @stream.on_app_server("item.agentMessage.delta")
    async def delta(signal: AppServerSignal, context: Context) -> None:
        nonlocal running
        running += 1
        overlapped.append(running > 1)
        await asyncio.sleep(0)  # a wrongly concurrent call would overlap here
        seen.append(signal.params)
        running -= 1
        if len(seen) == total:
            done.set()

    runner = asyncio.create_task(stream.run_forever())
    await asyncio.to_thread(server.wait_for_connections, 1)
    for index in range(total):
        payload = notification_signal("t1", "item/agentMessage/delta", DELTA)
        assert isinstance(payload, dict)
        payload["params"] = {"threadId": "t1", "n": index}
        server.publish(DELTA, "t1", payload)
    async with asyncio.timeout(10):
        await done.wait()
    await finish_async(stream, runner)
    assert [p["n"] for p in seen if isinstance(p, dict)] == list(range(total))
    assert not any(overlapped)


@pytest.mark.parametrize("per_handler", [True, False])
async def test_async_ordered_requests_run_one_at_a_time_in_order(
    server: MiniStreamServer, per_handler: bool
) -> None:
    settings = options(ordered_requests=not per_handler)
    stream = AsyncEventStream(FakeClient(server.config), options=settings)
    seen: list[object] = []
    running = 0
    overlapped: list[bool] = []
    total = 20
    done = asyncio.Event()

    async def tool(signal: AppServerSignal, context: Context) -> None:
        nonlocal running
        running += 1
        overlapped.append(running > 1)
        await asyncio.sleep(0)
        seen.append(signal.request_id)
        running -= 1
        if len(seen) == total:
            done.set()

    stream.on_app_server_request("item.tool.call", ordered=per_handler)(tool)
    runner = asyncio.create_task(stream.run_forever())
    await asyncio.to_thread(server.wait_for_connections, 1)
    publish_tool_calls(server, "t1", total)
    async with asyncio.timeout(10):
        await done.wait()
    await finish_async(stream, runner)
    assert seen == list(range(total))
    assert not any(overlapped)


async def test_async_concurrency_bound_holds_for_requests(server: MiniStreamServer) -> None:
    stream = AsyncEventStream(FakeClient(server.config), options=options(max_concurrency=2))
    gate = asyncio.Event()
    started: list[object] = []
    running = 0
    most = 0
    total = 6

    @stream.on_app_server_request("item.tool.call")
    async def tool(signal: AppServerSignal, context: Context) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        started.append(signal.request_id)
        await gate.wait()
        running -= 1

    def feed() -> None:
        server.wait_for_connections(1)
        publish_tool_calls(server, "t1", total)

    feeder = asyncio.create_task(asyncio.to_thread(feed))
    delivered = 0
    async with asyncio.timeout(20):
        async for event in stream.events():
            if event.type != TOOL_CALL:
                continue
            delivered += 1  # yielded only after its handler call was queued
            if delivered == total:
                await asyncio.sleep(0)  # let every queued task try to start
                assert len(started) == 2
                gate.set()
                await until(lambda: len(started) == total)
                stream.stop()
    await feeder
    assert most == 2


async def test_async_stop_is_prompt_while_stuck_requests_fill_max_pending(
    server: MiniStreamServer,
) -> None:
    settings = options(max_concurrency=4, max_pending=2, shutdown_timeout=0.05)
    stream = AsyncEventStream(FakeClient(server.config), options=settings)
    release = asyncio.Event()  # never set while the stream runs
    started: list[object] = []

    @stream.on_app_server_request("item.tool.call")
    async def stuck(signal: AppServerSignal, context: Context) -> None:
        started.append(signal.request_id)
        await release.wait()

    runner = asyncio.create_task(stream.run_forever())
    await asyncio.to_thread(server.wait_for_connections, 1)
    publish_tool_calls(server, "t1", 3)  # one thread: both first calls run at once
    await until(lambda: len(started) == 2)
    dispatcher = stream._dispatcher
    assert dispatcher is not None
    await until(lambda: dispatcher.waiting_for_slot)  # backpressure: the reader waits
    await finish_async(stream, runner)
    release.set()
    assert sorted(started, key=str) == [0, 1]
