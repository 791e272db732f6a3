"""Typed REST usage, async: the same tour on ``AsyncCodexManager`` (hooks may be async too).

python examples/typed_rest/async_.py                 # embedded FakeCodexManager
CODEX_MANAGER_API_BASE=http://127.0.0.1:3001 python examples/typed_rest/async_.py
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from codex_manager import (
    AsyncCodexManager,
    GoneError,
    RequestInfo,
    ResponseInfo,
    RetryPolicy,
    ToolCallAccepted,
    ToolCallInFlight,
    ToolCallNotFound,
    ToolCallSubmitFailed,
)
from codex_manager.types import SessionSummary


def describe(session: SessionSummary) -> str:
    """Payload types are TypedDicts: annotate your own code with them."""
    state = "materialized" if session["materialized"] else "not materialized yet"
    return f"{session['title']!r} ({state}, approval policy {session['approvalPolicy']})"


async def run(cm: AsyncCodexManager) -> None:
    """A tour of the async REST client on one throw-away session."""
    calls: Counter[str] = Counter()

    @cm.hooks.before("*")
    async def tag_request(request: RequestInfo) -> None:
        request.headers["x-example"] = "typed-rest"

    @cm.hooks.after("*")
    def count_calls(response: ResponseInfo) -> None:
        calls[f"{response.request.operation_id} {response.status_code}"] += 1

    health = await cm.system.health()
    print(f"[health] status={health['status']} codex running={health['codex']['running']}")

    created = await cm.sessions.create(cwd=".", approval_policy="never")
    session_id = created["session"]["sessionId"]
    print(f"[created] {describe(created['session'])}")

    renamed = await cm.sessions.rename(session_id, "typed REST tour")
    print(f"[renamed] {describe(renamed['session'])}")

    result = await cm.wait.send_message_and_wait_reply(session_id, "Say hello", timeout=120)
    print(f"[turn] {result.status}: {result.reply}")

    read = await cm.session(session_id).read()
    print(f"[read] {len(read['thread']['turns'])} turn(s), {len(read['transcript'])} entries")

    outcome = await cm.tool_calls.respond(
        "999999", text="nobody asked", retry=RetryPolicy.disabled()
    )
    match outcome:
        case ToolCallAccepted():
            print("[respond] accepted")
        case ToolCallNotFound(request_id=request_id):
            print(f"[respond] request {request_id}: not found (unknown, answered or expired)")
        case ToolCallInFlight() | ToolCallSubmitFailed():
            print(f"[respond] {outcome.status}")

    await cm.sessions.delete(session_id)
    try:
        await cm.sessions.get(session_id)
    except GoneError as error:
        print(f"[deleted] reading it again: {error.status_code} {error.body_object.get('status')}")

    for call, count in sorted(calls.items()):
        print(f"[hooks] {call} x{count}")


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
