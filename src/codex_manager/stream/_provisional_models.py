# ruff: noqa
"""TEMPORARY stand-in for ``codex_manager_models.stream`` until ``make regen`` produces it.

This is the output of datamodel-code-generator 0.89.0 on ``openapi/stream.schema.json`` with
the flags of ``scripts/regen.py``; delete it once the generated module is checked in.
"""

from __future__ import annotations
from typing import Annotated, Any, Literal, TypeAlias
from msgspec import Meta, Struct, UNSET, UnsetType, field


StreamFrames: TypeAlias = Annotated[
    Any,
    Meta(
        description="Frames of the codex-manager websocket /api/stream (server-contract sections 4 and 5): commands the client sends (ClientCommand), and the control frames (ReadyFrame, PongFrame, ErrorFrame) and event frames (StreamEventFrame and its specialisations) the server sends. Frames received from the server allow unknown keys, for forward compatibility.",
        title="StreamFrames",
    ),
]


class SubscribeCommand(Struct, tag_field="type", tag="subscribe"):
    """
    Client command: replace the socket's thread filter.
    """

    thread_id: Annotated[str, Meta(min_length=1)] = field(name="threadId")


class UnsubscribeCommand(Struct, tag_field="type", tag="unsubscribe"):
    """
    Client command: clear the thread filter (receive everything again).
    """


class PingCommand(Struct, tag_field="type", tag="ping"):
    """
    Client command: liveness probe; the server answers with a pong frame.
    """


ClientCommand: TypeAlias = Annotated[
    SubscribeCommand | UnsubscribeCommand | PingCommand,
    Meta(description="Any command the client sends over the websocket."),
]


class ReadyFrame(Struct):
    """
    Control frame sent right after connecting; threadId is the initial filter or null.
    """

    type: Literal["ready"]
    thread_id: str | None = field(name="threadId")


class PongFrame(Struct):
    """
    Control frame answering a ping command.
    """

    type: Literal["pong"]


class ErrorFrame(Struct):
    """
    Control frame answering a command the server could not understand.
    """

    type: Literal["error"]
    message: str


class StreamEventFrame(Struct):
    """
    Envelope of every non-control frame: event type, thread scope (null when not thread-scoped) and a type-specific payload.
    """

    type: Annotated[str, Meta(min_length=1)]
    thread_id: str | None = field(name="threadId")
    payload: Any


class SignalContext(Struct):
    """
    Thread and turn an app-server signal belongs to.
    """

    thread_id: str | None = field(name="threadId")
    turn_id: str | None = field(name="turnId")


class SignalSession(Struct):
    """
    The codex-manager session of an app-server signal.
    """

    id: str
    title: str | None
    project_id: str | None = field(name="projectId")


class AppServerSignalPayload(Struct):
    """
    Payload of an app_server.* frame: a codex app-server notification or server-initiated request, re-published by codex-manager.
    """

    source: Literal["app_server"]
    signal_type: Literal["notification", "request"] = field(name="signalType")
    event_type: str = field(name="eventType")
    method: str
    received_at: str = field(name="receivedAt")
    context: SignalContext
    params: Any
    session: SignalSession | None
    request_id: (
        Annotated[
            int | str,
            Meta(
                description="The JSON-RPC id of a server-initiated request (requests only); numbers stay numbers."
            ),
        ]
        | UnsetType
    ) = field(name="requestId", default=UNSET)


class AppServerSignalFrame(Struct):
    """
    An app_server.* event frame.
    """

    type: Annotated[str, Meta(pattern="^app_server\\.")]
    thread_id: str | None = field(name="threadId")
    payload: AppServerSignalPayload


class DynamicToolCallParams(Struct):
    """
    Params of the item/tool/call server request: the model calls a dynamic tool.
    """

    thread_id: str = field(name="threadId")
    turn_id: str = field(name="turnId")
    call_id: str = field(name="callId")
    tool: str
    arguments: Any
    namespace: str | None | UnsetType = UNSET


class ToolCallSignalPayload(Struct):
    """
    Payload of an app_server.request.item.tool.call frame.
    """

    source: Literal["app_server"]
    signal_type: Literal["request"] = field(name="signalType")
    event_type: Literal["app_server.request.item.tool.call"] = field(name="eventType")
    method: Literal["item/tool/call"]
    received_at: str = field(name="receivedAt")
    context: SignalContext
    params: DynamicToolCallParams
    session: SignalSession | None
    request_id: int | str = field(name="requestId")


class ToolCallSignalFrame(Struct):
    """
    An app_server.request.item.tool.call event frame.
    """

    type: Literal["app_server.request.item.tool.call"]
    thread_id: str | None = field(name="threadId")
    payload: ToolCallSignalPayload


class PendingToolCall(Struct):
    """
    A dynamic tool call waiting for an answer (also the tool_call_requested payload).
    """

    request_id: Annotated[
        str, Meta(description="String form of the JSON-RPC id; the address to answer.")
    ] = field(name="requestId")
    method: Literal["item/tool/call"]
    thread_id: str = field(name="threadId")
    turn_id: str | None = field(name="turnId")
    item_id: str | None = field(name="itemId")
    call_id: str | None = field(name="callId")
    tool: Annotated[str, Meta(min_length=1)]
    arguments: Any
    summary: str
    details: Annotated[dict[str, Any], Meta(description="The full raw request params.")]
    created_at: Annotated[str, Meta(description="ISO-8601 timestamp.")] = field(name="createdAt")
    status: Literal["pending"]


class ToolCallRequestedFrame(Struct):
    """
    A tool_call_requested event frame.
    """

    type: Literal["tool_call_requested"]
    thread_id: str | None = field(name="threadId")
    payload: PendingToolCall


class ToolCallResolvedPayload(Struct):
    """
    Payload of tool_call_resolved: the call was answered (resolved) or expired.
    """

    request_id: str = field(name="requestId")
    status: Literal["resolved", "expired"]
    success: bool


class ToolCallResolvedFrame(Struct):
    """
    A tool_call_resolved event frame.
    """

    type: Literal["tool_call_resolved"]
    thread_id: str | None = field(name="threadId")
    payload: ToolCallResolvedPayload
