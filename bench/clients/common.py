"""What every benchmarked client receives and reports, and the handlers they all run."""

from __future__ import annotations

import asyncio
import time
from typing import Literal

import msgspec

StreamMode = Literal["shared", "per_session"]
HandlerKind = Literal["trivial", "sleep20"]

HANDLER_SLEEP_S = 0.020
"""The slow handler's duration (async sleep on async clients, blocking sleep on sync ones)."""


class ClientSpec(msgspec.Struct, frozen=True):
    """One client run: where to connect, which sessions to serve, when to stop."""

    client: str
    base_url: str
    thread_ids: list[str]
    stream_mode: StreamMode
    handler: HandlerKind
    expected_calls: int
    timeout_s: float


class ClientResult(msgspec.Struct):
    """What a client run reports (the timings come from the server, not from here)."""

    status: Literal["ok", "timeout", "unavailable", "error"]
    answered: int = 0
    reason: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    """CPU time (all threads) the client process spent in the run, imports excluded."""


def ws_url(base_url: str, thread_id: str | None) -> str:
    """The stream URL for ``base_url``, filtered on ``thread_id`` from the first frame."""
    url = base_url.replace("http://", "ws://", 1) + "/api/stream"
    return url if thread_id is None else f"{url}?threadId={thread_id}"


def lookup_ticket(ticket_id: str) -> dict[str, str]:
    """The trivial tool handler."""
    return {"ticketId": ticket_id, "status": "open"}


def lookup_ticket_blocking(ticket_id: str) -> dict[str, str]:
    """The slow tool handler for sync clients: blocks for ``HANDLER_SLEEP_S``."""
    time.sleep(HANDLER_SLEEP_S)
    return {"ticketId": ticket_id, "status": "open"}


async def lookup_ticket_async(ticket_id: str) -> dict[str, str]:
    """The trivial tool handler, as a coroutine."""
    return {"ticketId": ticket_id, "status": "open"}


async def lookup_ticket_sleeping(ticket_id: str) -> dict[str, str]:
    """The slow tool handler for async clients: sleeps ``HANDLER_SLEEP_S`` on the loop."""
    await asyncio.sleep(HANDLER_SLEEP_S)
    return {"ticketId": ticket_id, "status": "open"}
