"""Stream handlers, async: decorators with ``async def`` handlers, and ``events()`` iteration.

On ``AsyncCodexManager`` async handlers run as tasks and plain ``def`` handlers in worker
threads (never on the event loop). ``async for event in cm.stream.events(...)`` yields every
event while the handlers run too, until ``cm.stream.stop()``.

    python examples/stream_handlers/async_.py            # embedded FakeCodexManager
    CODEX_MANAGER_API_BASE=http://127.0.0.1:3001 python examples/stream_handlers/async_.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from codex_manager import AsyncCodexManager, TurnWaitTimeoutError
from codex_manager.remote_skills import AsyncSessionSkills
from codex_manager.stream import (
    AppServerSignal,
    HandlerContext,
    PendingToolCall,
    Reconnected,
    StreamError,
    StreamEvent,
)

MESSAGE = 'CALL lookup_ticket {"ticket_id": "ABC-123"}'


def log(line: str) -> None:
    """Print one line in one write, so lines from handler threads never interleave."""
    sys.stdout.write(line + "\n")


def register(skills: AsyncSessionSkills) -> None:
    """One skill for the session."""

    @skills.skill
    async def lookup_ticket(ticket_id: str) -> dict[str, str]:
        """Lookup ticket status by id."""
        return {"ticketId": ticket_id, "status": "open"}


async def run(cm: AsyncCodexManager) -> None:
    """Register the handlers, run one turn while iterating the events."""
    created, skills = await cm.remote_skills.create_session(register=register, cwd=".")
    session_id = created["session"]["sessionId"]

    @cm.on_app_server_request("item.tool.call")
    async def on_tool_call(
        signal: AppServerSignal, _ctx: HandlerContext[AsyncCodexManager]
    ) -> None:
        assert signal.tool_call is not None
        log(f"[request] {signal.method} tool={signal.tool_call.tool} id={signal.request_id}")
        dispatch = await skills.respond_to_signal(signal)
        if dispatch is not None and not dispatch.duplicate:
            log(f"[answer] {dispatch.submission_status}: {dispatch.answer_text}")

    @cm.on_event("tool_call_requested")
    def on_requested(event: StreamEvent, _ctx: HandlerContext[AsyncCodexManager]) -> None:
        # A plain function: it runs in a worker thread.
        call = event.decode_payload(PendingToolCall)
        log(f"[event] tool_call_requested {call.tool} requestId={call.request_id}")

    @cm.on_error
    async def on_error(error: StreamError, _ctx: HandlerContext[AsyncCodexManager]) -> None:
        log(f"[error] {error}")

    @cm.on_reconnect
    async def catch_up(notice: Reconnected, _ctx: HandlerContext[AsyncCodexManager]) -> None:
        await skills.drain_pending_calls()
        log(f"[reconnected] after {notice.disconnected_for:.2f} s")

    user = asyncio.create_task(play_user(cm, skills))
    async for event in cm.stream.events(thread_id=session_id):
        if isinstance(event, AppServerSignal) and event.normalized_method == "turn.started":
            log(f"[turn] started {event.turn_id}")
        if isinstance(event, AppServerSignal) and event.normalized_method == "turn.completed":
            log(f"[turn] completed {event.turn_id}")
            cm.stream.stop()  # the loop ends once the stream has stopped
    log(f"[assistant] {await user}")


async def play_user(cm: AsyncCodexManager, skills: AsyncSessionSkills) -> str | None:
    """Send the message and wait for the turn; drain calls the stream may have missed.

    Stops the stream at the end, so the ``events()`` loop also ends if it missed the
    ``turn/completed`` frame.
    """
    await asyncio.sleep(0.05)  # give the stream a moment to connect (the drain covers the rest)
    accepted = await cm.session(skills.session_id).messages.send(MESSAGE)
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                result = await cm.wait.turn(skills.session_id, accepted["turnId"], timeout=0.5)
            except TurnWaitTimeoutError:
                if time.monotonic() > deadline:
                    raise
                for dispatch in await skills.drain_pending_calls():
                    if not dispatch.duplicate:
                        log(
                            f"[answer] polled, {dispatch.submission_status}: {dispatch.answer_text}"
                        )
                continue
            return result.reply
    finally:
        cm.stream.stop()


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
