"""Where the stream's generated msgspec models come from.

Everything else in the package imports them from here, so switching from the temporary
stand-in to ``codex_manager_models.stream`` is a one-line change.
"""

from __future__ import annotations

from codex_manager.stream._provisional_models import (
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
