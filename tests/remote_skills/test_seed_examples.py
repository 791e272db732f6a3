"""The mission's two examples, run against the fake server.

``SYNC_EXAMPLE`` and ``ASYNC_EXAMPLE`` are the seed's code exactly, plus one added line each: the
stop condition (``_ctx.stream.stop()`` once the call is answered). They are executed as written
(their ``def register(skills):`` is unannotated, so they are run rather than type-checked); the
typed twins below them are what ``mypy --strict`` checks.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from codex_manager import AsyncCodexManager, CodexManager
from codex_manager.remote_skills import AsyncSessionSkills, SessionSkills
from codex_manager.stream import AppServerSignal, HandlerContext
from codex_manager.testing import FakeCodexManager

SYNC_EXAMPLE = """
from codex_manager import CodexManager

SESSION_ID = "<session-id>"

with CodexManager.from_env() as cm:
    def register(skills):
        @skills.skill(
            name="lookup_ticket",
            description="Lookup ticket status by id",
            input_schema={"type": "object", "properties": {"ticket_id": {"type": "string"}}},
        )
        def lookup_ticket(ticket_id: str) -> dict[str, str]:
            return {"ticketId": ticket_id, "status": "open"}

    created, skills = cm.remote_skills.create_session(register=register, cwd=".")
    session_id = created["session"]["sessionId"]

    @cm.on_app_server_request("item.tool.call")
    def on_tool_call(signal, _ctx):
        # Executes registered Python handler and posts result to:
        # POST /api/tool-calls/{requestId}/response
        skills.respond_to_signal(signal)
        _ctx.stream.stop()  # added: the stop condition

    cm.stream.run_forever(thread_id=session_id)
"""

ASYNC_EXAMPLE = """
import asyncio
from codex_manager import AsyncCodexManager

SESSION_ID = "<session-id>"

async def main() -> None:
    async with AsyncCodexManager.from_env() as cm:
        def register(skills):
            @skills.skill(
                name="summarize_diff",
                description="Summarize a unified diff",
                input_schema={"type": "object", "properties": {"diff_text": {"type": "string"}}},
            )
            async def summarize_diff(diff_text: str) -> str:
                return f"Summary: {diff_text[:200]}"

        created, skills = await cm.remote_skills.create_session(register=register, cwd=".")
        session_id = created["session"]["sessionId"]

        @cm.on_app_server_request("item.tool.call")
        async def on_tool_call(signal, _ctx):
            await skills.respond_to_signal(signal)
            _ctx.stream.stop()  # added: the stop condition

        await cm.stream.run_forever(thread_id=session_id)

asyncio.run(main())
"""


def _send_when_listening(server: FakeCodexManager, message: str) -> threading.Thread:
    """Play the user: once the example's stream is connected, send ``message`` to its session."""

    def play() -> None:
        server.wait_for(lambda: server.websocket_count > 0 and bool(server.session_ids), 10)
        (session_id,) = server.session_ids
        with CodexManager(server.base_url) as user:
            user.session(session_id).messages.send(message)

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    return thread


def _final_reply(server: FakeCodexManager) -> str:
    server.wait_for(lambda: server.is_idle() and bool(server.turns()), 10)
    (turn,) = server.turns()
    assert turn.status == "completed"
    return "\n".join(turn.replies)


def test_sync_example_verbatim(server: FakeCodexManager, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_MANAGER_API_BASE", server.base_url)
    player = _send_when_listening(server, 'CALL lookup_ticket {"ticket_id": "ABC-123"}')
    exec(compile(SYNC_EXAMPLE, "<seed sync example>", "exec"), {"__name__": "__seed__"})
    player.join(10)
    assert _final_reply(server) == 'TOOL RESULT: {"ticketId":"ABC-123","status":"open"}'
    (session_id,) = server.session_ids
    assert server.catalog(session_id) == ("lookup_ticket",)


def test_async_example_verbatim(server: FakeCodexManager, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_MANAGER_API_BASE", server.base_url)
    player = _send_when_listening(server, 'CALL summarize_diff {"diff_text": "+a\\n-b"}')
    exec(compile(ASYNC_EXAMPLE, "<seed async example>", "exec"), {"__name__": "__seed__"})
    player.join(10)
    assert _final_reply(server) == "TOOL RESULT: Summary: +a\n-b"


def test_sync_example_typed(server: FakeCodexManager) -> None:
    """The sync example with annotations, as users type-check it."""
    player = _send_when_listening(server, 'CALL lookup_ticket {"ticket_id": "T-9"}')
    with CodexManager(server.base_url) as cm:

        def register(skills: SessionSkills) -> None:
            @skills.skill(
                name="lookup_ticket",
                description="Lookup ticket status by id",
                input_schema={"type": "object", "properties": {"ticket_id": {"type": "string"}}},
            )
            def lookup_ticket(ticket_id: str) -> dict[str, str]:
                return {"ticketId": ticket_id, "status": "open"}

        created, skills = cm.remote_skills.create_session(register=register, cwd=".")
        session_id = created["session"]["sessionId"]

        @cm.on_app_server_request("item.tool.call")
        def on_tool_call(signal: AppServerSignal, _ctx: HandlerContext[CodexManager]) -> None:
            skills.respond_to_signal(signal)
            _ctx.stream.stop()

        cm.stream.run_forever(thread_id=session_id)
    player.join(10)
    assert _final_reply(server) == 'TOOL RESULT: {"ticketId":"T-9","status":"open"}'


async def test_async_example_typed(server: FakeCodexManager) -> None:
    """The async example with annotations, as users type-check it."""
    player = _send_when_listening(server, 'CALL summarize_diff {"diff_text": "x"}')
    async with AsyncCodexManager(server.base_url) as cm:

        def register(skills: AsyncSessionSkills) -> None:
            @skills.skill(
                name="summarize_diff",
                description="Summarize a unified diff",
                input_schema={"type": "object", "properties": {"diff_text": {"type": "string"}}},
            )
            async def summarize_diff(diff_text: str) -> str:
                return f"Summary: {diff_text[:200]}"

        created, skills = await cm.remote_skills.create_session(register=register, cwd=".")
        session_id = created["session"]["sessionId"]

        @cm.on_app_server_request("item.tool.call")
        async def on_tool_call(
            signal: AppServerSignal, _ctx: HandlerContext[AsyncCodexManager]
        ) -> None:
            await skills.respond_to_signal(signal)
            _ctx.stream.stop()

        await cm.stream.run_forever(thread_id=session_id)
    await asyncio.to_thread(player.join, 10)
    reply = await asyncio.to_thread(_final_reply, server)
    assert reply == "TOOL RESULT: Summary: x"
