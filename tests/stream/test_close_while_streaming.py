"""Closing a client while its streams run elsewhere: they stop, and their handlers still answer.

``close()`` (``aclose()``) stops every stream running on the client, ``cm.stream`` or one made
with ``EventStream(cm)``, and waits for it before closing the REST transport, so a handler that
is still running answers its tool call instead of failing with ``ClientClosedError``. Called
from inside a run (a handler, the ``events()`` loop), it stops that run and does not wait for
it (it would wait for itself).
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from codex_manager.client import AsyncCodexManager, CodexManager
from codex_manager.errors import ClientClosedError
from codex_manager.remote_skills import SessionSkills
from codex_manager.stream import (
    AppServerSignal,
    AsyncEventStream,
    Connected,
    EventStream,
    StreamOptions,
)
from codex_manager.testing import FakeCodexManager

from .fake_tools import CALL_TEXT, TOOL, TWO_CALLS, AsyncContext, SyncContext

LONG_GRACE = StreamOptions(shutdown_timeout=20.0)
"""Far longer than any wait here: a close that waited for its own run would show as a hang."""


@pytest.fixture
def fake() -> Iterator[FakeCodexManager]:
    with FakeCodexManager() as server:
        yield server


def _still_open(cm: CodexManager | AsyncCodexManager) -> bool:
    return not cm.is_closed


def _closer(cm: CodexManager) -> tuple[threading.Thread, threading.Event]:
    closed = threading.Event()

    def close() -> None:
        cm.close()
        closed.set()

    thread = threading.Thread(target=close, daemon=True)
    thread.start()
    return thread, closed


@contextmanager
def _following(
    fake: FakeCodexManager,
    stream: EventStream[CodexManager],
    session: str,
    message: str,
    release: threading.Event | None = None,
) -> Iterator[threading.Thread]:
    """``stream`` running for ``session`` in a thread once ``message`` went out; at the end
    ``release`` is set (a held handler lets go), the client closed and the thread joined."""
    runner = threading.Thread(target=stream.run_forever, kwargs={"thread_id": session})
    runner.start()
    try:
        fake.wait_for(lambda: fake.websocket_count == 1)
        stream.client.session(session).messages.send(message)
        yield runner
    finally:
        if release is not None:
            release.set()
        stream.client.close()
        runner.join(10)


@pytest.mark.parametrize("own_stream", [False, True], ids=["cm.stream", "EventStream(cm)"])
def test_sync_close_waits_for_a_running_handler_to_answer(
    fake: FakeCodexManager, own_stream: bool
) -> None:
    session = fake.create_session(dynamic_tools=[TOOL])
    cm = CodexManager(fake.base_url)
    stream = EventStream(cm) if own_stream else cm.stream
    entered, release = threading.Event(), threading.Event()
    answered: list[str] = []
    failures: list[BaseException] = []

    @stream.on_app_server_request("item.tool.call")
    def on_tool_call(signal: AppServerSignal, context: SyncContext) -> None:
        entered.set()
        release.wait(10)
        try:
            context.client.tool_calls.respond(str(signal.request_id), text="ticket is open")
            answered.append(str(signal.request_id))
        except BaseException as error:
            failures.append(error)

    with _following(fake, stream, session, CALL_TEXT, release) as runner:
        assert entered.wait(10)
        closer, closed = _closer(cm)
        # The handler holds its call: close() has stopped the stream and waits for it.
        assert not closed.wait(0.3)
        assert _still_open(cm)
        release.set()
        closer.join(10)
        assert closed.is_set()
        runner.join(10)
        assert not runner.is_alive()
    assert failures == []
    assert len(answered) == 1
    assert cm.is_closed
    fake.wait_idle()
    assert "ticket is open" in fake.turns(session)[-1].replies[0]


def test_sync_close_from_a_handler_stops_its_stream_without_waiting_for_itself(
    fake: FakeCodexManager,
) -> None:
    session = fake.create_session(dynamic_tools=[TOOL])
    cm = CodexManager(fake.base_url, stream_options=LONG_GRACE)
    closed = threading.Event()

    @cm.on_app_server_request("item.tool.call")
    def on_tool_call(signal: AppServerSignal, context: SyncContext) -> None:
        context.client.tool_calls.respond(str(signal.request_id), text="closing now")
        context.client.close()
        closed.set()

    with _following(fake, cm.stream, session, CALL_TEXT) as runner:
        assert closed.wait(10)
        runner.join(10)
        assert not runner.is_alive()
    assert cm.is_closed


def test_sync_close_inside_the_events_loop_does_not_wait_for_it(
    fake: FakeCodexManager,
) -> None:
    session = fake.create_session()
    cm = CodexManager(fake.base_url, stream_options=LONG_GRACE)
    events = cm.stream.events()
    finished = threading.Event()

    def follow() -> None:
        for _ in events:
            cm.close()  # from the loop itself: the stream stops, no handler to wait for
            finished.set()

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    fake.wait_for(lambda: fake.websocket_count == 1)
    with CodexManager(fake.base_url) as sender:
        sender.session(session).messages.send("hello")  # events for the loop
    assert finished.wait(10)
    follower.join(10)
    assert not follower.is_alive()
    assert cm.is_closed


def test_a_second_ctrl_c_while_handlers_finish_leaves_the_stream_stopped(
    fake: FakeCodexManager,
) -> None:
    main = threading.main_thread().ident
    assert main == threading.get_ident(), "the test must run in the main thread"
    assert main is not None
    session = fake.create_session()
    cm = CodexManager(fake.base_url, stream_options=LONG_GRACE)
    entered, release = threading.Event(), threading.Event()

    @cm.on_turn_started()
    def busy(signal_: AppServerSignal, context: SyncContext) -> None:
        entered.set()
        release.wait(10)

    def press_ctrl_c_twice() -> None:
        fake.wait_for(lambda: fake.websocket_count == 1)
        with CodexManager(fake.base_url) as sender:
            sender.session(session).messages.send("hello")
        assert entered.wait(10)
        signal.pthread_kill(main, signal.SIGINT)  # run_forever stops, waits for the handler
        time.sleep(0.3)
        signal.pthread_kill(main, signal.SIGINT)  # ... and is cut short
        time.sleep(0.2)
        release.set()

    presser = threading.Thread(target=press_ctrl_c_twice, daemon=True)
    presser.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            cm.stream.run_forever(thread_id=session)
        presser.join(10)
        assert not cm.stream.running
        # Nothing is left registered as running: close() returns without waiting for it.
        closer, closed = _closer(cm)
        assert closed.wait(5)
        closer.join(5)
    finally:
        release.set()
        cm.close()


def test_a_stream_cannot_start_on_a_client_being_closed(fake: FakeCodexManager) -> None:
    cm = CodexManager(fake.base_url)
    cm.close()
    with pytest.raises(ClientClosedError):
        EventStream(cm).run_forever()


async def test_async_close_waits_for_a_running_handler_to_answer(fake: FakeCodexManager) -> None:
    session = fake.create_session(dynamic_tools=[TOOL])
    cm = AsyncCodexManager(fake.base_url)
    stream = AsyncEventStream(cm)
    entered, release = asyncio.Event(), asyncio.Event()
    answered: list[str] = []
    failures: list[BaseException] = []

    @stream.on_app_server_request("item.tool.call")
    async def on_tool_call(signal: AppServerSignal, context: AsyncContext) -> None:
        entered.set()
        await release.wait()
        try:
            await context.client.tool_calls.respond(str(signal.request_id), text="ticket is open")
            answered.append(str(signal.request_id))
        except BaseException as error:
            failures.append(error)

    runner = asyncio.create_task(stream.run_forever(thread_id=session))
    try:
        async with asyncio.timeout(10):
            await asyncio.to_thread(fake.wait_for, lambda: fake.websocket_count == 1)
            await cm.session(session).messages.send(CALL_TEXT)
            await entered.wait()
        closer = asyncio.create_task(cm.aclose())
        await asyncio.sleep(0.3)
        assert not closer.done()  # waiting for the handler, the transport still open
        assert _still_open(cm)
        release.set()
        async with asyncio.timeout(10):
            await closer
            await runner
    finally:
        release.set()
        await cm.aclose()
        runner.cancel()
    assert failures == []
    assert len(answered) == 1
    assert cm.is_closed
    await asyncio.to_thread(fake.wait_idle)
    assert "ticket is open" in fake.turns(session)[-1].replies[0]


@pytest.mark.parametrize("via", ["handler", "shielded task"])
async def test_async_close_from_a_handler_does_not_wait_for_itself(
    fake: FakeCodexManager, via: str
) -> None:
    # Also from a task the handler started (shield, wait_for, a TaskGroup): still part of the
    # run, which must not be waited for (it waits for the handler).
    session = fake.create_session(dynamic_tools=[TOOL])
    cm = AsyncCodexManager(fake.base_url, stream_options=LONG_GRACE)
    closed = asyncio.Event()

    @cm.on_app_server_request("item.tool.call")
    async def on_tool_call(signal: AppServerSignal, context: AsyncContext) -> None:
        await context.client.tool_calls.respond(str(signal.request_id), text="closing now")
        closing = context.client.aclose()
        await (asyncio.shield(closing) if via == "shielded task" else closing)
        closed.set()

    runner = asyncio.create_task(cm.stream.run_forever(thread_id=session))
    try:
        await asyncio.to_thread(fake.wait_for, lambda: fake.websocket_count == 1)
        await cm.session(session).messages.send(CALL_TEXT)
        async with asyncio.timeout(10):
            await closed.wait()
            await runner
    finally:
        await cm.aclose()
        runner.cancel()
    assert cm.is_closed


async def test_async_close_waits_for_a_stream_on_another_loop(fake: FakeCodexManager) -> None:
    session = fake.create_session(dynamic_tools=[TOOL])
    cm = AsyncCodexManager(fake.base_url)
    entered, release = threading.Event(), threading.Event()
    finished: list[str] = []

    @cm.on_app_server_request("item.tool.call")
    async def on_tool_call(signal: AppServerSignal, context: AsyncContext) -> None:
        entered.set()
        await asyncio.to_thread(release.wait, 10)
        finished.append(str(signal.request_id))

    # The stream runs on a loop of its own thread (its handler does not use the client's
    # transport, which belongs to this loop).
    def follow() -> None:
        asyncio.run(cm.stream.run_forever(thread_id=session))

    runner = threading.Thread(target=follow, daemon=True)
    runner.start()
    try:
        await asyncio.to_thread(fake.wait_for, lambda: fake.websocket_count == 1)
        await cm.session(session).messages.send(CALL_TEXT)
        assert await asyncio.to_thread(entered.wait, 10)
        closer = asyncio.create_task(cm.aclose())
        await asyncio.sleep(0.3)
        assert not closer.done()
        release.set()
        async with asyncio.timeout(10):
            await closer
        assert finished  # the handler ended before the client closed
        await asyncio.to_thread(runner.join, 10)
        assert not runner.is_alive()
    finally:
        release.set()


def test_sync_close_does_not_wait_for_an_events_loop_that_is_not_resumed(
    fake: FakeCodexManager,
) -> None:
    # The loop reading events() is busy elsewhere (a full queue): the run cannot end until
    # it resumes, but no handler of it is running, so close() has nothing to wait for.
    session = fake.create_session()
    cm = CodexManager(fake.base_url, stream_options=LONG_GRACE)
    got_one, resume = threading.Event(), threading.Event()

    def follow() -> None:
        for _ in cm.stream.events(thread_id=session):
            got_one.set()
            resume.wait(10)

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    try:
        fake.wait_for(lambda: fake.websocket_count == 1)
        with CodexManager(fake.base_url) as sender:
            sender.session(session).messages.send("hello")
        assert got_one.wait(10)
        closer, closed = _closer(cm)
        assert closed.wait(5)  # not the 22 s of the grace
        closer.join(5)
    finally:
        resume.set()
        follower.join(10)
    assert not follower.is_alive()


async def test_async_close_while_an_events_loop_reads_with_wait_for(
    fake: FakeCodexManager,
) -> None:
    # Each wait_for(anext(...)) runs in a task of its own (Python 3.11): the reading task is
    # not the one that started the run, yet closing from it must not wait for the run.
    session = fake.create_session()
    cm = AsyncCodexManager(fake.base_url, stream_options=LONG_GRACE)
    events = cm.stream.events(thread_id=session)
    try:
        async with asyncio.timeout(10):
            first = asyncio.ensure_future(asyncio.wait_for(anext(events), 10))
            await asyncio.to_thread(fake.wait_for, lambda: fake.websocket_count == 1)
            await cm.session(session).messages.send("hello")
            await first
            await cm.aclose()
    finally:
        await events.aclose()
    assert cm.is_closed


def test_sync_close_leaves_calls_queued_behind_the_bound_pending(fake: FakeCodexManager) -> None:
    # max_concurrency=1: the second call waits for the first when close() comes. It must not
    # start after the transport closed (its answer would fail): it stays pending instead.
    session = fake.create_session(dynamic_tools=[TOOL])
    options = StreamOptions(max_concurrency=1, shutdown_timeout=5.0)
    cm = CodexManager(fake.base_url, stream_options=options)
    entered, release = threading.Event(), threading.Event()
    started: list[str] = []
    outcomes: list[str] = []

    @cm.on_app_server_request("item.tool.call")
    def on_tool_call(signal: AppServerSignal, context: SyncContext) -> None:
        started.append(str(signal.request_id))
        entered.set()
        release.wait(10)
        context.client.tool_calls.respond(str(signal.request_id), text="done")
        outcomes.append("answered")

    with _following(fake, cm.stream, session, TWO_CALLS, release):
        assert entered.wait(10)
        fake.wait_for(lambda: len(fake.pending_tool_calls(session)) == 2)
        time.sleep(0.3)  # the second call's frame read and queued behind the first
        closer, closed = _closer(cm)
        threading.Timer(0.3, release.set).start()
        assert closed.wait(10)
        closer.join(5)
    assert len(started) == 1  # the queued one never started
    assert outcomes == ["answered"]
    assert len(fake.pending_tool_calls(session)) == 1


def test_sync_close_gives_handlers_the_margin_past_the_streams_own_timeout(
    fake: FakeCodexManager,
) -> None:
    # The run gives up on its handlers at shutdown_timeout and ends; close() waits for the
    # handler itself (with its margin), not for the run's end.
    session = fake.create_session(dynamic_tools=[TOOL])
    cm = CodexManager(fake.base_url, stream_options=StreamOptions(shutdown_timeout=0.5))
    entered = threading.Event()
    outcomes: list[str] = []

    @cm.on_app_server_request("item.tool.call")
    def on_tool_call(signal: AppServerSignal, context: SyncContext) -> None:
        entered.set()
        time.sleep(1.2)  # past the stream's 0.5 s, within close()'s 0.5 + 2 s
        context.client.tool_calls.respond(str(signal.request_id), text="done")
        outcomes.append("answered")

    with _following(fake, cm.stream, session, CALL_TEXT):
        assert entered.wait(10)
        cm.close()
    assert outcomes == ["answered"]


def test_sync_close_after_the_run_gave_up_on_its_handlers_still_waits_and_starts_none(
    fake: FakeCodexManager,
) -> None:
    # The run ended at its shutdown timeout with a handler running and calls queued behind
    # it: it left the client's runs, so close() neither waited for the handler (its answer
    # failed on the closed client) nor kept the queued calls from starting after it.
    session = fake.create_session(dynamic_tools=[TOOL])
    options = StreamOptions(max_concurrency=1, shutdown_timeout=0.2)
    cm = CodexManager(fake.base_url, stream_options=options)
    entered = threading.Event()
    started: list[str] = []
    outcomes: list[str] = []

    @cm.on_app_server_request("item.tool.call")
    def on_tool_call(signal: AppServerSignal, context: SyncContext) -> None:
        started.append(str(signal.request_id))
        entered.set()
        time.sleep(0.8)
        context.client.tool_calls.respond(str(signal.request_id), text="done")
        outcomes.append("answered")

    runner = threading.Thread(target=cm.stream.run_forever, kwargs={"thread_id": session})
    runner.start()
    fake.wait_for(lambda: fake.websocket_count == 1)
    cm.session(session).messages.send(TWO_CALLS)
    assert entered.wait(10)
    fake.wait_for(lambda: len(fake.pending_tool_calls(session)) == 2)
    time.sleep(0.1)  # the second call's frame read and queued behind the first
    cm.stream.stop()
    runner.join(10)  # after 0.2 s: the handler still runs
    assert outcomes == []
    cm.close()
    assert outcomes == ["answered"]  # close() waited for it
    time.sleep(1.0)  # a queued call that started now would show
    assert len(started) == 1
    assert len(fake.pending_tool_calls(session)) == 1


async def test_async_close_from_a_plain_handler_does_not_wait_for_itself(
    fake: FakeCodexManager,
) -> None:
    # A plain def handler of the async stream runs in a worker thread; it closes the client on
    # the loop and waits. It is part of the run: aclose() must not wait for it.
    fake.create_session()
    cm = AsyncCodexManager(fake.base_url, stream_options=LONG_GRACE)
    loop = asyncio.get_running_loop()
    took: list[float] = []

    @cm.on_connect
    def close_at_once(notice: Connected, context: AsyncContext) -> None:
        started = time.monotonic()
        asyncio.run_coroutine_threadsafe(context.client.aclose(), loop).result(30)
        took.append(time.monotonic() - started)

    async with asyncio.timeout(15):
        await cm.stream.run_forever()
    assert cm.is_closed
    assert took
    assert took[0] < 5  # not the 22 s of the grace


def test_sync_close_from_a_skill_run_by_a_drain_does_not_wait_for_itself(
    fake: FakeCodexManager,
) -> None:
    # An on_connect hook drains two pending calls (side by side, on the drain's threads);
    # a skill closes the client: it is part of the stream run, which close() must not wait for.
    cm = CodexManager(fake.base_url, stream_options=LONG_GRACE)
    took: list[float] = []

    def register(skills: SessionSkills) -> None:
        @skills.skill
        def lookup_ticket(ticket_id: str) -> str:
            """Look a ticket up."""
            if ticket_id == "B":
                started = time.monotonic()
                cm.close()
                took.append(time.monotonic() - started)
            return "open"

    _created, skills = cm.remote_skills.create_session(register=register)
    skills.send(TWO_CALLS, inject_skills=False)
    fake.wait_for(lambda: len(fake.pending_tool_calls(skills.session_id)) == 2)

    @cm.on_connect
    def drain(notice: Connected, context: SyncContext) -> None:
        skills.drain_pending_calls()

    runner = threading.Thread(target=cm.stream.run_forever, daemon=True)
    runner.start()
    runner.join(15)
    assert not runner.is_alive()
    assert took
    assert took[0] < 5  # not the 22 s of the grace
