"""The fake asks user-input questions as Codex does, whatever keys a script leaves out."""

from __future__ import annotations

from codex_manager import CodexManager
from codex_manager.testing import FakeCodexManager, TurnContext
from tests.fake_scripts import ask_which_ticket


def test_the_fake_asks_questions_as_codex_does(server: FakeCodexManager) -> None:
    with CodexManager(server.base_url) as cm:
        session_id = cm.sessions.create()["session"]["sessionId"]
        server.set_script(session_id, ask_which_ticket)
        cm.session(session_id).messages.send("hello")
        server.wait_for(lambda: bool(cm.session(session_id).tool_input.list()["data"]), 5)
        (pending,) = cm.session(session_id).tool_input.list()["data"]  # the typed client reads it
    assert pending["questions"] == [
        {
            "id": "q",
            "header": "",
            "question": "Which ticket?",
            "options": None,
            "isOther": False,
            "isSecret": False,
        }
    ]


async def _asks_without_a_question(turn: TurnContext) -> None:
    await turn.request_user_input([{"id": "q"}])


def test_a_script_question_without_its_text_fails_the_turn(server: FakeCodexManager) -> None:
    with CodexManager(server.base_url) as cm:
        session_id = cm.sessions.create()["session"]["sessionId"]
        server.set_script(session_id, _asks_without_a_question)
        accepted = cm.session(session_id).messages.send("hello")
        result = cm.wait.turn(session_id, accepted["turnId"], timeout=5)
    assert result.status == "failed"  # the script's mistake, said at once
