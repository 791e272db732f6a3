"""The generated msgspec models the stream uses (from ``openapi/stream.schema.json``).

Everything else in the package imports them from here; importing this module loads the
generated code, so the light modules of the package only do it on first use.
"""

from __future__ import annotations

from codex_manager_models.stream import (
    DynamicToolCallParams,
    PendingToolCall,
    PingCommand,
    SignalSession,
    SubscribeCommand,
    ToolCallResolvedPayload,
    UnsubscribeCommand,
)

__all__ = [
    "DynamicToolCallParams",
    "PendingToolCall",
    "PingCommand",
    "SignalSession",
    "SubscribeCommand",
    "ToolCallResolvedPayload",
    "UnsubscribeCommand",
]
