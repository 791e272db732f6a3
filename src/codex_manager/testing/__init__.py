"""Test your skills offline: a faithful fake codex-manager server with a scripted agent.

``FakeCodexManager`` serves the codex-manager REST API and the ``/api/stream`` websocket on
loopback, in a background thread, with the payloads, status codes and event order of the real
server. A scripted agent plays Codex: by default a message ``CALL lookup_ticket
{"ticket_id": "ABC-123"}`` makes it call the tool, wait for the answer and reply
``TOOL RESULT: <answer text>``; other text is answered ``ECHO: <text>``.

Example::

    from codex_manager.testing import FakeCodexManager

    with FakeCodexManager() as server:
        client = httpx.Client(base_url=server.base_url)
        ...
"""

from ._normalize import normalize_method
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
