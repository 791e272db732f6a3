"""The sync client runs ``async def`` skills and stream handlers on one event loop per process.

Each used to get a fresh loop (``asyncio.run``), so what async code kept between calls and
bound to a loop (a module-level ``httpx.AsyncClient``) worked on one call and failed on the
next with "Event loop is closed".
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from codex_manager import CodexManager
from codex_manager.remote_skills import RemoteSkillDispatch, SessionSkills
from codex_manager.stream import HandlerContext
from codex_manager.testing import FakeCodexManager

from .helpers import tool_call_signal


@pytest.fixture
def server() -> Iterator[FakeCodexManager]:
    with FakeCodexManager(noise=False) as fake:
        yield fake


def test_an_async_skill_keeps_a_loop_bound_client_between_calls(server: FakeCodexManager) -> None:
    kept: dict[str, httpx.AsyncClient] = {}
    loops: set[int] = set()

    def register(skills: SessionSkills) -> None:
        @skills.skill
        async def health(n: int) -> str:
            """Ask the server's health with a client made once."""
            client = kept.setdefault("client", httpx.AsyncClient(base_url=server.base_url))
            loops.add(id(asyncio.get_running_loop()))
            response = await client.get("/api/health")
            return f"{n}: {response.status_code}"

    with CodexManager(server.base_url) as cm:
        _, skills = cm.remote_skills.create_session(register=register)
        records = [
            skills.dispatch_app_server_signal(
                tool_call_signal(skills.session_id, "health", n, {"n": n})
            )
            for n in range(3)
        ]
    assert [record.answer_text if record else None for record in records] == [
        "0: 200",
        "1: 200",
        "2: 200",
    ]
    assert len(loops) == 1


def test_async_handlers_of_the_sync_stream_share_one_loop(server: FakeCodexManager) -> None:
    session_id = server.create_session()
    loops: list[int] = []
    lock_box: dict[str, asyncio.Lock] = {}

    with CodexManager(server.base_url) as cm:

        @cm.on_event("turn_plan_updated")
        async def on_status(event: object, ctx: HandlerContext[CodexManager]) -> None:
            lock = lock_box.setdefault("lock", asyncio.Lock())
            async with lock:  # an asyncio.Lock made on an earlier call's loop
                loops.append(id(asyncio.get_running_loop()))
            if len(loops) == 3:
                ctx.stream.stop()

        @cm.on_connect
        def publish(notice: object, ctx: HandlerContext[CodexManager]) -> None:
            for _ in range(3):
                server.publish_event("turn_plan_updated", {"plan": []}, thread_id=session_id)

        runner = threading.Thread(target=cm.stream.run_forever, kwargs={"thread_id": session_id})
        runner.start()
        runner.join(15)
        assert not runner.is_alive()
    assert len(loops) == 3
    assert len(set(loops)) == 1


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


def test_an_async_skill_that_blocks_the_loop_still_times_out(server: FakeCodexManager) -> None:
    # time.sleep in an async def holds the shared loop: its own deadline cannot fire until it
    # returns, so the waiting caller gives up on it shortly after the deadline instead.
    with CodexManager(server.base_url) as cm:

        def register(skills: SessionSkills) -> None:
            @skills.skill(timeout_seconds=0.2)
            async def stuck() -> str:
                """Blocks its loop."""
                time.sleep(3)  # noqa: ASYNC251 - the mistake this test is about
                return "late"

        _, skills = cm.remote_skills.create_session(register=register)
        started = time.monotonic()
        record: RemoteSkillDispatch | None = skills.dispatch_app_server_signal(
            tool_call_signal(skills.session_id, "stuck", 1, {})
        )
        took = time.monotonic() - started
    assert record is not None
    assert record.error_kind == "timeout"
    assert took < 2.5


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
