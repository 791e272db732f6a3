"""A registry of a closed client refuses to run a call: ClientClosedError, the handler not run.

Its answer could not be sent; running it anyway would only repeat its side effects when the
call is answered later (it stays pending on the server).
"""

from __future__ import annotations

import pytest

from codex_manager import AsyncCodexManager, CodexManager
from codex_manager.errors import ClientClosedError
from codex_manager.remote_skills import AsyncSessionSkills, SessionSkills
from codex_manager.testing import FakeCodexManager
from codex_manager.types import PendingToolCall


def _pending_call(server: FakeCodexManager, cm: CodexManager, session_id: str) -> PendingToolCall:
    cm.session(session_id).messages.send('CALL echo {"text": "hi"}')
    server.wait_for_tool_call(session_id)
    (row,) = cm.session(session_id).tool_calls.list()["data"]
    return row


def test_sync_registry_of_a_closed_client_does_not_run_the_call(
    server: FakeCodexManager,
) -> None:
    ran: list[str] = []

    def register(skills: SessionSkills) -> None:
        @skills.skill
        def echo(text: str) -> str:
            """Say it back."""
            ran.append(text)
            return text

    cm = CodexManager(server.base_url)
    created, skills = cm.remote_skills.create_session(register=register)
    row = _pending_call(server, cm, created["session"]["sessionId"])
    cm.close()
    with pytest.raises(ClientClosedError, match="was not run"):
        skills.respond_to_pending_call(row)
    assert ran == []
    assert [call["requestId"] for call in server.pending_tool_calls()] == [row["requestId"]]


async def test_async_registry_of_a_closed_client_does_not_run_the_call(
    server: FakeCodexManager,
) -> None:
    ran: list[str] = []

    def register(skills: AsyncSessionSkills) -> None:
        @skills.skill
        async def echo(text: str) -> str:
            """Say it back."""
            ran.append(text)
            return text

    acm = AsyncCodexManager(server.base_url)
    created, skills = await acm.remote_skills.create_session(register=register)
    session_id = created["session"]["sessionId"]
    with CodexManager(server.base_url) as cm:
        row = _pending_call(server, cm, session_id)
    await acm.aclose()
    with pytest.raises(ClientClosedError, match="was not run"):
        await skills.respond_to_pending_call(row)
    assert ran == []
    assert [call["requestId"] for call in server.pending_tool_calls(session_id)] == [
        row["requestId"]
    ]
