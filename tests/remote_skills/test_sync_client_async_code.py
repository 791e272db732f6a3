"""``async def`` code on the sync client: each call runs on an event loop of its own.

An earlier change ran all of them on one loop per process, so that loop-bound objects kept
between calls would work; a review showed what that costs on the sync client, whose
``ctx.client`` blocks: an async handler or skill calling it held every other one up (four
handlers each waiting on the server one second took four), a close() from one waited for
calls queued behind it, and a skill's own TimeoutError was reported as its deadline. These
tests keep the calls independent.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from codex_manager import CodexManager
from codex_manager.remote_skills import SessionSkills
from codex_manager.stream import Connected, HandlerContext, StreamEvent
from codex_manager.testing import FakeCodexManager

from .helpers import tool_call_signal


@pytest.fixture
def server() -> Iterator[FakeCodexManager]:
    with FakeCodexManager(noise=False) as fake:
        yield fake


def test_an_async_skill_calling_the_sync_client_for_another_does_not_deadlock(
    server: FakeCodexManager,
) -> None:
    # The outer skill runs on the shared loop and blocks it while it waits for the inner one:
    # the inner one gets a loop of its own.
    with CodexManager(server.base_url) as cm:
        holder: list[SessionSkills] = []

        def register(skills: SessionSkills) -> None:
            @skills.skill
            async def inner(n: int) -> int:
                """Double."""
                await asyncio.sleep(0)
                return n * 2

            @skills.skill
            async def outer(n: int) -> int:
                """Double through inner."""
                signal = tool_call_signal(holder[0].session_id, "inner", 1000 + n, {"n": n})
                record = holder[0].dispatch_app_server_signal(signal)
                assert record is not None
                return int(record.answer_text) + 1

        _, skills = cm.remote_skills.create_session(register=register)
        holder.append(skills)
        record = skills.dispatch_app_server_signal(
            tool_call_signal(skills.session_id, "outer", 1, {"n": 4})
        )
    assert record is not None
    assert record.answer_text == "9"


def test_an_async_skill_calling_sys_exit_does_not_stop_the_loop_for_the_next_calls(
    server: FakeCodexManager,
) -> None:
    # SystemExit escaping a task stops the event loop running it: the shared loop would then
    # never run another call (the next one waited forever).
    with CodexManager(server.base_url) as cm:

        def register(skills: SessionSkills) -> None:
            @skills.skill
            async def leave() -> str:
                """Exits."""
                raise SystemExit(3)

            @skills.skill
            async def echo(n: int) -> int:
                """Echo."""
                await asyncio.sleep(0)
                return n

        _, skills = cm.remote_skills.create_session(register=register)
        failed = skills.dispatch_app_server_signal(
            tool_call_signal(skills.session_id, "leave", 1, {})
        )
        after = skills.dispatch_app_server_signal(
            tool_call_signal(skills.session_id, "echo", 2, {"n": 5})
        )
    assert failed is not None
    assert failed.error_kind == "handler_error"
    assert after is not None
    assert after.answer_text == "5"


def test_async_handlers_of_the_sync_stream_run_side_by_side(server: FakeCodexManager) -> None:
    # Each waits for the other three (a blocking wait, as a call of ctx.client is): on one
    # shared loop the first would hold the others back and the barrier would break.
    sessions = [server.create_session() for _ in range(4)]
    barrier = threading.Barrier(4, timeout=10)
    passed: list[str | None] = []
    with CodexManager(server.base_url) as cm:

        @cm.on_event("turn_plan_updated")
        async def on_plan(event: StreamEvent, ctx: HandlerContext[CodexManager]) -> None:
            barrier.wait()  # blocking, as a call of ctx.client is
            passed.append(event.thread_id)
            if len(passed) == len(sessions):
                ctx.stream.stop()

        @cm.on_connect
        def publish(notice: Connected, ctx: HandlerContext[CodexManager]) -> None:
            for session_id in sessions:
                server.publish_event("turn_plan_updated", {"plan": []}, thread_id=session_id)

        runner = threading.Thread(target=cm.stream.run_forever, daemon=True)
        runner.start()
        runner.join(20)
        assert not runner.is_alive()
    assert sorted(passed, key=str) == sorted(sessions)


def test_an_async_skills_own_timeout_error_is_its_failure_not_its_deadline(
    server: FakeCodexManager,
) -> None:
    with CodexManager(server.base_url) as cm:

        def register(skills: SessionSkills) -> None:
            @skills.skill(timeout_seconds=30)
            async def upstream() -> str:
                """Asks an upstream service that times out."""
                await asyncio.wait_for(asyncio.sleep(1), 0.01)
                return "never"

        _, skills = cm.remote_skills.create_session(register=register)
        record = skills.dispatch_app_server_signal(
            tool_call_signal(skills.session_id, "upstream", 1, {})
        )
    assert record is not None
    assert record.error_kind == "handler_error"
    assert "TimeoutError" in (record.error or "")
