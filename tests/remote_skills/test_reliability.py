"""Exactly-once delivery across paths and restarts, and session isolation."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator

from codex_manager import AsyncCodexManager, CodexManager
from codex_manager.remote_skills import (
    AsyncSessionSkills,
    RemoteSkillDispatch,
    RemoteSkillOptions,
    SessionSkills,
    SkillContext,
    SkillHandler,
)
from codex_manager.stream import AppServerSignal, HandlerContext, Reconnected, StreamOptions
from codex_manager.testing import FakeCodexManager

from .helpers import last_reply

TURNS = 4
CALLS_PER_TURN = 50


def _burst(turn: int) -> str:
    calls = "\n".join(f'CALL work {{"n": {turn * 1000 + i}}}' for i in range(CALLS_PER_TURN))
    return "PARALLEL\n" + calls


def _assert_exactly_once(server: FakeCodexManager, runs: Counter[str]) -> None:
    calls = server.tool_calls
    assert len(calls) == TURNS * CALLS_PER_TURN
    assert all(call.outcome == "resolved" for call in calls)
    assert set(runs) == {call.call_id for call in calls}
    assert set(runs.values()) == {1}, "a handler ran more than once for one call"
    # One POST per call: the paths never raced each other into a second answer.
    assert len(server.answers) == len(calls)
    assert {answer.status for answer in server.answers} == {200}


def test_stream_and_drain_together_sync(server: FakeCodexManager, cm: CodexManager) -> None:
    runs: Counter[str] = Counter()
    lock = threading.Lock()

    def work(n: int, ctx: SkillContext) -> int:
        with lock:
            runs[ctx.call_id or "?"] += 1
        return n

    created, skills = cm.remote_skills.create_session(register=lambda s: s.skill(work))
    session_id = created["session"]["sessionId"]

    @cm.on_app_server_request("item.tool.call")
    def on_call(signal: AppServerSignal, ctx: object) -> None:
        skills.respond_to_signal(signal)

    stream = threading.Thread(target=cm.stream.run_forever, kwargs={"thread_id": session_id})
    stream.start()
    done = threading.Event()

    def drain_loop() -> None:
        while not done.is_set():
            skills.drain_pending_calls()

    drainer = threading.Thread(target=drain_loop)
    drainer.start()
    try:
        server.wait_for(lambda: server.websocket_count > 0, 10)
        for turn in range(TURNS):
            skills.send(_burst(turn), inject_skills=False)
            server.wait_for(
                lambda: server.is_idle() and len(server.turns()) == turn + 1,  # noqa: B023
                30,
            )
    finally:
        done.set()
        drainer.join(10)
        cm.stream.stop()
        stream.join(10)
    _assert_exactly_once(server, runs)
    assert all(turn.status == "completed" for turn in server.turns())


async def test_stream_and_drain_together_async(
    server: FakeCodexManager, acm: AsyncCodexManager
) -> None:
    runs: Counter[str] = Counter()

    async def work(n: int, ctx: SkillContext) -> int:
        runs[ctx.call_id or "?"] += 1
        await asyncio.sleep(0)
        return n

    created, skills = await acm.remote_skills.create_session(register=lambda s: s.skill(work))
    session_id = created["session"]["sessionId"]

    @acm.on_app_server_request("item.tool.call")
    async def on_call(signal: AppServerSignal, ctx: object) -> None:
        await skills.respond_to_signal(signal)

    stream = asyncio.create_task(acm.stream.run_forever(thread_id=session_id))
    done = asyncio.Event()

    async def drain_loop() -> None:
        while not done.is_set():
            await skills.drain_pending_calls()
            await asyncio.sleep(0)

    drainer = asyncio.create_task(drain_loop())
    try:
        await asyncio.to_thread(server.wait_for, lambda: server.websocket_count > 0, 10)
        for turn in range(TURNS):
            await skills.send(_burst(turn), inject_skills=False)
            await asyncio.to_thread(
                server.wait_for,
                lambda: server.is_idle() and len(server.turns()) == turn + 1,  # noqa: B023
                30,
            )
    finally:
        done.set()
        await drainer
        acm.stream.stop()
        await stream
    _assert_exactly_once(server, runs)


def _restart_scenario_sync(
    server: FakeCodexManager, cm: CodexManager, skills: SessionSkills
) -> None:
    session_id = skills.session_id

    @cm.on_app_server_request("item.tool.call")
    def on_call(signal: AppServerSignal, ctx: object) -> None:
        skills.respond_to_signal(signal)

    @cm.on_reconnect
    def on_reconnect(event: Reconnected, ctx: object) -> None:
        skills.drain_pending_calls()

    stream = threading.Thread(target=cm.stream.run_forever, kwargs={"thread_id": session_id})
    stream.start()
    try:
        server.wait_for(lambda: server.websocket_count > 0, 10)
        skills.send('CALL echo {"text": "before"}', inject_skills=False)
        assert last_reply(server, session_id) == "TOOL RESULT: before"
        server.restart()
        server.wait_for(lambda: server.websocket_count > 0, 10)
        skills.send('CALL echo {"text": "after"}', inject_skills=False)
        server.wait_for(lambda: len(server.turns(session_id)) == 2, 10)
        assert last_reply(server, session_id) == "TOOL RESULT: after"
    finally:
        cm.stream.stop()
        stream.join(10)


def test_restart_between_two_calls_sync(server: FakeCodexManager, cm: CodexManager) -> None:
    seen: list[str] = []

    def echo(text: str) -> str:
        seen.append(text)
        return text

    _, skills = cm.remote_skills.create_session(register=lambda s: s.skill(echo))
    _restart_scenario_sync(server, cm, skills)
    first, second = server.tool_calls
    # The request id was reused after the restart; the new call was still handled.
    assert first.request_id == second.request_id == "0"
    assert seen == ["before", "after"]


async def test_restart_between_two_calls_async(
    server: FakeCodexManager, acm: AsyncCodexManager
) -> None:
    seen: list[str] = []

    async def echo(text: str) -> str:
        seen.append(text)
        return text

    created, skills = await acm.remote_skills.create_session(register=lambda s: s.skill(echo))
    session_id = created["session"]["sessionId"]

    @acm.on_app_server_request("item.tool.call")
    async def on_call(signal: AppServerSignal, ctx: object) -> None:
        await skills.respond_to_signal(signal)

    @acm.on_reconnect
    async def on_reconnect(event: Reconnected, ctx: object) -> None:
        await skills.drain_pending_calls()

    stream = asyncio.create_task(acm.stream.run_forever(thread_id=session_id))
    try:
        await asyncio.to_thread(server.wait_for, lambda: server.websocket_count > 0, 10)
        await skills.send('CALL echo {"text": "before"}', inject_skills=False)
        assert await asyncio.to_thread(last_reply, server, session_id) == "TOOL RESULT: before"
        await asyncio.to_thread(server.restart)
        await asyncio.to_thread(server.wait_for, lambda: server.websocket_count > 0, 10)
        await skills.send('CALL echo {"text": "after"}', inject_skills=False)
        await asyncio.to_thread(server.wait_for, lambda: len(server.turns(session_id)) == 2, 10)
        assert await asyncio.to_thread(last_reply, server, session_id) == "TOOL RESULT: after"
    finally:
        acm.stream.stop()
        await stream
    assert [call.request_id for call in server.tool_calls] == ["0", "0"]
    assert seen == ["before", "after"]


def test_calls_made_while_disconnected_are_drained(
    server: FakeCodexManager, cm: CodexManager
) -> None:
    _, skills = cm.remote_skills.create_session(register=lambda s: s.skill(len))
    session_id = skills.session_id
    skills.send('CALL len {"obj": "abcd"}', inject_skills=False)
    server.wait_for(lambda: len(server.pending_tool_calls(session_id)) == 1, 10)
    (record,) = skills.drain_pending_calls()
    assert record.answer_text == "4"
    assert last_reply(server, session_id) == "TOOL RESULT: 4"


def test_sessions_only_answer_their_own_calls(server: FakeCodexManager, cm: CodexManager) -> None:
    def who(ctx: SkillContext) -> str:
        return f"answered by {ctx.session_id}"

    _, first = cm.remote_skills.create_session(register=lambda s: s.skill(who))
    _, second = cm.remote_skills.create_session(register=lambda s: s.skill(who))
    answered: list[tuple[str, str]] = []

    @cm.on_app_server_request("item.tool.call")
    def on_call(signal: AppServerSignal, ctx: object) -> None:
        for skills in (first, second):
            record = skills.respond_to_signal(signal)
            if record is not None:
                answered.append((skills.session_id, record.thread_id))

    stream = threading.Thread(target=cm.stream.run_forever)  # unfiltered: sees both sessions
    stream.start()
    try:
        server.wait_for(lambda: server.websocket_count > 0, 10)
        first.send("CALL who", inject_skills=False)
        second.send("CALL who", inject_skills=False)
        server.wait_for(lambda: server.is_idle() and len(server.turns()) == 2, 10)
    finally:
        cm.stream.stop()
        stream.join(10)
    assert sorted(answered) == sorted(
        [(first.session_id, first.session_id), (second.session_id, second.session_id)]
    )
    assert last_reply(server, first.session_id) == f"TOOL RESULT: answered by {first.session_id}"
    assert last_reply(server, second.session_id) == (
        f"TOOL RESULT: answered by {second.session_id}"
    )


async def test_async_sessions_isolated_under_one_stream(
    server: FakeCodexManager, acm: AsyncCodexManager
) -> None:
    async def who(ctx: SkillContext) -> str:
        return f"answered by {ctx.session_id}"

    registries: list[AsyncSessionSkills] = []
    for _ in range(3):
        _, skills = await acm.remote_skills.create_session(register=lambda s: s.skill(who))
        registries.append(skills)

    @acm.on_app_server_request("item.tool.call")
    async def on_call(signal: AppServerSignal, ctx: object) -> None:
        records = [await skills.respond_to_signal(signal) for skills in registries]
        assert sum(record is not None for record in records) == 1

    stream = asyncio.create_task(acm.stream.run_forever())
    try:
        await asyncio.to_thread(server.wait_for, lambda: server.websocket_count > 0, 10)
        for skills in registries:
            await skills.send("CALL who", inject_skills=False)
        await asyncio.to_thread(
            server.wait_for, lambda: server.is_idle() and len(server.turns()) == 3, 10
        )
    finally:
        acm.stream.stop()
        await stream
    for skills in registries:
        reply = await asyncio.to_thread(last_reply, server, skills.session_id)
        assert reply == f"TOOL RESULT: answered by {skills.session_id}"


def _restart_during_handler(
    server: FakeCodexManager, cm: CodexManager, check_after: float | None
) -> tuple[RemoteSkillDispatch, SessionSkills]:
    """Session A's handler is running when the server restarts and session B's new call
    takes A's request id; then A's handler finishes."""
    release = threading.Event()
    started = threading.Event()

    def slow(x: int) -> int:
        started.set()
        assert release.wait(10)
        return x

    options = RemoteSkillOptions(ownership_check_after_seconds=check_after)
    _, first = cm.remote_skills.create_session(
        register=lambda s: s.skill(slow), skill_options=options
    )
    _, second = cm.remote_skills.create_session(register=lambda s: s.skill(slow))
    first.send('CALL slow {"x": 1}', inject_skills=False)
    server.wait_for(lambda: len(server.pending_tool_calls(first.session_id)) == 1, 10)
    records: list[RemoteSkillDispatch] = []
    worker = threading.Thread(target=lambda: records.extend(first.drain_pending_calls()))
    worker.start()
    assert started.wait(10)
    server.restart()
    second.send('CALL slow {"x": 2}', inject_skills=False)
    server.wait_for(lambda: len(server.pending_tool_calls(second.session_id)) == 1, 10)
    (pending,) = server.pending_tool_calls(second.session_id)
    assert pending["requestId"] == "0"  # the id A's call had before the restart
    release.set()
    worker.join(10)
    (record,) = records
    return record, second


def test_restart_during_handler_never_answers_another_session(
    server: FakeCodexManager, cm: CodexManager
) -> None:
    record, second = _restart_during_handler(server, cm, check_after=0)
    assert record.submission_status == "not_found"
    assert record.submission_attempts == 0
    assert record.submission_error is not None
    assert "no longer pending" in record.submission_error
    # B's call is untouched and gets its own answer.
    (mine,) = second.drain_pending_calls()
    assert mine.answer_text == "2"
    assert last_reply(server, second.session_id) == "TOOL RESULT: 2"


def test_misrouted_answer_is_reported_when_the_check_is_off(
    server: FakeCodexManager, cm: CodexManager
) -> None:
    record, second = _restart_during_handler(server, cm, check_after=None)
    assert record.submission_status == "misrouted"
    assert record.submission_error is not None
    assert repr(second.session_id) in record.submission_error


def test_a_quick_answer_after_its_stream_lost_the_server_is_checked_first_sync(
    server: FakeCodexManager, cm: CodexManager
) -> None:
    # The handler is quicker than ownership_check_after_seconds (1 s), but the server
    # restarted while it ran: the stream saw its connection drop, and another session's new
    # call took the request id. Posted unchecked, the answer landed on that call.
    reconnected = threading.Event()
    release = threading.Event()
    records: list[RemoteSkillDispatch] = []

    def slow(x: int) -> int:
        """Held until the other session's call holds the request id."""
        assert release.wait(10)
        return x

    _, first = cm.remote_skills.create_session(register=lambda s: s.skill(slow))
    _, second = cm.remote_skills.create_session(register=lambda s: s.skill(slow))

    @cm.on_app_server_request("item.tool.call")
    def on_call(signal: AppServerSignal, ctx: object) -> None:
        record = first.respond_to_signal(signal)
        if record is not None:
            records.append(record)

    @cm.on_reconnect
    def on_reconnect(event: Reconnected, ctx: object) -> None:
        reconnected.set()

    stream = threading.Thread(target=cm.stream.run_forever)
    stream.start()
    try:
        server.wait_for(lambda: server.websocket_count > 0, 10)
        first.send('CALL slow {"x": 1}', inject_skills=False)
        server.wait_for(lambda: len(server.pending_tool_calls(first.session_id)) == 1, 10)
        server.restart()
        assert reconnected.wait(10)
        second.send('CALL slow {"x": 2}', inject_skills=False)
        server.wait_for(lambda: len(server.pending_tool_calls(second.session_id)) == 1, 10)
        release.set()
        server.wait_for(lambda: len(records) == 1, 10)
    finally:
        release.set()
        cm.stream.stop()
        stream.join(10)
    (record,) = records
    assert record.duration_seconds < 1.0
    assert (record.submission_status, record.submission_attempts) == ("not_found", 0)
    assert [call["requestId"] for call in server.pending_tool_calls(second.session_id)] == ["0"]
    (mine,) = second.drain_pending_calls()
    assert mine.answer_text == "2"


async def test_a_quick_answer_after_its_stream_lost_the_server_is_checked_first_async(
    server: FakeCodexManager, acm: AsyncCodexManager
) -> None:
    reconnected = asyncio.Event()
    release = asyncio.Event()
    records: list[RemoteSkillDispatch] = []

    async def slow(x: int) -> int:
        """Held until the other session's call holds the request id."""
        await asyncio.wait_for(release.wait(), 10)
        return x

    _, first = await acm.remote_skills.create_session(register=lambda s: s.skill(slow))
    _, second = await acm.remote_skills.create_session(register=lambda s: s.skill(slow))

    @acm.on_app_server_request("item.tool.call")
    async def on_call(signal: AppServerSignal, ctx: object) -> None:
        record = await first.respond_to_signal(signal)
        if record is not None:
            records.append(record)

    @acm.on_reconnect
    async def on_reconnect(event: Reconnected, ctx: object) -> None:
        reconnected.set()

    stream = asyncio.create_task(acm.stream.run_forever())
    try:
        await asyncio.to_thread(server.wait_for, lambda: server.websocket_count > 0, 10)
        await first.send('CALL slow {"x": 1}', inject_skills=False)
        await asyncio.to_thread(
            server.wait_for, lambda: len(server.pending_tool_calls(first.session_id)) == 1, 10
        )
        await asyncio.to_thread(server.restart)
        await asyncio.wait_for(reconnected.wait(), 10)
        await second.send('CALL slow {"x": 2}', inject_skills=False)
        await asyncio.to_thread(
            server.wait_for, lambda: len(server.pending_tool_calls(second.session_id)) == 1, 10
        )
        release.set()
        await asyncio.to_thread(server.wait_for, lambda: len(records) == 1, 10)
    finally:
        release.set()
        acm.stream.stop()
        await asyncio.wait_for(stream, 10)
    (record,) = records
    assert record.duration_seconds < 1.0
    assert (record.submission_status, record.submission_attempts) == ("not_found", 0)
    assert [call["requestId"] for call in server.pending_tool_calls(second.session_id)] == ["0"]
    (mine,) = await second.drain_pending_calls()
    assert mine.answer_text == "2"


def _quick_and_blocking(
    block: SkillHandler, quick: SkillHandler
) -> Callable[[SessionSkills | AsyncSessionSkills], None]:
    def register(skills: SessionSkills | AsyncSessionSkills) -> None:
        skills.skill(block)
        skills.skill(quick)

    return register


@contextlib.contextmanager
def _answering_on_a_stream(
    server: FakeCodexManager,
    cm: CodexManager,
    skills: SessionSkills,
    records: list[RemoteSkillDispatch],
    release: threading.Event,
) -> Iterator[None]:
    """``cm.stream`` running in a thread, its tool calls answered by ``skills`` into
    ``records``; on the way out ``release`` is set (held handlers let go) and it stops."""

    @cm.on_app_server_request("item.tool.call")
    def on_call(signal: AppServerSignal, ctx: object) -> None:
        record = skills.respond_to_signal(signal)
        if record is not None:
            records.append(record)

    stream = threading.Thread(target=cm.stream.run_forever)
    stream.start()
    try:
        server.wait_for(lambda: server.websocket_count > 0, 10)
        yield
    finally:
        release.set()
        cm.stream.stop()
        stream.join(10)


def test_a_call_read_before_the_loss_and_started_after_it_is_checked_sync(
    server: FakeCodexManager,
) -> None:
    # Queued behind a busy worker (max_concurrency=1), the quick call started after the
    # stream reconnected: marked at its start, its answer went out unchecked onto another
    # session's call.
    release = threading.Event()
    records: list[RemoteSkillDispatch] = []

    def block(x: int) -> int:
        """Holds the only worker."""
        assert release.wait(10)
        return x

    def quick(x: int) -> int:
        """Quick."""
        return x

    options = StreamOptions(max_concurrency=1)
    with CodexManager(server.base_url, stream_options=options) as cm:
        register = _quick_and_blocking(block, quick)
        _, first = cm.remote_skills.create_session(register=register)
        _, second = cm.remote_skills.create_session(register=register)
        with _answering_on_a_stream(server, cm, first, records, release):
            first.send('PARALLEL\nCALL block {"x": 1}\nCALL quick {"x": 2}', inject_skills=False)
            server.wait_for(lambda: len(server.tool_calls) == 2, 10)
            time.sleep(0.3)  # both frames read: block runs, quick waits for the worker
            server.restart()
            server.wait_for(lambda: server.websocket_count > 0, 10)
            second.send('PARALLEL\nCALL quick {"x": 20}\nCALL quick {"x": 30}', inject_skills=False)
            server.wait_for(lambda: len(server.pending_tool_calls(second.session_id)) == 2, 10)
            release.set()
            server.wait_for(lambda: len(records) == 2, 10)
    assert sorted((r.tool, r.submission_status, r.submission_attempts) for r in records) == [
        ("block", "not_found", 0),
        ("quick", "not_found", 0),
    ]
    assert len(server.pending_tool_calls(second.session_id)) == 2


async def test_a_call_read_before_the_loss_and_started_after_it_is_checked_async(
    server: FakeCodexManager,
) -> None:
    release = asyncio.Event()
    records: list[RemoteSkillDispatch] = []

    async def block(x: int) -> int:
        """Holds the only slot."""
        await asyncio.wait_for(release.wait(), 10)
        return x

    async def quick(x: int) -> int:
        """Quick."""
        return x

    def wait(condition: Callable[[], bool]) -> Awaitable[None]:
        return asyncio.to_thread(server.wait_for, condition, 10)

    options = StreamOptions(max_concurrency=1)
    async with AsyncCodexManager(server.base_url, stream_options=options) as acm:
        register = _quick_and_blocking(block, quick)
        _, first = await acm.remote_skills.create_session(register=register)
        _, second = await acm.remote_skills.create_session(register=register)

        @acm.on_app_server_request("item.tool.call")
        async def on_call(signal: AppServerSignal, ctx: object) -> None:
            record = await first.respond_to_signal(signal)
            if record is not None:
                records.append(record)

        stream = asyncio.create_task(acm.stream.run_forever())
        try:
            await wait(lambda: server.websocket_count > 0)
            await first.send(
                'PARALLEL\nCALL block {"x": 1}\nCALL quick {"x": 2}', inject_skills=False
            )
            await wait(lambda: len(server.tool_calls) == 2)
            await asyncio.sleep(0.3)
            await asyncio.to_thread(server.restart)
            await wait(lambda: server.websocket_count > 0)
            await second.send(
                'PARALLEL\nCALL quick {"x": 20}\nCALL quick {"x": 30}', inject_skills=False
            )
            await wait(lambda: len(server.pending_tool_calls(second.session_id)) == 2)
            release.set()
            await wait(lambda: len(records) == 2)
        finally:
            release.set()
            acm.stream.stop()
            await asyncio.wait_for(stream, 10)
    assert sorted((r.tool, r.submission_status, r.submission_attempts) for r in records) == [
        ("block", "not_found", 0),
        ("quick", "not_found", 0),
    ]
    assert len(server.pending_tool_calls(second.session_id)) == 2


def test_a_call_that_waited_for_a_worker_past_its_deadline_never_starts_sync(
    server: FakeCodexManager,
) -> None:
    # Queued behind a hung handler (max_concurrency=1), the second call got a fresh full
    # timeout once it started, and the model waited that much longer for its timeout text.
    runs: list[int] = []
    release = threading.Event()
    records: list[RemoteSkillDispatch] = []

    def hang(x: int) -> int:
        """Hangs well past its deadline."""
        runs.append(x)
        release.wait(0.8)
        return x

    options = StreamOptions(max_concurrency=1)
    with CodexManager(server.base_url, stream_options=options) as cm:
        _, skills = cm.remote_skills.create_session(
            register=lambda s: s.skill(timeout_seconds=0.3)(hang)
        )
        with _answering_on_a_stream(server, cm, skills, records, release):
            skills.send('PARALLEL\nCALL hang {"x": 1}\nCALL hang {"x": 2}', inject_skills=False)
            server.wait_for(lambda: len(server.answers) == 2, 10)
    assert runs == [1]
    assert sorted((r.error_kind, r.handled) for r in records) == [
        ("timeout", False),
        ("timeout", False),
    ]


async def test_a_call_that_waited_for_a_slot_past_its_deadline_never_starts_async(
    server: FakeCodexManager,
) -> None:
    runs: list[int] = []

    async def hang(x: int) -> int:
        """Holds its slot past its deadline (shielded from its own cancel)."""
        runs.append(x)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.8)
        return x

    options = StreamOptions(max_concurrency=1)
    async with AsyncCodexManager(server.base_url, stream_options=options) as acm:
        _, skills = await acm.remote_skills.create_session(
            register=lambda s: s.skill(timeout_seconds=0.3)(hang)
        )

        @acm.on_app_server_request("item.tool.call")
        async def on_call(signal: AppServerSignal, ctx: object) -> None:
            await skills.respond_to_signal(signal)

        listening = asyncio.create_task(acm.stream.run_forever())
        try:
            await asyncio.to_thread(server.wait_for, lambda: server.websocket_count > 0, 10)
            await skills.send(
                'PARALLEL\nCALL hang {"x": 1}\nCALL hang {"x": 2}', inject_skills=False
            )
            await asyncio.to_thread(server.wait_for, lambda: len(server.answers) == 2, 10)
        finally:
            acm.stream.stop()
            await listening
    assert runs == [1]


def test_a_drain_from_a_stream_handler_counts_no_deadline_from_that_handlers_event(
    server: FakeCodexManager, cm: CodexManager
) -> None:
    # The drained calls were never read by the stream, yet their deadline counted from when
    # the on_connect notice was read: a handler busy longer than a skill's timeout before
    # draining answered every call with its timeout text, unrun.
    ran: list[int] = []

    def quick() -> str:
        """Quick."""
        ran.append(1)
        return "done"

    _, skills = cm.remote_skills.create_session(
        register=lambda s: s.skill(timeout_seconds=0.3)(quick)
    )
    skills.send("CALL quick {}", inject_skills=False)
    assert skills.session_id is not None
    server.wait_for_tool_call(skills.session_id)
    records: list[RemoteSkillDispatch] = []

    @cm.on_connect
    def catch_up(notice: object, ctx: HandlerContext[CodexManager]) -> None:
        time.sleep(0.5)  # work of its own first
        records.extend(skills.drain_pending_calls())
        ctx.stop()

    cm.stream.run_forever(skills.session_id)
    assert [(r.error_kind, r.answer_text) for r in records] == [(None, "done")]
    assert ran == [1]
