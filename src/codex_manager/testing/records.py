"""Immutable inspection records kept by :class:`FakeCodexManager`, in arrival order.

Every record is a frozen dataclass. JSON payloads inside a record are private copies taken when
the record was made, so later server activity never changes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from codex_manager.json_types import JSONObject, JSONValue

CatalogSource = Literal["create", "resume", "messages"]
"""The route a ``dynamicTools`` list arrived with."""

ToolCallOutcome = Literal["pending", "in_flight", "resolved", "expired"]
"""Where a tool call stands."""


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """One ``POST /api/tool-calls/{requestId}/response`` the fake received.

    Attributes:
        request_id: The request id from the URL (string form).
        thread_id: Thread of the call that held the id, or None when no call held it.
        body: The JSON body as sent (None when the body was absent or not JSON).
        forwarded: What was sent to "codex" as the JSON-RPC result (the ``response``-wins
            rule of the server), or None when nothing was forwarded.
        status: The HTTP status the fake answered (200, 400, 404, 409 or 500).
        at: ``time.time()`` when the answer arrived.
    """

    request_id: str
    thread_id: str | None
    body: JSONValue
    forwarded: JSONValue
    status: int
    at: float


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One accepted ``POST /api/sessions/{id}/messages`` (status 202).

    Attributes:
        session_id: The session (thread) id.
        turn_id: The turn the message started.
        text: The message text (trimmed, as the server keeps it).
        body: The validated body.
        at: ``time.time()`` when it was accepted.
    """

    session_id: str
    turn_id: str
    text: str
    body: JSONObject
    at: float


@dataclass(frozen=True, slots=True)
class CatalogRecord:
    """A ``dynamicTools`` list received for a session.

    Attributes:
        session_id: The session id.
        source: The route it came with: ``create``, ``resume`` or ``messages``.
        tools: The tool definitions as validated (unknown keys dropped).
        applied: True only for ``create``: like codex 0.169, the fake's agent keeps the
            catalog fixed at creation and ignores later lists.
        at: ``time.time()`` when it arrived.
    """

    session_id: str
    source: CatalogSource
    tools: tuple[JSONObject, ...]
    applied: bool
    at: float

    @property
    def names(self) -> tuple[str, ...]:
        """The tool names in this catalog."""
        return tuple(str(tool.get("name")) for tool in self.tools)


@dataclass(frozen=True, slots=True)
class PublishedEvent:
    """One frame the stream hub published (control frames excluded).

    Attributes:
        type: The event type, e.g. ``tool_call_requested``.
        thread_id: The frame's ``threadId`` (None for unscoped events).
        payload: The frame's payload.
        broadcast: True when delivered to every socket regardless of filters.
        recipients: How many sockets the frame was queued for.
        at: ``time.time()`` when published.
    """

    type: str
    thread_id: str | None
    payload: JSONValue
    broadcast: bool
    recipients: int
    at: float


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """A dynamic tool call the agent made, with its current outcome.

    Attributes:
        request_id: String form of the JSON-RPC id (what the answer route takes).
        rpc_id: The numeric JSON-RPC id (as in the ``app_server.request.item.tool.call`` frame).
        thread_id: The session (thread) id.
        turn_id: The turn that made the call.
        call_id: The model's call id (``call_000003`` style).
        tool: The tool name.
        arguments: The call arguments.
        outcome: ``pending``, ``in_flight``, ``resolved`` or ``expired``.
        forwarded: The JSON-RPC result given to the agent when resolved, else None.
        created_at: ``time.time()`` when the call was made.
    """

    request_id: str
    rpc_id: int
    thread_id: str
    turn_id: str
    call_id: str
    tool: str
    arguments: JSONValue
    outcome: ToolCallOutcome
    forwarded: JSONValue
    created_at: float


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """A turn the agent ran (or is running).

    Attributes:
        session_id: The session id.
        turn_id: The turn id.
        text: The user message that started it.
        status: ``inProgress``, ``completed``, ``interrupted`` or ``failed``.
        replies: The assistant messages of the turn, in order.
        error: Why a ``failed`` turn failed (the script's exception), else ``None``.
    """

    session_id: str
    turn_id: str
    text: str
    status: str
    replies: tuple[str, ...]
    error: str | None = None
