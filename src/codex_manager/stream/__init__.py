"""The ``/api/stream`` event stream: typed frames, handler decorators, sync and async clients.

``EventStream`` (sync: blocking websocket + threads) and ``AsyncEventStream`` (asyncio)
share the decorators and the decoding. The generated models are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_manager._lazy import lazy_exports
from codex_manager.stream._methods import KnownNotificationMethod, KnownRequestMethod
from codex_manager.stream.context import (
    HandlerContext,
    StreamClient,
    StreamControl,
    StreamOptions,
    WebSocketClientChoice,
)
from codex_manager.stream.errors import (
    DeadConnectionError,
    HandlerError,
    StreamConnectionError,
    StreamError,
    StreamFrameError,
    StreamRefusedError,
    StreamServerError,
)
from codex_manager.stream.frames import (
    TOOL_CALL_METHOD,
    AppServerSignal,
    Connected,
    HandledItem,
    Reconnected,
    SignalType,
    StreamEvent,
    ToolCallParams,
)
from codex_manager.stream.normalize import normalize_method
from codex_manager.stream.router import UnknownEventTypeWarning, UnknownMethodWarning

if TYPE_CHECKING:
    from codex_manager.stream.async_stream import AsyncEventStream
    from codex_manager.stream.decode import decode_frame
    from codex_manager.stream.models import (
        PendingToolCall,
        SignalSession,
        ToolCallResolvedPayload,
    )
    from codex_manager.stream.sync_stream import EventStream

_LAZY = {
    "EventStream": "codex_manager.stream.sync_stream",
    "AsyncEventStream": "codex_manager.stream.async_stream",
    "decode_frame": "codex_manager.stream.decode",
    "PendingToolCall": "codex_manager.stream.models",
    "SignalSession": "codex_manager.stream.models",
    "ToolCallResolvedPayload": "codex_manager.stream.models",
}


if not TYPE_CHECKING:  # seen by a type checker, it would make every misspelled import valid
    # The websocket clients and generated models are imported on first use.
    __getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "TOOL_CALL_METHOD",
    "AppServerSignal",
    "AsyncEventStream",
    "Connected",
    "DeadConnectionError",
    "EventStream",
    "HandledItem",
    "HandlerContext",
    "HandlerError",
    "KnownNotificationMethod",
    "KnownRequestMethod",
    "PendingToolCall",
    "Reconnected",
    "SignalSession",
    "SignalType",
    "StreamClient",
    "StreamConnectionError",
    "StreamControl",
    "StreamError",
    "StreamEvent",
    "StreamFrameError",
    "StreamOptions",
    "StreamRefusedError",
    "StreamServerError",
    "ToolCallParams",
    "ToolCallResolvedPayload",
    "UnknownEventTypeWarning",
    "UnknownMethodWarning",
    "WebSocketClientChoice",
    "decode_frame",
    "normalize_method",
]
