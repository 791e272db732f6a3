"""What the dispatcher tests hand to handlers: a context with a stand-in stream and client."""

from __future__ import annotations

import asyncio

from codex_manager.config import ClientConfig
from codex_manager.stream import HandlerContext
from codex_manager.stream.context import StreamClient
from codex_manager.stream.router import HandlerEntry


class _Control:
    running = True

    def stop(self) -> None:
        self.running = False


class _Client:
    client_config = ClientConfig()


CONTEXT: HandlerContext[StreamClient] = HandlerContext(_Control(), _Client(), None)


def entry(handler: object, name: str = "h") -> HandlerEntry:
    """A registration of ``handler`` as the router would make it."""
    assert callable(handler)
    return HandlerEntry(handler, name, asyncio.iscoroutinefunction(handler), "event", "x")
