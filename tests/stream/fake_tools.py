"""What the stream tests against ``FakeCodexManager`` share: a tool, the turns calling it,
and the handler context of each client."""

from __future__ import annotations

from codex_manager.client import AsyncCodexManager, CodexManager
from codex_manager.json_types import JSONObject
from codex_manager.stream import HandlerContext

TOOL: JSONObject = {
    "name": "lookup_ticket",
    "description": "Look a ticket up",
    "inputSchema": {"type": "object", "properties": {"ticket_id": {"type": "string"}}},
}
CALL_TEXT = 'CALL lookup_ticket {"ticket_id": "ABC-1"}'
"""A turn calling the tool once (the fake's scripted agent)."""
TWO_CALLS = 'PARALLEL\nCALL lookup_ticket {"ticket_id": "A"}\nCALL lookup_ticket {"ticket_id": "B"}'
"""A turn calling it twice at once."""

SyncContext = HandlerContext[CodexManager]
AsyncContext = HandlerContext[AsyncCodexManager]
