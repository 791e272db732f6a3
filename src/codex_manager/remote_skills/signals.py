"""Reading tool calls out of whatever the caller hands over.

Accepted inputs:

- a stream ``AppServerSignal`` (attributes ``method``, ``request_id``, ``thread_id``,
  ``turn_id``, ``session``, ``params`` and ``tool_call``);
- a stream event whose ``type`` is ``app_server.request.item.tool.call`` (or
  ``tool_call_requested``) and whose ``payload`` / ``signal`` carries the call;
- raw mappings: a websocket frame ``{"type", "threadId", "payload"}``, a signal envelope
  ``{"method", "requestId", "context", "params", "session"}``, or a pending-call record
  (``GET /api/sessions/{id}/tool-calls`` row / ``tool_call_requested`` payload).

Anything else, or a tool call without a thread id or tool name, yields ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping

from codex_manager.json_types import JSONValue
from codex_manager.remote_skills.calls import ToolCall
from codex_manager.stream.frames import AppServerSignal, StreamEvent

__all__ = [
    "TOOL_CALL_EVENT_TYPE",
    "TOOL_CALL_METHOD",
    "signal_session_id",
    "signal_thread_id",
    "tool_call_from_pending",
    "tool_call_from_signal",
]

TOOL_CALL_METHOD = "item/tool/call"
"""The app-server method of a dynamic tool call."""
TOOL_CALL_EVENT_TYPE = "app_server.request.item.tool.call"
"""The websocket event type carrying a tool-call signal."""
TOOL_CALL_REQUESTED_TYPE = "tool_call_requested"
"""The websocket event type carrying a pending-call record."""


def _text(value: object) -> str | None:
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


def _request_id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _field(source: object, *names: str) -> object:
    """First present value among attribute or key ``names`` of ``source``."""
    for name in names:
        if isinstance(source, Mapping):
            if name in source:
                return source[name]
        else:
            value = getattr(source, name, None)
            if value is not None:
                return value
    return None


def _json(value: object) -> JSONValue:
    """Arguments as plain JSON.

    Decoded frames only hold JSON; a hand-built mapping might hold other objects, which are
    passed on as their ``str()`` (validation then judges them) instead of failing the read.
    """
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return str(value)


def tool_call_from_pending(row: object) -> ToolCall | None:
    """A :class:`ToolCall` from a pending-call record (REST row or ``tool_call_requested``)."""
    method = _field(row, "method")
    if method is not None and method != TOOL_CALL_METHOD:
        return None
    tool = _text(_field(row, "tool"))
    thread_id = _text(_field(row, "threadId", "thread_id"))
    if tool is None or thread_id is None:
        return None
    return ToolCall(
        tool=tool,
        arguments=_json(_field(row, "arguments")),
        request_id=_request_id(_field(row, "requestId", "request_id")),
        call_id=_text(_field(row, "callId", "call_id")),
        thread_id=thread_id,
        turn_id=_text(_field(row, "turnId", "turn_id")),
    )


def signal_thread_id(signal: object) -> str | None:
    """The thread id of the frame itself (the websocket envelope's ``threadId``), if any."""
    if isinstance(signal, StreamEvent):
        return signal.thread_id
    if isinstance(signal, Mapping) and "payload" in signal:
        return _text(signal.get("threadId"))
    return None


def _from_envelope(envelope: object, frame_thread: str | None) -> ToolCall | None:
    method = _field(envelope, "method")
    if method != TOOL_CALL_METHOD:
        return None
    params = _field(envelope, "params")
    if params is None:
        return None
    context = _field(envelope, "context")
    tool = _text(_field(params, "tool"))
    thread_id = (
        _text(_field(params, "threadId", "thread_id"))
        or _text(_field(envelope, "thread_id"))
        or (_text(_field(context, "threadId", "thread_id")) if context is not None else None)
        or frame_thread
    )
    if tool is None or thread_id is None:
        return None
    turn_id = _text(_field(params, "turnId", "turn_id")) or _text(_field(envelope, "turn_id"))
    if turn_id is None and context is not None:
        turn_id = _text(_field(context, "turnId", "turn_id"))
    return ToolCall(
        tool=tool,
        arguments=_json(_field(params, "arguments")),
        request_id=_request_id(_field(envelope, "requestId", "request_id")),
        call_id=_text(_field(params, "callId", "call_id")),
        thread_id=thread_id,
        turn_id=turn_id,
    )


def _from_app_server_signal(signal: AppServerSignal) -> ToolCall | None:
    if signal.method != TOOL_CALL_METHOD:
        return None
    typed = signal.tool_call
    if typed is None:
        # The typed params need a call id; a call without one is still read from the raw params.
        return _from_envelope(signal.payload, signal.thread_id)
    tool = _text(typed.tool)
    thread_id = _text(typed.thread_id) or signal.thread_id
    if tool is None or thread_id is None:
        return None
    return ToolCall(
        tool=tool,
        arguments=typed.arguments,
        request_id=_request_id(signal.request_id),
        call_id=_text(typed.call_id),
        thread_id=thread_id,
        turn_id=_text(typed.turn_id) or signal.turn_id,
    )


def tool_call_from_signal(signal: object) -> ToolCall | None:
    """A :class:`ToolCall` from a signal, stream event or frame; ``None`` when it is not one."""
    if isinstance(signal, AppServerSignal):
        return _from_app_server_signal(signal)
    if isinstance(signal, StreamEvent):
        if signal.type == TOOL_CALL_REQUESTED_TYPE:
            return tool_call_from_pending(signal.payload)
        if signal.type == TOOL_CALL_EVENT_TYPE:
            return _from_envelope(signal.payload, signal.thread_id)
        return None
    kind = _field(signal, "type", "event_type")
    frame_thread = _text(_field(signal, "threadId", "thread_id"))
    if kind == TOOL_CALL_REQUESTED_TYPE:
        payload = _field(signal, "payload")
        return tool_call_from_pending(payload) if payload is not None else None
    if isinstance(kind, str) and kind.startswith("app_server"):
        if kind != TOOL_CALL_EVENT_TYPE:
            return None
        inner = _field(signal, "signal", "payload")
        if inner is not None and inner is not signal:
            return _from_envelope(inner, frame_thread)
    return _from_envelope(signal, frame_thread)


def signal_session_id(signal: object) -> str | None:
    """The ``session.id`` a signal names, if any (checked in addition to the thread id)."""
    if isinstance(signal, AppServerSignal):
        return signal.session.id if signal.session is not None else None
    if isinstance(signal, StreamEvent):
        signal = signal.payload
    for holder in (signal, _field(signal, "signal", "payload")):
        if holder is None:
            continue
        session = _field(holder, "session")
        if session is not None:
            found = _text(_field(session, "id", "sessionId", "session_id"))
            if found is not None:
                return found
    return None
