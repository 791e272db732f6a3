"""Commands the client sends, encoded once with the generated models."""

from __future__ import annotations

from typing import Final

import msgspec

from codex_manager.stream.models import PingCommand, SubscribeCommand

PING_TEXT: Final = msgspec.json.encode(PingCommand()).decode()
"""``{"type":"ping"}``: the server answers ``{"type":"pong"}``."""


def subscribe_text(thread_id: str) -> str:
    """``{"type":"subscribe","threadId":...}``: set the socket's thread filter."""
    return msgspec.json.encode(SubscribeCommand(thread_id=thread_id)).decode()


__all__ = ["PING_TEXT", "subscribe_text"]
