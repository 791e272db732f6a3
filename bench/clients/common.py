"""What every benchmarked client receives and reports, and the handlers they all run."""

from __future__ import annotations

import asyncio
import threading
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
    warmup_calls: int = 0
    """Answers (all sessions together) that belong to the untimed warm-up phase."""


class ClientResult(msgspec.Struct):
    """What a client run reports (the timings come from the server, not from here)."""

    status: Literal["ok", "timeout", "unavailable", "error"]
    answered: int = 0
    reason: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    """CPU time (all threads) the client process spent in the timed phase."""
    cpu_mark: float | None = None
    """``time.process_time()`` when the warm-up ended (``None``: count from the start)."""


class AnswerTally:
    """Counts accepted answers (thread-safe) and marks the CPU clock when warm-up ends."""

    def __init__(self, spec: ClientSpec) -> None:
        """Count towards ``spec.expected_calls``; warm-up is ``spec.warmup_calls`` answers."""
        self._lock = threading.Lock()
        self._expected = spec.expected_calls
        self._warmup = spec.warmup_calls
        self.answered = 0
        self.cpu_mark: float | None = None
        self.failures: list[str] = []

    def accepted(self) -> bool:
        """Record one accepted answer; True once every expected call is answered."""
        with self._lock:
            self.answered += 1
            if self.answered == self._warmup:
                self.cpu_mark = time.process_time()
            return self.answered >= self._expected

    def failed(self, what: str) -> None:
        """Record an answer the server did not accept."""
        with self._lock:
            self.failures.append(what)

    def result(self, status: Literal["ok", "timeout"], started: float) -> ClientResult:
        """The client's result so far (``started``: its ``time.perf_counter()`` start)."""
        return ClientResult(
            status=status,
            answered=self.answered,
            reason="; ".join(self.failures[:3]),
            wall_s=time.perf_counter() - started,
            cpu_mark=self.cpu_mark,
        )


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
