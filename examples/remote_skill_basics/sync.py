"""Remote skill basics: Python functions as Codex tools, answered from the event stream.

Shows schema synthesis from signatures and docstrings, an explicit schema, argument
validation (a bad call is answered with a clear text and the handler does not run) and the
dispatch record of each call.

    python examples/remote_skill_basics/sync.py          # embedded FakeCodexManager
    CODEX_MANAGER_API_BASE=http://127.0.0.1:3001 python examples/remote_skill_basics/sync.py
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from pydantic import Field

from codex_manager import CodexManager, TurnResult, TurnWaitTimeoutError
from codex_manager.remote_skills import RemoteSkillDispatch, SessionSkills
from codex_manager.stream import AppServerSignal, HandlerContext

# On the fake server, each CALL line makes the scripted agent call that tool, in order.
MESSAGE = "\n".join(
    [
        'CALL add_numbers {"a": 2, "b": 40}',
        'CALL convert_temperature {"value": 100, "unit": "C"}',
        'CALL lookup_ticket {"ticket_id": "ABC-123"}',
        'CALL add_numbers {"a": "two", "b": 1}',
    ]
)


def register(skills: SessionSkills) -> None:
    """The session's catalog: three skills, three ways of describing them."""

    @skills.skill
    def add_numbers(a: int, b: int) -> int:
        """Add two integers.

        Args:
            a: The first addend.
            b: The second addend.
        """
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

    def lookup_ticket(ticket_id: str) -> dict[str, str]:
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


def finish_turn(cm: CodexManager, skills: SessionSkills, text: str) -> TurnResult:
    """Send ``text`` and wait for its turn; also drain calls the stream may have missed."""
    accepted = cm.session(skills.session_id).messages.send(text)
    deadline = time.monotonic() + 120
    while True:
        try:
            return cm.wait.turn(skills.session_id, accepted["turnId"], timeout=0.5)
        except TurnWaitTimeoutError:
            if time.monotonic() > deadline:
                raise
        for dispatch in skills.drain_pending_calls():
            if not dispatch.duplicate:
                report(dispatch)


def run(cm: CodexManager) -> None:
    """Create the session with its skills, run one turn, print the calls and the reply."""
    created, skills = cm.remote_skills.create_session(register=register, cwd=".")
    session_id = created["session"]["sessionId"]
    print("catalog sent at session creation:")
    for tool in skills.dynamic_tools():
        print(f"  {tool['name']}: {json.dumps(tool['inputSchema'], sort_keys=True)}")

    @cm.on_app_server_request("item.tool.call")
    def on_tool_call(signal: AppServerSignal, _ctx: HandlerContext[CodexManager]) -> None:
        dispatch = skills.respond_to_signal(signal)
        if dispatch is not None and not dispatch.duplicate:
            report(dispatch)

    listener = threading.Thread(target=cm.stream.run_forever, args=(session_id,), daemon=True)
    listener.start()
    while not cm.stream.running:
        time.sleep(0.01)
    try:
        result = finish_turn(cm, skills, MESSAGE)
    finally:
        cm.stream.stop()
        listener.join()
    print(f"[assistant] {result.reply}")


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
