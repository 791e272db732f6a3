"""Testing with the fake: scripted agents, fault injection and inspection, all offline.

``FakeCodexManager`` is a real HTTP + websocket server on loopback that behaves like
codex-manager; a scripted agent plays Codex. This example is about the fake itself, so it
always starts one (``CODEX_MANAGER_API_BASE`` is ignored). The same steps, as a pytest test,
are in the README ("Test your skills offline").

    python examples/testing_with_fake/sync.py
"""

from __future__ import annotations

import json

from codex_manager import CodexManager
from codex_manager.remote_skills import SessionSkills
from codex_manager.testing import FakeCodexManager, SyncTurnContext


def register(skills: SessionSkills) -> None:
    """The skills under test."""

    @skills.skill
    def lookup_ticket(ticket_id: str) -> dict[str, str]:
        """Lookup ticket status by id."""
        return {"ticketId": ticket_id, "status": "open"}


def triage_agent(turn: SyncTurnContext) -> None:
    """A scripted agent: reads the ticket, then decides what to say from the tool's answer."""
    ticket_id = turn.text.split()[-1]
    result = turn.call_tool("lookup_ticket", {"ticket_id": ticket_id})
    status = json.loads(result.text)["status"] if result.success else "unknown"
    turn.reply(f"Ticket {ticket_id} is {status}.")


def run(server: FakeCodexManager, cm: CodexManager) -> None:
    """Default text convention, a custom script, a 500 fault, then inspection."""
    created, skills = cm.remote_skills.create_session(register=register, cwd=".")
    session_id = created["session"]["sessionId"]
    print(f"[catalog] {server.catalog(session_id)}")

    # 1. The default script: `CALL <tool> <json-args>` calls the tool, then replies.
    reply = answer_one_turn(server, cm, skills, 'CALL lookup_ticket {"ticket_id": "ABC-123"}')
    print(f"[default script] {reply}")

    # 2. A Python script decides what the agent does in this session's turns.
    server.set_script(session_id, triage_agent)
    reply = answer_one_turn(server, cm, skills, "Please triage ticket XYZ-9")
    print(f"[custom script] {reply}")

    # 3. Faults: the next answer gets a 500; the SDK retries the submission and succeeds.
    server.fail_next_answers(1)
    cm.session(session_id).messages.send("Please triage ticket ABC-7")
    server.wait_for_tool_call(session_id, timeout=10)
    (dispatch,) = skills.drain_pending_calls()
    print(f"[fault] {dispatch.submission_status} after {dispatch.submission_attempts} attempts")
    server.wait_idle(timeout=10)

    # 4. Inspection: everything the fake received, in order.
    print(f"[answers] HTTP statuses {[answer.status for answer in server.answers]}")
    for turn in server.turns(session_id):
        print(f"[turn] {turn.status}: {turn.text!r} -> {' | '.join(turn.replies)}")


def answer_one_turn(
    server: FakeCodexManager, cm: CodexManager, skills: SessionSkills, text: str
) -> str:
    """Send ``text``, answer the tool call it causes, return the agent's reply."""
    cm.session(skills.session_id).messages.send(text)
    server.wait_for_tool_call(skills.session_id, timeout=10)
    skills.drain_pending_calls()
    server.wait_idle(timeout=10)
    return "\n".join(server.turns(skills.session_id)[-1].replies)


if __name__ == "__main__":
    with FakeCodexManager(noise=False) as fake, CodexManager(fake.base_url) as client:
        run(fake, client)
