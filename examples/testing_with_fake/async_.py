"""Testing with the fake, async: ``async with FakeCodexManager()`` and an async agent script.

Async scripts run on the fake server's own event loop and receive a ``TurnContext``; their
``call_tool`` is awaited. Waiting helpers have ``*_async`` twins that do not block your loop.
This example always starts the fake (``CODEX_MANAGER_API_BASE`` is ignored).

    python examples/testing_with_fake/async_.py
"""

from __future__ import annotations

import asyncio
import json

from codex_manager import AsyncCodexManager
from codex_manager.remote_skills import AsyncSessionSkills
from codex_manager.testing import FakeCodexManager, TurnContext


def register(skills: AsyncSessionSkills) -> None:
    """The skills under test."""

    @skills.skill
    async def lookup_ticket(ticket_id: str) -> dict[str, str]:
        """Lookup ticket status by id."""
        return {"ticketId": ticket_id, "status": "open"}


async def parallel_agent(turn: TurnContext) -> None:
    """A scripted agent that looks up two tickets at once, then summarizes."""
    results = await turn.call_tools_parallel(
        [("lookup_ticket", {"ticket_id": "A-1"}), ("lookup_ticket", {"ticket_id": "B-2"})]
    )
    statuses = [json.loads(result.text)["status"] for result in results]
    turn.reply(f"Both tickets checked: {', '.join(statuses)}.")


async def run(server: FakeCodexManager, cm: AsyncCodexManager) -> None:
    """Script a session, answer its calls, inject a fault, inspect what the fake saw."""
    created, skills = await cm.remote_skills.create_session(register=register, cwd=".")
    session_id = created["session"]["sessionId"]
    server.set_script(session_id, parallel_agent)

    server.fail_next_answers(1)  # the first answer gets a 500; the SDK retries it
    await cm.session(session_id).messages.send("Check tickets A-1 and B-2")
    await server.wait_for_async(lambda: len(server.pending_tool_calls(session_id)) == 2, 10)
    for dispatch in await skills.drain_pending_calls():
        print(
            f"[drained] {dispatch.tool} {json.dumps(dispatch.arguments)}: "
            f"{dispatch.submission_status} after {dispatch.submission_attempts} attempt(s)"
        )
    await server.wait_idle_async(timeout=10)

    (turn,) = server.turns(session_id)
    print(f"[turn] {turn.status}: {' | '.join(turn.replies)}")
    print(f"[answers] HTTP statuses {[answer.status for answer in server.answers]}")


async def main() -> None:
    """Entry point."""
    async with FakeCodexManager(noise=False) as fake, AsyncCodexManager(fake.base_url) as cm:
        await run(fake, cm)


if __name__ == "__main__":
    asyncio.run(main())
