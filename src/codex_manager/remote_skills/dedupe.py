"""Exactly-once bookkeeping for tool calls.

A call is identified by ``(thread id, call id)``; when Codex gives no call id, by
``(thread id, request id, turn id)``. Request ids alone are not unique over time: codex restarts
them at 0 whenever the server restarts (``server-contract.md`` 11.1), so keying on them would
drop new calls as duplicates.

Each key moves through: *running* (handler or submission under way; never forgotten) ->
*delivered* (the server took the answer, or said it was already answered), or *unsent* (the
handler ran but the answer did not get through; a later attempt resubmits the stored answer
instead of running the handler again). Finished entries are kept in a bounded LRU.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

__all__ = ["CallKey", "CallTracker", "Claim", "call_key"]

AnswerT = TypeVar("AnswerT")

CallKey = tuple[str, ...]
"""Identity of one tool call (see :func:`call_key`)."""

DEFAULT_MEMORY = 4096
"""Finished calls remembered per session before the oldest are forgotten."""


def call_key(
    thread_id: str, call_id: str | None, request_id: str | None, turn_id: str | None
) -> CallKey:
    """The identity of a call: ``(thread, callId)``, else ``(thread, requestId, turnId)``."""
    if call_id:
        return ("call", thread_id, call_id)
    return ("request", thread_id, request_id or "", turn_id or "")


@dataclass(frozen=True, slots=True)
class Claim(Generic[AnswerT]):
    """The result of trying to take a call."""

    action: Literal["run", "resubmit", "busy", "done"]
    """``run``: run the handler; ``resubmit``: send ``answer`` again without running it;
    ``busy``: another path is handling it now; ``done``: already answered."""
    answer: AnswerT | None = None
    """The stored answer, for ``resubmit``."""


class CallTracker(Generic[AnswerT]):
    """Thread-safe claim/complete tracker with bounded memory of finished calls."""

    def __init__(self, memory: int = DEFAULT_MEMORY) -> None:
        if memory < 1:
            raise ValueError("memory must be at least 1")
        self._memory = memory
        self._lock = threading.Lock()
        self._running: set[CallKey] = set()
        self._finished: OrderedDict[CallKey, tuple[bool, AnswerT | None]] = OrderedDict()

    def claim(self, key: CallKey) -> Claim[AnswerT]:
        """Try to take ``key``; on ``run`` or ``resubmit`` the caller must call a finisher."""
        with self._lock:
            if key in self._running:
                return Claim("busy")
            finished = self._finished.get(key)
            if finished is not None:
                delivered, answer = finished
                if delivered:
                    self._finished.move_to_end(key)
                    return Claim("done")
                del self._finished[key]
                self._running.add(key)
                return Claim("resubmit", answer)
            self._running.add(key)
            return Claim("run")

    def delivered(self, key: CallKey) -> None:
        """The answer reached the server (or the server already had one)."""
        self._finish(key, (True, None))

    def unsent(self, key: CallKey, answer: AnswerT) -> None:
        """The handler ran but the answer was not delivered; keep it for a resubmission."""
        self._finish(key, (False, answer))

    def release(self, key: CallKey) -> None:
        """Give the call up without an answer (the handler never ran): it may be claimed again."""
        with self._lock:
            self._running.discard(key)

    def _finish(self, key: CallKey, state: tuple[bool, AnswerT | None]) -> None:
        with self._lock:
            self._running.discard(key)
            self._finished[key] = state
            self._finished.move_to_end(key)
            while len(self._finished) > self._memory:
                self._finished.popitem(last=False)

    @property
    def running(self) -> int:
        """Calls in progress now."""
        with self._lock:
            return len(self._running)

    def __len__(self) -> int:
        with self._lock:
            return len(self._running) + len(self._finished)
