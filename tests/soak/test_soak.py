"""Fault-injection soak: many sessions, one shared stream, periodic drains, zero calls lost.

The sync client also runs it with a stream per session (50 streams read by the stream hub).

Runs in CI at a bounded size (2,000 calls); ``make soak`` runs the long version
(``CODEX_MANAGER_SOAK_CALLS=10000``). Faults while calls flow: answer 500s on about 5 % of
first attempts, in-flight holds (409 window) on about 2 %, websocket drops every couple of
seconds, and one server restart (request ids start again at "0"). Handlers take 20 ms.

Counted and asserted: no call left unanswered, no handler run twice for one call, no answer
sent for a call of another session, no crash of the stream.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from codex_manager import AsyncCodexManager, CodexManager
from codex_manager.remote_skills import (
    AsyncSessionSkills,
    RemoteSkillOptions,
    SessionSkills,
    SkillContext,
)
from codex_manager.stream import (
    AppServerSignal,
    EventStream,
    HandlerError,
    Reconnected,
    StreamConnectionError,
    StreamFrameError,
)
from codex_manager.testing import FakeCodexManager

pytestmark = [pytest.mark.soak, pytest.mark.timeout(300)]

TOTAL_CALLS = int(os.environ.get("CODEX_MANAGER_SOAK_CALLS", "2000"))
SESSIONS = 50
CALLS_PER_MESSAGE = 8
HANDLER_SECONDS = 0.02
ANSWER_500_RATE = 0.05
IN_FLIGHT_HOLD_RATE = 0.02
DROP_EVERY_SECONDS = 2.0
DRAIN_EVERY_SECONDS = 0.5


@dataclass
class SoakLedger:
    """What the soak observed, shared by handlers running on many threads."""

    runs: Counter[tuple[str, str]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    drains_with_work: int = 0
    reconnects: int = 0
    connection_losses: int = 0
    stream_errors: list[str] = field(default_factory=list)

    def error(self, error: BaseException) -> None:
        """Connection losses are expected (the soak drops sockets); anything else is a failure."""
        with self.lock:
            if isinstance(error, StreamConnectionError):
                self.connection_losses += 1
            elif isinstance(error, HandlerError | StreamFrameError):
                self.stream_errors.append(repr(error))
            else:
                self.stream_errors.append(f"unexpected {error!r}")

    def ran(self, session_id: str, call_id: str) -> None:
        with self.lock:
            self.runs[(session_id, call_id)] += 1


def _rounds() -> int:
    return max(2, math.ceil(TOTAL_CALLS / (SESSIONS * CALLS_PER_MESSAGE)))


def _message(round_index: int, session_index: int) -> str:
    base = (round_index * SESSIONS + session_index) * CALLS_PER_MESSAGE
    calls = "\n".join(f'CALL work {{"n": {base + i}}}' for i in range(CALLS_PER_MESSAGE))
    return "PARALLEL\n" + calls


def _arm_faults(server: FakeCodexManager) -> None:
    calls = SESSIONS * CALLS_PER_MESSAGE
    server.fail_next_answers(math.ceil(calls * ANSWER_500_RATE))
    server.hold_in_flight(0.05, count=math.ceil(calls * IN_FLIGHT_HOLD_RATE))


def _verify(server: FakeCodexManager, ledger: SoakLedger, sessions: set[str]) -> None:
    calls = server.tool_calls
    expected = _rounds() * SESSIONS * CALLS_PER_MESSAGE
    assert len(calls) == expected, f"the agent made {len(calls)} calls, expected {expected}"
    unanswered = [call for call in calls if call.outcome != "resolved"]
    assert not unanswered, f"{len(unanswered)} calls left unanswered: {unanswered[:3]}"
    twice = {key: count for key, count in ledger.runs.items() if count > 1}
    assert not twice, f"handlers ran more than once: {list(twice.items())[:5]}"
    assert len(ledger.runs) == expected
    # Every accepted answer carries the session that produced it; it must be the call's own.
    foreign = []
    for answer in server.answers:
        if answer.status != 200:
            continue
        text = str(answer.body)
        if answer.thread_id not in sessions or f"session={answer.thread_id}" not in text:
            foreign.append(answer)
    assert not foreign, f"{len(foreign)} answers sent for another session's call"
    assert not ledger.stream_errors, f"stream crashed: {ledger.stream_errors}"


def _report(label: str, server: FakeCodexManager, ledger: SoakLedger, seconds: float) -> None:
    statuses = Counter(answer.status for answer in server.answers)
    calls = len(server.tool_calls)
    print(
        f"\n[soak:{label}] {calls} calls in {seconds:.1f}s ({calls / seconds:.0f} calls/s); "
        f"answers by status {dict(sorted(statuses.items()))}; "
        f"reconnects {ledger.reconnects} (losses {ledger.connection_losses}); "
        f"drains that found work {ledger.drains_with_work}"
    )


async def test_soak_async_shared_stream() -> None:
    ledger = SoakLedger()
    with FakeCodexManager(noise=True) as server:
        async with AsyncCodexManager(server.base_url) as acm:
            registries: dict[str, AsyncSessionSkills] = {}
            options = RemoteSkillOptions(max_concurrent_calls=64)

            def register(skills: AsyncSessionSkills) -> None:
                async def work(n: int, ctx: SkillContext) -> str:
                    ledger.ran(ctx.thread_id or "?", ctx.call_id or f"request-{ctx.request_id}")
                    await asyncio.sleep(HANDLER_SECONDS)
                    return f"session={ctx.thread_id} n={n}"

                skills.register("work", work, description="Soak work item")

            for _ in range(SESSIONS):
                created, skills = await acm.remote_skills.create_session(
                    register=register, skill_options=options
                )
                registries[created["session"]["sessionId"]] = skills

            @acm.on_app_server_request("item.tool.call")
            async def on_call(signal: AppServerSignal, ctx: object) -> None:
                skills = registries.get(signal.thread_id or "")
                if skills is not None:
                    await skills.respond_to_signal(signal)

            async def drain_all() -> None:
                for skills in registries.values():
                    if await skills.drain_pending_calls():
                        ledger.drains_with_work += 1

            @acm.on_reconnect
            async def on_reconnect(event: Reconnected, ctx: object) -> None:
                ledger.reconnects += 1
                await drain_all()

            @acm.on_error()
            async def on_error(error: BaseException, ctx: object) -> None:
                ledger.error(error)

            stream = asyncio.create_task(acm.stream.run_forever())
            stop = asyncio.Event()

            async def periodically(seconds: float, action: object) -> None:
                assert callable(action)
                while not stop.is_set():
                    await asyncio.sleep(seconds)
                    await action()

            async def drop() -> None:
                await asyncio.to_thread(server.drop_websockets)

            background = [
                asyncio.create_task(periodically(DRAIN_EVERY_SECONDS, drain_all)),
                asyncio.create_task(periodically(DROP_EVERY_SECONDS, drop)),
            ]
            started = time.perf_counter()
            try:
                await asyncio.to_thread(server.wait_for, lambda: server.websocket_count > 0, 10)
                for round_index in range(_rounds()):
                    if round_index == _rounds() // 2:
                        await asyncio.to_thread(server.restart)
                    await asyncio.to_thread(_arm_faults, server)
                    for session_index, skills in enumerate(registries.values()):
                        await skills.send(_message(round_index, session_index), inject_skills=False)
                    expected_turns = (round_index + 1) * SESSIONS
                    await asyncio.to_thread(
                        server.wait_for,
                        lambda: len(server.turns()) == expected_turns and server.is_idle(),  # noqa: B023
                        120,
                    )
            finally:
                stop.set()
                await asyncio.gather(*background, return_exceptions=True)
                acm.stream.stop()
                await stream
            elapsed = time.perf_counter() - started
            _report("async", server, ledger, elapsed)
            _verify(server, ledger, set(registries))


def test_soak_sync_shared_stream() -> None:
    _soak_sync(per_session=False)


def test_soak_sync_stream_per_session() -> None:
    """The same through 50 streams, one per session, read by the process's stream hub."""
    _soak_sync(per_session=True)


def _soak_sync(*, per_session: bool) -> None:
    ledger = SoakLedger()
    with FakeCodexManager(noise=True) as server, CodexManager(server.base_url) as cm:
        registries: dict[str, SessionSkills] = {}

        def register(skills: SessionSkills) -> None:
            def work(n: int, ctx: SkillContext) -> str:
                ledger.ran(ctx.thread_id or "?", ctx.call_id or f"request-{ctx.request_id}")
                time.sleep(HANDLER_SECONDS)
                return f"session={ctx.thread_id} n={n}"

            skills.register("work", work, description="Soak work item")

        options = RemoteSkillOptions(max_concurrent_calls=32)
        for _ in range(SESSIONS):
            created, skills = cm.remote_skills.create_session(
                register=register, skill_options=options
            )
            registries[created["session"]["sessionId"]] = skills

        def on_call(signal: AppServerSignal, ctx: object) -> None:
            skills = registries.get(signal.thread_id or "")
            if skills is not None:
                skills.respond_to_signal(signal)

        def drain_all() -> None:
            for skills in registries.values():
                if skills.drain_pending_calls():
                    with ledger.lock:
                        ledger.drains_with_work += 1

        def drain_one(thread_id: str | None) -> None:
            skills = registries.get(thread_id or "")
            if skills is not None and skills.drain_pending_calls():
                with ledger.lock:
                    ledger.drains_with_work += 1

        def on_reconnect(event: Reconnected, ctx: object) -> None:
            with ledger.lock:
                ledger.reconnects += 1
            if per_session:
                drain_one(event.thread_id)
            else:
                drain_all()

        def on_error(error: BaseException, ctx: object) -> None:
            ledger.error(error)

        streams: list[tuple[EventStream[CodexManager], str | None]]
        if per_session:
            streams = [(EventStream(cm), thread_id) for thread_id in registries]
        else:
            streams = [(cm.stream, None)]
        for stream, _ in streams:
            stream.on_app_server_request("item.tool.call")(on_call)
            stream.on_reconnect(on_reconnect)
            stream.on_error()(on_error)

        stop = threading.Event()

        def periodically(seconds: float, action: object) -> None:
            assert callable(action)
            while not stop.wait(seconds):
                action()

        threads = [
            threading.Thread(
                target=stream.run_forever, kwargs={"thread_id": thread_id}, name="soak-stream"
            )
            for stream, thread_id in streams
        ]
        threads += [
            threading.Thread(target=periodically, args=(DRAIN_EVERY_SECONDS, drain_all)),
            threading.Thread(
                target=periodically, args=(DROP_EVERY_SECONDS, server.drop_websockets)
            ),
        ]
        for thread in threads:
            thread.start()
        started = time.perf_counter()
        try:
            server.wait_for(lambda: server.websocket_count >= len(streams), 10)
            for round_index in range(_rounds()):
                if round_index == _rounds() // 2:
                    server.restart()
                _arm_faults(server)
                for session_index, skills in enumerate(registries.values()):
                    skills.send(_message(round_index, session_index), inject_skills=False)
                expected_turns = (round_index + 1) * SESSIONS
                server.wait_for(
                    lambda: len(server.turns()) == expected_turns and server.is_idle(),  # noqa: B023
                    120,
                )
        finally:
            stop.set()
            for stream, _ in streams:
                stream.stop()
            for thread in threads:
                thread.join(30)
        elapsed = time.perf_counter() - started
        _report("sync, stream per session" if per_session else "sync", server, ledger, elapsed)
        _verify(server, ledger, set(registries))
