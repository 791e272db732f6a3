"""Stream handlers: the decorators of ``cm.stream`` and what each receives.

- ``@cm.on_app_server_request("item.tool.call")``: Codex asks for a tool (answer it);
- ``@cm.on_event("tool_call_requested")``: the same call as a REST-shaped record;
- ``@cm.on_app_server("turn.completed")``: app-server notifications by normalized method;
- ``@cm.on_event_prefix("app_server.item.")``: every frame whose type starts with a prefix;
- ``@cm.on_error`` / ``@cm.on_reconnect``: bad frames, failing handlers, lost connections.

Handlers run in a thread pool, never in the reader; calls of one handler for one thread keep
frame order. The handler for ``turn.completed`` stops the stream, so ``run_forever()`` returns.

    python examples/stream_handlers/sync.py              # embedded FakeCodexManager
    CODEX_MANAGER_API_BASE=http://127.0.0.1:3001 python examples/stream_handlers/sync.py
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from codex_manager import CodexManager, TurnWaitTimeoutError
from codex_manager.remote_skills import SessionSkills
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


def register(skills: SessionSkills) -> None:
    """One skill for the session."""

    @skills.skill
    def lookup_ticket(ticket_id: str) -> dict[str, str]:
        """Lookup ticket status by id."""
        return {"ticketId": ticket_id, "status": "open"}


def run(cm: CodexManager) -> None:
    """Register the handlers, run one turn, print what each handler saw."""
    created, skills = cm.remote_skills.create_session(register=register, cwd=".")
    session_id = created["session"]["sessionId"]
    item_events: Counter[str] = Counter()

    @cm.on_app_server_request("item.tool.call")
    def on_tool_call(signal: AppServerSignal, _ctx: HandlerContext[CodexManager]) -> None:
        assert signal.tool_call is not None  # typed params of every item/tool/call request
        log(f"[request] {signal.method} tool={signal.tool_call.tool} id={signal.request_id}")
        dispatch = skills.respond_to_signal(signal)
        if dispatch is not None and not dispatch.duplicate:
            log(f"[answer] {dispatch.submission_status}: {dispatch.answer_text}")

    @cm.on_event("tool_call_requested")
    def on_requested(event: StreamEvent, _ctx: HandlerContext[CodexManager]) -> None:
        call = event.decode_payload(PendingToolCall)
        log(f"[event] tool_call_requested {call.tool} requestId={call.request_id}")

    @cm.on_app_server("turn.started")
    def on_turn_started(signal: AppServerSignal, _ctx: HandlerContext[CodexManager]) -> None:
        log(f"[turn] started {signal.turn_id}")

    @cm.on_app_server("turn.completed")
    def on_turn_completed(signal: AppServerSignal, ctx: HandlerContext[CodexManager]) -> None:
        log(f"[turn] completed {signal.turn_id}")
        ctx.stop()  # run_forever() returns once the handlers in progress are done

    @cm.on_event_prefix("app_server.item.")
    def count_items(event: StreamEvent, _ctx: HandlerContext[CodexManager]) -> None:
        item_events[event.type] += 1

    @cm.on_error
    def on_error(error: StreamError, _ctx: HandlerContext[CodexManager]) -> None:
        log(f"[error] {error}")

    @cm.on_reconnect
    def catch_up(notice: Reconnected, _ctx: HandlerContext[CodexManager]) -> None:
        # Events sent while disconnected are lost: answer what is still pending.
        skills.drain_pending_calls()
        log(f"[reconnected] after {notice.disconnected_for:.2f} s")

    user = threading.Thread(target=play_user, args=(cm, skills), daemon=True)
    user.start()
    cm.stream.run_forever(thread_id=session_id)
    user.join()
    for event_type, count in sorted(item_events.items()):
        log(f"[items] {event_type} x{count}")


def play_user(cm: CodexManager, skills: SessionSkills) -> None:
    """Send the message, then make sure the stream stops once the turn is over.

    The stream may connect after the first call was published (or miss frames while it
    reconnects), so pending calls are drained by polling too; each is answered once.
    """
    while not cm.stream.running:
        time.sleep(0.01)
    accepted = cm.session(skills.session_id).messages.send(MESSAGE)
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                result = cm.wait.turn(skills.session_id, accepted["turnId"], timeout=0.5)
            except TurnWaitTimeoutError:
                if time.monotonic() > deadline:
                    raise
                for dispatch in skills.drain_pending_calls():
                    if not dispatch.duplicate:
                        log(
                            f"[answer] polled, {dispatch.submission_status}: {dispatch.answer_text}"
                        )
                continue
            log(f"[assistant] {result.reply}")
            return
    finally:
        cm.stream.stop()


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
