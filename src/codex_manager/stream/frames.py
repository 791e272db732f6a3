"""Typed, decoded stream frames: what handlers and ``events()`` receive.

:class:`StreamEvent` is every event frame; :class:`AppServerSignal` (a subclass) is an
``app_server.*`` frame with its signal envelope decoded. Payloads and params are kept as
raw JSON and decoded on first access only, so routing a frame costs one envelope decode.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, TypeAlias, TypeVar, cast

import msgspec

from codex_manager.json_types import JSONInput, JSONValue
from codex_manager.stream.errors import StreamError, StreamFrameError, preview

if TYPE_CHECKING:
    from codex_manager.stream.models import SignalSession

ModelT = TypeVar("ModelT")

SignalType = Literal["notification", "request"]
"""Kind of an app-server signal: a notification, or a server-initiated request to answer."""

TOOL_CALL_METHOD: Final = "item/tool/call"
"""The JSON-RPC method of a dynamic tool call."""

_NULL: Final = msgspec.Raw(b"null")


class _Missing:
    """Marker for a lazily decoded value that was not decoded yet."""

    __slots__ = ()


_MISSING: Final = _Missing()


class StreamEvent:
    """One event frame of ``/api/stream``: ``{"type", "threadId", "payload"}``.

    Attributes:
        type: The event type, e.g. ``"tool_call_requested"`` or ``"app_server.turn.started"``.
        thread_id: The thread the event belongs to; ``None`` for events that are not
            thread-scoped (broadcasts).
    """

    __slots__ = ("_payload", "_raw", "thread_id", "type")

    type: str
    thread_id: str | None
    _raw: msgspec.Raw
    _payload: JSONValue | _Missing

    def __init__(self, type: str, thread_id: str | None, payload: JSONInput = None):
        """Build an event from decoded values (the stream itself decodes frames lazily).

        ``payload`` is any JSON-shaped value (a ``dict[str, str]`` too); :attr:`payload`
        gives it back as decoded JSON, as for a received frame.
        """
        self.type = type
        self.thread_id = thread_id
        self._raw = msgspec.Raw(msgspec.json.encode(payload))
        self._payload = _MISSING

    @property
    def payload(self) -> JSONValue:
        """The decoded payload (decoded on first access, then cached)."""
        value = self._payload
        if isinstance(value, _Missing):
            value = self._payload = cast(JSONValue, msgspec.json.decode(self._raw))
        return value

    @property
    def raw_payload(self) -> bytes:
        """The payload as the JSON bytes received."""
        return bytes(self._raw)

    def decode_payload(self, model: builtins.type[ModelT]) -> ModelT:
        """Decode the payload into a msgspec-compatible type, e.g. ``PendingToolCall``.

        Raises:
            StreamFrameError: The payload does not have the shape of ``model``.
            TypeError: msgspec cannot decode into ``model`` (a REST TypedDict, say).
        """
        return _decode_as(self._raw, model, "payload", self.type)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(type={self.type!r}, thread_id={self.thread_id!r})"


def _decode_as(raw: msgspec.Raw, model: builtins.type[ModelT], what: str, frame: str) -> ModelT:
    name = getattr(model, "__name__", repr(model))
    try:
        return msgspec.json.decode(raw, type=model)
    except msgspec.ValidationError as error:
        raise StreamFrameError(
            f"{what} is not a {name}: {error}", preview(bytes(raw)), frame
        ) from error
    except TypeError as error:  # msgspec's word for a type it cannot decode into
        where = f"{getattr(model, '__module__', '?')}.{name}"
        raise TypeError(
            f"{where} cannot be decoded from a frame ({error}): use a msgspec Struct such as "
            "codex_manager.stream.PendingToolCall or a generated app-server model"
        ) from error


class ToolCallParams(msgspec.Struct, frozen=True, kw_only=True):
    """Params of an ``item/tool/call`` request: the model calls a dynamic tool.

    Attributes:
        tool: The tool name.
        arguments: The arguments the model passed (any JSON value, normally an object).
        call_id: The model's call id; with ``thread_id`` it identifies the call.
        thread_id: The thread (session) the call belongs to.
        turn_id: The turn during which the model made the call.
        namespace: The tool namespace, when codex sends one.
    """

    tool: str
    arguments: JSONValue
    call_id: str
    thread_id: str
    turn_id: str
    namespace: str | None = None


class AppServerSignal(StreamEvent):
    """An ``app_server.*`` frame: a codex app-server notification or request, re-published.

    ``thread_id`` is the signal's ``context.threadId`` (equal to the frame's thread).

    Attributes:
        signal_type: ``"notification"``, or ``"request"`` for a server-initiated request
            that expects an answer (tool calls, approvals, user input).
        event_type: The frame type, e.g. ``"app_server.request.item.tool.call"``.
        method: The original JSON-RPC method, e.g. ``"item/tool/call"``.
        normalized_method: ``method`` normalized the server's way, e.g. ``"item.tool.call"``.
        received_at: ISO-8601 time the server received it from codex.
        turn_id: The turn the signal belongs to, when known.
        session: The codex-manager session of the thread, or ``None``.
        request_id: The JSON-RPC id of a request (numbers stay numbers); ``None`` for
            notifications. Tool calls are answered at ``str(request_id)``.
        tool_call: Typed params when this is an ``item/tool/call`` request, else ``None``;
            also ``None`` for a call whose params lack ``callId`` or ``turnId`` (codex always
            sends them, the server does not need them): :attr:`params` holds it as sent.
    """

    __slots__ = (
        "_params",
        "_raw_params",
        "event_type",
        "method",
        "normalized_method",
        "received_at",
        "request_id",
        "session",
        "signal_type",
        "tool_call",
        "turn_id",
    )

    signal_type: SignalType
    event_type: str
    method: str
    normalized_method: str
    received_at: str
    turn_id: str | None
    session: SignalSession | None
    request_id: int | str | None
    tool_call: ToolCallParams | None
    _raw_params: msgspec.Raw
    _params: JSONValue | _Missing

    def __init__(
        self,
        *,
        signal_type: SignalType,
        method: str,
        thread_id: str | None,
        turn_id: str | None = None,
        params: JSONInput = None,
        request_id: int | str | None = None,
        received_at: str = "",
        session: SignalSession | None = None,
        tool_call: ToolCallParams | None = None,
    ):
        """Build a signal from decoded values (useful in tests; the stream decodes frames)."""
        from codex_manager.stream.normalize import normalize_method

        normalized = normalize_method(method)
        prefix = "app_server.request." if signal_type == "request" else "app_server."
        event_type = prefix + normalized
        payload: dict[str, JSONInput] = {
            "source": "app_server",
            "signalType": signal_type,
            "eventType": event_type,
            "method": method,
            "receivedAt": received_at,
            "context": {"threadId": thread_id, "turnId": turn_id},
            "params": params,
            "session": None if session is None else cast(JSONValue, msgspec.to_builtins(session)),
        }
        if request_id is not None:
            payload["requestId"] = request_id
        super().__init__(event_type, thread_id, payload)
        self.signal_type = signal_type
        self.event_type = event_type
        self.method = method
        self.normalized_method = normalized
        self.received_at = received_at
        self.turn_id = turn_id
        self.session = session
        self.request_id = request_id
        self.tool_call = tool_call
        self._raw_params = msgspec.Raw(msgspec.json.encode(params))
        self._params = _MISSING

    @property
    def params(self) -> JSONValue:
        """The original JSON-RPC params (decoded on first access, then cached)."""
        value = self._params
        if isinstance(value, _Missing):
            value = self._params = cast(JSONValue, msgspec.json.decode(self._raw_params))
        return value

    @property
    def raw_params(self) -> bytes:
        """The params as the JSON bytes received."""
        return bytes(self._raw_params)

    @property
    def is_request(self) -> bool:
        """Whether this is a server-initiated request that expects an answer."""
        return self.signal_type == "request"

    def decode_params(self, model: builtins.type[ModelT]) -> ModelT:
        """Decode the params into a msgspec-compatible type (e.g. a generated app-server model).

        Raises:
            StreamFrameError: The params do not have the shape of ``model``.
            TypeError: msgspec cannot decode into ``model``.
        """
        return _decode_as(self._raw_params, model, "params", self.type)

    def __repr__(self) -> str:
        return (
            f"AppServerSignal(type={self.type!r}, thread_id={self.thread_id!r}, "
            f"method={self.method!r}, request_id={self.request_id!r})"
        )


@dataclass(frozen=True, slots=True)
class Reconnected:
    """What ``on_reconnect`` handlers receive after the stream connected again.

    Events published while disconnected are lost (the server does not replay); use this
    to catch up, e.g. ``skills.drain_pending_calls()``.

    Attributes:
        thread_id: The thread the stream follows, or ``None``.
        reconnects: How many times this run reconnected so far (1 for the first time).
        disconnected_for: Seconds between losing the previous connection and ``ready``.
    """

    thread_id: str | None
    reconnects: int
    disconnected_for: float


@dataclass(frozen=True, slots=True)
class Connected:
    """What ``on_connect`` handlers receive each time a connection is ready.

    Sent once the ``ready`` frame arrived and the ``subscribe`` command (when following a
    thread) was sent: from then on the stream receives what the server publishes.

    Attributes:
        thread_id: The thread the stream follows, or ``None``.
        connection: Which ready connection of this run this is (1 for the first).
        disconnected_for: Seconds between losing the previous connection and ``ready``;
            ``None`` for the first connection.
    """

    thread_id: str | None
    connection: int
    disconnected_for: float | None

    @property
    def reconnects(self) -> int:
        """How many times this run reconnected so far (0 for the first connection)."""
        return self.connection - 1

    @property
    def is_reconnect(self) -> bool:
        """Whether an earlier connection of this run was lost (``on_reconnect`` runs too)."""
        return self.connection > 1


HandledItem: TypeAlias = StreamEvent | StreamError | Connected | Reconnected
"""What a stream hands its handlers: an event or signal, an error, a connection notice."""


__all__ = [
    "TOOL_CALL_METHOD",
    "AppServerSignal",
    "Connected",
    "HandledItem",
    "Reconnected",
    "SignalType",
    "StreamEvent",
    "ToolCallParams",
]
