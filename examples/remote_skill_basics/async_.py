"""Remote skill basics, async: the twin of ``sync.py`` on ``AsyncCodexManager``.

``async def`` skills run on the event loop; plain ``def`` skills run in worker threads, never
blocking the loop. The register callback itself may be sync or async.

    python examples/remote_skill_basics/async_.py        # embedded FakeCodexManager
    CODEX_MANAGER_API_BASE=http://127.0.0.1:3001 python examples/remote_skill_basics/async_.py
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Literal

from pydantic import Field

from codex_manager import AsyncCodexManager, TurnResult, TurnWaitTimeoutError
from codex_manager.remote_skills import AsyncSessionSkills, RemoteSkillDispatch
from codex_manager.stream import AppServerSignal, HandlerContext

MESSAGE = "\n".join(
    [
        'CALL add_numbers {"a": 2, "b": 40}',
        'CALL convert_temperature {"value": 100, "unit": "C"}',
        'CALL lookup_ticket {"ticket_id": "ABC-123"}',
        'CALL add_numbers {"a": "two", "b": 1}',
    ]
)


async def register(skills: AsyncSessionSkills) -> None:
    """The session's catalog (an async callback is fine on the async client)."""

    @skills.skill
    async def add_numbers(a: int, b: int) -> int:
        """Add two integers.

        Args:
            a: The first addend.
            b: The second addend.
        """
        await asyncio.sleep(0)  # stands for real async work
        return a + b

    @skills.skill(timeout_seconds=5)
    def convert_temperature(
        value: Annotated[float, Field(description="The temperature to convert")],
        unit: Literal["C", "F"] = "C",
    ) -> str:
        """Convert a temperature between Celsius and Fahrenheit."""
        if unit == "C":
            return f"{value:g} C = {value * 9 / 5 + 32:g} F"
        return f"{value:g} F = {(value - 32) * 5 / 9:g} C"

    async def lookup_ticket(ticket_id: str) -> dict[str, str]:
        return {"ticketId": ticket_id, "status": "open"}

    skills.register(
        "lookup_ticket",
        lookup_ticket,
        description="Lookup ticket status by id",
        input_schema={
            "type": "object",
            "properties": {"ticket_id": {"type": "string"}},
            "required": ["ticket_id"],
        },
    )


def report(dispatch: RemoteSkillDispatch) -> None:
    """Print what happened to one call."""
    outcome = "ok" if dispatch.success else f"failed ({dispatch.error_kind})"
    # One write per call: handler threads never interleave their output.
    sys.stdout.write(
        f"[tool-call] {dispatch.tool} {json.dumps(dispatch.arguments)} -> {outcome}\n"
        f"            answer: {dispatch.answer_text}\n"
    )


async def finish_turn(cm: AsyncCodexManager, skills: AsyncSessionSkills, text: str) -> TurnResult:
    """Send ``text`` and wait for its turn; also drain calls the stream may have missed."""
    accepted = await cm.session(skills.session_id).messages.send(text)
    deadline = time.monotonic() + 120
    while True:
        try:
            return await cm.wait.turn(skills.session_id, accepted["turnId"], timeout=0.5)
        except TurnWaitTimeoutError:
            if time.monotonic() > deadline:
                raise
        for dispatch in await skills.drain_pending_calls():
            if not dispatch.duplicate:
                report(dispatch)


async def run(cm: AsyncCodexManager) -> None:
    """Create the session with its skills, run one turn, print the calls and the reply."""
    created, skills = await cm.remote_skills.create_session(register=register, cwd=".")
    session_id = created["session"]["sessionId"]
    print("catalog sent at session creation:")
    for tool in skills.dynamic_tools():
        print(f"  {tool['name']}: {json.dumps(tool['inputSchema'], sort_keys=True)}")

    @cm.on_app_server_request("item.tool.call")
    async def on_tool_call(
        signal: AppServerSignal, _ctx: HandlerContext[AsyncCodexManager]
    ) -> None:
        dispatch = await skills.respond_to_signal(signal)
        if dispatch is not None and not dispatch.duplicate:
            report(dispatch)

    listener = asyncio.create_task(cm.stream.run_forever(thread_id=session_id))
    await asyncio.sleep(0)  # let the listener start connecting
    try:
        result = await finish_turn(cm, skills, MESSAGE)
    finally:
        cm.stream.stop()
        await listener
    print(f"[assistant] {result.reply}")


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
