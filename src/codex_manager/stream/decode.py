"""Decoding websocket frames into typed values, once, with msgspec.

Stage one decodes the envelope ``{type, threadId, payload}`` keeping ``payload`` raw;
stage two, for ``app_server.*`` frames only, decodes the signal envelope keeping
``params`` raw; the ``item/tool/call`` params are decoded with the generated model.
Anything else stays raw until someone reads it.

:func:`decode_frame` raises :class:`StreamFrameError` and nothing else.
"""

from __future__ import annotations

import json
from typing import Final, Literal

import msgspec

from codex_manager._surrogates import SURROGATE_ESCAPE, replace_lone_surrogates
from codex_manager.stream.errors import StreamFrameError, preview
from codex_manager.stream.frames import (
    TOOL_CALL_METHOD,
    AppServerSignal,
    StreamEvent,
    ToolCallParams,
    _Missing,
)
from codex_manager.stream.models import DynamicToolCallParams, SignalSession
from codex_manager.stream.normalize import normalize_method

_MISSING: Final = _Missing()
_NULL: Final = msgspec.Raw(b"null")
_SIGNAL_PREFIX: Final = "app_server."
_REQUEST_PREFIX: Final = "app_server.request."


class ReadyFrame(msgspec.Struct, frozen=True):
    """Control frame: the server accepted the connection (``threadId`` = initial filter)."""

    thread_id: str | None = msgspec.field(name="threadId", default=None)


class PongFrame(msgspec.Struct, frozen=True):
    """Control frame: the answer to a ``ping`` command."""


class ErrorFrame(msgspec.Struct, frozen=True):
    """Control frame: the server did not understand a command."""

    message: str = ""


ControlFrame = ReadyFrame | PongFrame | ErrorFrame
"""A control frame (not delivered to handlers)."""

Frame = StreamEvent | ReadyFrame | PongFrame | ErrorFrame
"""Anything :func:`decode_frame` returns."""


class _WireFrame(msgspec.Struct):
    type: str
    threadId: str | None = None  # noqa: N815 - wire name
    payload: msgspec.Raw = _NULL


class _WireContext(msgspec.Struct):
    threadId: str | None = None  # noqa: N815 - wire name
    turnId: str | None = None  # noqa: N815 - wire name


class _WireSignal(msgspec.Struct):
    signalType: Literal["notification", "request"]  # noqa: N815 - wire name
    method: str
    eventType: str = ""  # noqa: N815 - wire name
    receivedAt: str = ""  # noqa: N815 - wire name
    context: _WireContext | None = None
    params: msgspec.Raw = _NULL
    session: SignalSession | None = None
    requestId: int | str | None = None  # noqa: N815 - wire name


class _WireError(msgspec.Struct):
    message: str = ""


_frame_decoder: Final = msgspec.json.Decoder(_WireFrame)
_signal_decoder: Final = msgspec.json.Decoder(_WireSignal)
_error_decoder: Final = msgspec.json.Decoder(_WireError)
_tool_call_decoder: Final = msgspec.json.Decoder(DynamicToolCallParams)
_PONG: Final = PongFrame()


def _event(frame_type: str, thread_id: str | None, raw: msgspec.Raw) -> StreamEvent:
    # Bypass __init__: the payload stays raw until read.
    event = StreamEvent.__new__(StreamEvent)
    event.type = frame_type
    event.thread_id = thread_id
    event._raw = raw
    event._payload = _MISSING
    return event


def _tool_call(
    raw_params: msgspec.Raw, data: str | bytes, frame_type: str
) -> ToolCallParams | None:
    try:
        params = _tool_call_decoder.decode(raw_params)
    except msgspec.DecodeError as error:
        if _call_without_ids(raw_params):
            return None  # read from the raw params where needed (see AppServerSignal.tool_call)
        raise StreamFrameError(
            f"invalid item/tool/call params: {error}", preview(data), frame_type
        ) from None
    namespace = params.namespace
    return ToolCallParams(
        tool=params.tool,
        arguments=params.arguments,
        call_id=params.call_id,
        thread_id=params.thread_id,
        turn_id=params.turn_id,
        namespace=namespace if isinstance(namespace, str) else None,
    )


def _call_without_ids(raw_params: msgspec.Raw) -> bool:
    """Params the server takes for a tool call although they lack ``callId`` or ``turnId``.

    The server needs only a thread id and a tool name (contract, section 6); codex's own
    schema requires the ids too, so the typed params do.
    """
    try:
        params = msgspec.json.decode(raw_params)
    except msgspec.DecodeError:
        return False
    if not isinstance(params, dict):
        return False
    tool, thread = params.get("tool"), params.get("threadId")
    ids_ok = all(isinstance(params.get(key), str | None) for key in ("callId", "turnId"))
    return isinstance(tool, str) and bool(tool.strip()) and isinstance(thread, str) and ids_ok


def _signal(
    frame_type: str, thread_id: str | None, raw: msgspec.Raw, data: str | bytes
) -> AppServerSignal:
    try:
        wire = _signal_decoder.decode(raw)
    except msgspec.DecodeError as error:
        raise StreamFrameError(
            f"invalid app_server signal: {error}", preview(data), frame_type
        ) from None
    signal_type = wire.signalType
    # The frame type already carries the server's normalization; recompute only if odd.
    prefix = _REQUEST_PREFIX if signal_type == "request" else _SIGNAL_PREFIX
    if frame_type.startswith(prefix) and not (
        signal_type == "notification" and frame_type.startswith(_REQUEST_PREFIX)
    ):
        normalized = frame_type[len(prefix) :]
    else:
        normalized = normalize_method(wire.method)
    context = wire.context
    signal = AppServerSignal.__new__(AppServerSignal)
    signal.type = frame_type
    signal.thread_id = (context.threadId if context else None) or thread_id
    signal._raw = raw
    signal._payload = _MISSING
    signal.signal_type = signal_type
    signal.event_type = wire.eventType or frame_type
    signal.method = wire.method
    signal.normalized_method = normalized
    signal.received_at = wire.receivedAt
    signal.turn_id = context.turnId if context else None
    signal.session = wire.session
    signal.request_id = wire.requestId
    signal._raw_params = wire.params
    signal._params = _MISSING
    if signal_type == "request" and wire.method == TOOL_CALL_METHOD:
        if wire.requestId is None:
            raise StreamFrameError("item/tool/call request without requestId", preview(data))
        signal.tool_call = _tool_call(wire.params, data, frame_type)
    else:
        signal.tool_call = None
    return signal


def decode_frame(data: str | bytes) -> Frame:
    """Decode one websocket text frame.

    Returns a :class:`StreamEvent` (an :class:`AppServerSignal` for ``app_server.*``
    frames) or a control frame (:class:`ReadyFrame`, :class:`PongFrame`,
    :class:`ErrorFrame`).

    Raises:
        StreamFrameError: Binary data, malformed JSON or a wrong shape. Nothing else.
    """
    if not isinstance(data, str):
        raise StreamFrameError("binary frame", preview(data))
    try:
        return _decode_text(data)
    except RecursionError:
        # msgspec refuses JSON nested deeper than the interpreter's recursion limit.
        raise StreamFrameError("JSON nested too deeply", preview(data)) from None


def _decode_text(data: str) -> Frame:
    try:
        wire = _frame_decoder.decode(data)
    except msgspec.DecodeError as error:
        repaired = _without_lone_surrogates(data)
        if repaired is None:
            raise StreamFrameError(str(error), preview(data)) from None
        try:
            wire = _frame_decoder.decode(repaired)
        except msgspec.DecodeError:
            raise StreamFrameError(str(error), preview(data)) from None
        data = repaired
    frame_type = wire.type
    if frame_type.startswith(_SIGNAL_PREFIX):
        return _signal(frame_type, wire.threadId, wire.payload, data)
    if frame_type == "pong":
        return _PONG
    if frame_type == "ready":
        return ReadyFrame(thread_id=wire.threadId)
    if frame_type == "error":
        try:
            message = _error_decoder.decode(data).message
        except msgspec.DecodeError as error:
            raise StreamFrameError(str(error), preview(data), frame_type) from None
        return ErrorFrame(message=message)
    return _event(frame_type, wire.threadId, wire.payload)


def _without_lone_surrogates(data: str) -> str | None:
    """``data`` with each lone surrogate escape (``"\\ud83d"``) made U+FFFD; ``None`` if it
    has none or is no JSON at all.

    Node's ``JSON.stringify`` writes one for a string cut between the two halves of an
    emoji (a title shortened with ``.slice``); msgspec, rightly strict, refuses the text, and
    the whole frame (a tool call, say) would be lost for one character.
    """
    if SURROGATE_ESCAPE.search(data) is None:
        return None
    try:
        parsed = json.loads(data)  # accepts lone surrogates, as JavaScript does
    except ValueError:
        return None
    return json.dumps(replace_lone_surrogates(parsed))


__all__ = [
    "ControlFrame",
    "ErrorFrame",
    "Frame",
    "PongFrame",
    "ReadyFrame",
    "decode_frame",
]
