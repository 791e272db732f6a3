"""The README's "Test your skills offline" example, verbatim from here to the end of the file
(``test_readme.py`` checks that README.md shows exactly this code)."""

from codex_manager import CodexManager
from codex_manager.remote_skills import SessionSkills
from codex_manager.testing import FakeCodexManager


def register(skills: SessionSkills) -> None:
    @skills.skill
    def lookup_ticket(ticket_id: str) -> dict[str, str]:
        """Lookup ticket status by id."""
        return {"ticketId": ticket_id, "status": "open"}


def test_lookup_ticket() -> None:
    with FakeCodexManager() as server, CodexManager(server.base_url) as cm:
        _created, skills = cm.remote_skills.create_session(register=register)
        cm.session(skills.session_id).messages.send('CALL lookup_ticket {"ticket_id": "A-1"}')
        server.wait_for_tool_call(skills.session_id)
        (dispatch,) = skills.drain_pending_calls()
        server.wait_idle()
        assert dispatch.answer_text == '{"ticketId":"A-1","status":"open"}'
        assert server.turns()[-1].replies == ('TOOL RESULT: {"ticketId":"A-1","status":"open"}',)
