"""Polling fallback, async: ``await skills.drain_pending_calls()`` without any websocket.

python examples/polling_fallback/async_.py           # embedded FakeCodexManager
CODEX_MANAGER_API_BASE=http://127.0.0.1:3001 python examples/polling_fallback/async_.py
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from codex_manager import AsyncCodexManager, TurnWaitTimeoutError
from codex_manager.remote_skills import AsyncSessionSkills

# PARALLEL makes the fake's scripted agent issue both calls at once.
MESSAGE = "\n".join(
    [
        "PARALLEL",
        'CALL lookup_ticket {"ticket_id": "ABC-123"}',
        'CALL lookup_ticket {"ticket_id": "XYZ-9"}',
    ]
)


def register(skills: AsyncSessionSkills) -> None:
    """One skill for the session."""

    @skills.skill
    async def lookup_ticket(ticket_id: str) -> dict[str, str]:
        """Lookup ticket status by id."""
        return {"ticketId": ticket_id, "status": "open"}


async def run(cm: AsyncCodexManager) -> None:
    """Send a message and poll until its turn is over, answering calls as they appear."""
    created, skills = await cm.remote_skills.create_session(register=register, cwd=".")
    accepted = await cm.session(skills.session_id).messages.send(MESSAGE)
    deadline = time.monotonic() + 120
    while True:
        for dispatch in await skills.drain_pending_calls():
            print(
                f"[drained] {dispatch.tool} request {dispatch.request_id}: "
                f"{dispatch.submission_status} -> {dispatch.answer_text}"
            )
        try:
            result = await cm.wait.turn(skills.session_id, accepted["turnId"], timeout=0.25)
        except TurnWaitTimeoutError:
            if time.monotonic() > deadline:
                raise
            continue
        break
    print(f"[turn] {result.status}")
    print(f"[assistant] {result.reply}")
    pending = await cm.session(created["session"]["sessionId"]).tool_calls.list()
    print(f"[pending] {len(pending['data'])}")


@asynccontextmanager
async def connect() -> AsyncIterator[AsyncCodexManager]:
    """A client of ``CODEX_MANAGER_API_BASE`` when set, else of an embedded fake server."""
    if os.environ.get("CODEX_MANAGER_API_BASE"):
        async with AsyncCodexManager.from_env() as cm:
            yield cm
        return
    from codex_manager.testing import FakeCodexManager

    async with FakeCodexManager() as server, AsyncCodexManager(server.base_url) as cm:
        yield cm


async def main() -> None:
    """Entry point."""
    async with connect() as cm:
        await run(cm)


if __name__ == "__main__":
    asyncio.run(main())
