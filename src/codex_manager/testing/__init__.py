"""Test your skills offline: a faithful fake codex-manager server with a scripted agent.

:class:`FakeCodexManager` serves the codex-manager REST API (all 70 routes) and the
``/api/stream`` websocket on loopback, in a background thread, with the payloads, status codes
and event order of the real server (see ``server-contract.md`` and the real recordings). A
scripted agent plays Codex (:mod:`codex_manager.testing.agent`): by default a message
``CALL lookup_ticket {"ticket_id": "ABC-123"}`` makes it call the tool, wait for the answer and
reply ``TOOL RESULT: <answer text>``; other text is answered ``ECHO: <text>``. Tests can give
Python scripts instead, inject faults and inspect everything the server received.

A pytest test of a skill::

    from codex_manager import CodexManager
    from codex_manager.remote_skills import SessionSkills
    from codex_manager.testing import FakeCodexManager

    def register(skills: SessionSkills) -> None:
        @skills.skill
        def lookup_ticket(ticket_id: str) -> dict[str, str]:
            '''Look a ticket up by its id.'''
            return {"ticketId": ticket_id, "status": "open"}

    def test_lookup_ticket() -> None:
        with FakeCodexManager() as server, CodexManager(server.base_url) as cm:
            created, skills = cm.remote_skills.create_session(register=register, cwd=".")
            session_id = created["session"]["sessionId"]
            cm.session(session_id).messages.send('CALL lookup_ticket {"ticket_id": "ABC-123"}')
            server.wait_for_tool_call(session_id)
            skills.drain_pending_calls()
            server.wait_idle()
            assert "ABC-123" in server.turns(session_id)[-1].replies[0]

The canned thin-proxy routes (models, config, account, MCP, skills, apps, features,
collaboration modes, commands, feedback, extensions) answer fixed realistic bodies of the
documented shape; sessions, tool calls, approvals, tool input, settings, controls, projects and
the stream are emulated for real.
"""

try:
    import aiohttp  # noqa: F401  # the fake serves on it
except ImportError as missing:  # pragma: no cover - the dev install has it
    raise ImportError(
        "codex_manager.testing runs on aiohttp, which is not installed: install the SDK with "
        "its testing extra, pip install 'codex-manager-client[testing]' (from a clone: "
        "pip install '.[testing]')",
        name=missing.name,
    ) from missing

from codex_manager.stream.normalize import normalize_method

from .agent import (
    AsyncScript,
    Script,
    SyncScript,
    SyncTurnContext,
    ToolCallHandle,
    ToolCallSpec,
    ToolResult,
    TurnContext,
    TurnFinishedError,
    default_script,
    parse_calls,
)
from .records import (
    AnswerRecord,
    CatalogRecord,
    MessageRecord,
    PublishedEvent,
    ToolCallRecord,
    TurnRecord,
)
from .server import FakeCodexManager, FakeServerError

__all__ = [
    "AnswerRecord",
    "AsyncScript",
    "CatalogRecord",
    "FakeCodexManager",
    "FakeServerError",
    "MessageRecord",
    "PublishedEvent",
    "Script",
    "SyncScript",
    "SyncTurnContext",
    "ToolCallHandle",
    "ToolCallRecord",
    "ToolCallSpec",
    "ToolResult",
    "TurnContext",
    "TurnFinishedError",
    "TurnRecord",
    "default_script",
    "normalize_method",
    "parse_calls",
]
