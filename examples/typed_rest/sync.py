"""Typed REST usage: method groups, TypedDict payloads, typed errors, retries and hooks.

Every server operation is a method (``cm.sessions.create``, ``cm.session(id).messages.send``,
``cm.tool_calls.respond``...) returning a TypedDict that mypy checks; HTTP errors are
exceptions of one tree (``NotFoundError``, ``GoneError``...); a tool-call answer returns a
typed outcome instead of raising.

    python examples/typed_rest/sync.py                   # embedded FakeCodexManager
    CODEX_MANAGER_API_BASE=http://127.0.0.1:3001 python examples/typed_rest/sync.py
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from codex_manager import (
    CodexManager,
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


def run(cm: CodexManager) -> None:
    """A tour of the REST client on one throw-away session."""
    calls: Counter[str] = Counter()

    @cm.hooks.before("*")
    def tag_request(request: RequestInfo) -> None:
        request.headers["x-example"] = "typed-rest"  # sent with this attempt only

    @cm.hooks.after("*")
    def count_calls(response: ResponseInfo) -> None:
        calls[f"{response.request.operation_id} {response.status_code}"] += 1

    health = cm.system.health()
    print(f"[health] status={health['status']} codex running={health['codex']['running']}")

    created = cm.sessions.create(cwd=".", approval_policy="never")
    session_id = created["session"]["sessionId"]
    print(f"[created] {describe(created['session'])}")

    renamed = cm.sessions.rename(session_id, "typed REST tour")
    print(f"[renamed] {describe(renamed['session'])}")

    # Send a message and wait for the turn (polls GET /api/sessions/{id}).
    result = cm.wait.send_message_and_wait_reply(session_id, "Say hello", timeout=120)
    print(f"[turn] {result.status}: {result.reply}")

    read = cm.session(session_id).read()
    print(f"[read] {len(read['thread']['turns'])} turn(s), {len(read['transcript'])} entries")

    # Answering a call that does not exist is an outcome, not an exception.
    outcome = cm.tool_calls.respond("999999", text="nobody asked", retry=RetryPolicy.disabled())
    match outcome:
        case ToolCallAccepted():
            print("[respond] accepted")
        case ToolCallNotFound(request_id=request_id):
            print(f"[respond] request {request_id}: not found (unknown, answered or expired)")
        case ToolCallInFlight() | ToolCallSubmitFailed():
            print(f"[respond] {outcome.status}")

    cm.sessions.delete(session_id)
    try:
        cm.sessions.get(session_id)
    except GoneError as error:
        print(f"[deleted] reading it again: {error.status_code} {error.body_object.get('status')}")

    for call, count in sorted(calls.items()):
        print(f"[hooks] {call} x{count}")


@contextmanager
def connect() -> Iterator[CodexManager]:
    """A client of ``CODEX_MANAGER_API_BASE`` when set, else of an embedded fake server."""
    if os.environ.get("CODEX_MANAGER_API_BASE"):
        with CodexManager.from_env() as cm:
            yield cm
        return
    from codex_manager.testing import FakeCodexManager

    with FakeCodexManager() as server, CodexManager(server.base_url) as cm:
        yield cm


if __name__ == "__main__":
    with connect() as client:
        run(client)
