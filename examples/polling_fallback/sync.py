"""Polling fallback: answer tool calls without the websocket, with ``drain_pending_calls()``.

``skills.drain_pending_calls()`` lists the session's pending calls
(``GET /api/sessions/{id}/tool-calls``) and answers each one. It is safe to run next to the
stream path (every call is answered once), after a reconnect, or, as here, on its own when a
websocket is not an option.

    python examples/polling_fallback/sync.py             # embedded FakeCodexManager
    CODEX_MANAGER_API_BASE=http://127.0.0.1:3001 python examples/polling_fallback/sync.py
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from codex_manager import CodexManager, TurnWaitTimeoutError
from codex_manager.remote_skills import SessionSkills

# PARALLEL makes the fake's scripted agent issue both calls at once.
MESSAGE = "\n".join(
    [
        "PARALLEL",
        'CALL lookup_ticket {"ticket_id": "ABC-123"}',
        'CALL lookup_ticket {"ticket_id": "XYZ-9"}',
    ]
)


def register(skills: SessionSkills) -> None:
    """One skill for the session."""

    @skills.skill
    def lookup_ticket(ticket_id: str) -> dict[str, str]:
        """Lookup ticket status by id."""
        return {"ticketId": ticket_id, "status": "open"}


def run(cm: CodexManager) -> None:
    """Send a message and poll until its turn is over, answering calls as they appear."""
    created, skills = cm.remote_skills.create_session(register=register, cwd=".")
    accepted = cm.session(skills.session_id).messages.send(MESSAGE)
    deadline = time.monotonic() + 120
    while True:
        for dispatch in skills.drain_pending_calls():
            print(
                f"[drained] {dispatch.tool} request {dispatch.request_id}: "
                f"{dispatch.submission_status} -> {dispatch.answer_text}"
            )
        try:
            result = cm.wait.turn(skills.session_id, accepted["turnId"], timeout=0.25)
        except TurnWaitTimeoutError:
            if time.monotonic() > deadline:
                raise
            continue
        break
    print(f"[turn] {result.status}")
    print(f"[assistant] {result.reply}")
    print(f"[pending] {len(cm.session(created['session']['sessionId']).tool_calls.list()['data'])}")


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
