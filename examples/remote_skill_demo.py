"""The main example (`make demo`): a Python function answers Codex's tool call.

It registers ``lookup_ticket`` as a remote skill when the session is created, answers the call
from the event stream with ``skills.respond_to_signal(signal)``, prints the tool call and the
assistant's reply, and exits once the turn has completed.

    python examples/remote_skill_demo.py                        # embedded FakeCodexManager
    CODEX_MANAGER_API_BASE=http://127.0.0.1:3001 python examples/remote_skill_demo.py
    python examples/remote_skill_demo.py --base-url http://127.0.0.1:3001

On the fake server a scripted agent plays Codex: the message ``CALL lookup_ticket {...}``
makes it call the tool and reply ``TOOL RESULT: <answer>``. A real Codex reads the same
message as a request and calls the tool itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from codex_manager import CodexManager, TurnResult, TurnWaitTimeoutError
from codex_manager.remote_skills import RemoteSkillDispatch, SessionSkills
from codex_manager.stream import AppServerSignal, HandlerContext

DEFAULT_MESSAGE = 'CALL lookup_ticket {"ticket_id": "ABC-123"}'


def print_call(dispatch: RemoteSkillDispatch) -> None:
    """One line per answered tool call."""
    # One write per line: handler threads never interleave their output.
    sys.stdout.write(
        f"[tool-call] {dispatch.tool} {json.dumps(dispatch.arguments)} -> {dispatch.answer_text}\n"
    )


def run_demo(cm: CodexManager, message: str = DEFAULT_MESSAGE, timeout: float = 120.0) -> str:
    """Create the session, run one turn with ``message``, return the assistant's reply."""

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
        # Runs the registered Python handler and posts its result to
        # POST /api/tool-calls/{requestId}/response.
        dispatch = skills.respond_to_signal(signal)
        if dispatch is not None and not dispatch.duplicate:
            print_call(dispatch)

    # The user's side runs next to the stream: send the message, wait for the turn to end,
    # then stop the stream so run_forever() returns.
    outcome: list[TurnResult | BaseException] = []

    def play_user() -> None:
        try:
            outcome.append(run_turn(cm, skills, message, timeout))
        except BaseException as error:  # reported by the main thread
            outcome.append(error)
        finally:
            cm.stream.stop()

    user = threading.Thread(target=play_user, name="demo-user", daemon=True)
    user.start()
    cm.stream.run_forever(thread_id=session_id)
    user.join()
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    print(f"[assistant] {result.reply}")
    return result.reply or ""


def run_turn(cm: CodexManager, skills: SessionSkills, message: str, timeout: float) -> TurnResult:
    """Send ``message`` and wait for its turn to finish.

    The stream may not be subscribed yet when the first call arrives (and it misses what
    happens while it reconnects), so pending calls are also drained by polling; each call is
    still answered exactly once.
    """
    while not cm.stream.running:
        time.sleep(0.01)
    accepted = cm.session(skills.session_id).messages.send(message)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return cm.wait.turn(skills.session_id, accepted["turnId"], timeout=0.5)
        except TurnWaitTimeoutError:
            if time.monotonic() > deadline:
                raise
        for dispatch in skills.drain_pending_calls():
            if not dispatch.duplicate:
                print_call(dispatch)


@contextmanager
def connect(base_url: str | None) -> Iterator[CodexManager]:
    """A client of ``base_url``, of ``CODEX_MANAGER_API_BASE``, or of an embedded fake server."""
    if base_url:
        with CodexManager(base_url) as cm:
            yield cm
    elif os.environ.get("CODEX_MANAGER_API_BASE"):
        with CodexManager.from_env() as cm:
            yield cm
    else:
        from codex_manager.testing import FakeCodexManager

        with FakeCodexManager() as server, CodexManager(server.base_url) as cm:
            print(f"[server] embedded FakeCodexManager at {server.base_url}")
            yield cm


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base-url", help="a running codex-manager (default: embedded fake)")
    parser.add_argument("--message", default=DEFAULT_MESSAGE, help="the user message to send")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait")
    args = parser.parse_args(argv)
    with connect(args.base_url) as cm:
        run_demo(cm, args.message, args.timeout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
