"""Work running on an SDK client, so that closing the client lets it finish first.

A stream often runs in a thread or task other than the one that closes its client. Closing
the REST transport under it made the answers of its handlers still running fail with
``ClientClosedError`` (the calls stayed pending on the server). So each stream run registers
with its client (so do the calls a drain left running when it was interrupted), and the
client's ``close()`` first stops every registered run, so that no handler starts any more
(calls read but not started stay pending on the server), then waits until the handlers in
progress are done (at most the stream's ``shutdown_timeout`` + a margin, for all runs at
once), then closes the transport. Whether the run itself has wound up (its reader, an
``events()`` loop that may not be resumed) is not waited for: only its handlers use the
transport.

A close called from one of a run's handlers (or work they started) does not wait for that
run, which would wait for itself: the handlers run marked by a context variable, which tasks,
``asyncio.to_thread``, the async stream's worker threads and the remote-skills pools pass on
to the work they start (a plain ``threading.Thread`` does not). The code iterating
``events()`` is not marked: it may close and wait, for the handlers do not wait for it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Callable
from typing import Final

from codex_manager.errors import ClientClosedError

logger = logging.getLogger("codex_manager.stream")

STOP_MARGIN_SECONDS: Final = 2.0
"""Waited beyond a run's grace: the handlers' last answers on their way out."""

_POLL_SECONDS: Final = 0.01
"""How often a close looks whether the runs it waits for are done."""


class StreamRun:
    """A stream's ``run_forever()`` or ``events()`` iteration (or a drain's leftover calls)."""

    def __init__(
        self,
        *,
        stop: Callable[[], None],
        grace_seconds: float,
        handlers_idle: Callable[[], bool],
    ) -> None:
        """``stop`` ends the run and keeps new handlers from starting; ``handlers_idle``
        tells whether none of its handlers is running; ``grace_seconds`` is how long they
        may take once stopped (the stream's ``shutdown_timeout``)."""
        self.stop = stop
        self.grace_seconds = grace_seconds
        self._handlers_idle = handlers_idle
        self.connections_lost = 0
        """How many of the run's connections were lost so far (the stream counts them): a
        server restart drops them, and request ids start again at 0 with it."""

    @property
    def wait_seconds(self) -> float:
        """Longest a close waits for this run once stopped."""
        return self.grace_seconds + STOP_MARGIN_SECONDS

    def done(self) -> bool:
        """Whether none of the run's handlers is running (the only part that uses the client).

        Not whether the run ended: it gives up on its handlers at ``shutdown_timeout``,
        while a close gives them its margin too; and an ``events()`` loop ends only when
        it is resumed.
        """
        return self._handlers_idle()

    def is_inside(self) -> bool:
        """Whether the caller is part of this run (see the module docstring)."""
        return current_run.get() is self


current_run: contextvars.ContextVar[StreamRun | None] = contextvars.ContextVar(
    "codex_manager_stream_run", default=None
)
"""The run whose handler the current code is (set for each handler call)."""


class ConnectionMark:
    """A stream run and its count of lost connections when a tool call was read, and when."""

    __slots__ = ("_lost", "_run", "item_id", "read_at")

    def __init__(self, run: StreamRun, lost: int | None = None, item: object | None = None) -> None:
        """Mark ``run`` at ``lost`` lost connections (default: its count now), ``item`` (the
        event read, if any) read now."""
        self._run = run
        self._lost = run.connections_lost if lost is None else lost
        # Its id, not the event: a mark lives on in the context every timer and callback of
        # the handler copies (a deadline's timer stays in the loop's heap when cancelled),
        # and holding the event there kept each call's payload alive for the collector to
        # walk (measured: 16 us more CPU per call). The event itself is alive, so its id
        # unique, for as long as its handler runs.
        self.item_id = 0 if item is None else id(item)
        """``id()`` of the event the stream read (what its handler handles)."""
        self.read_at = time.monotonic()
        """When that event was read (:func:`time.monotonic`): a call's deadline counts from
        then."""

    def marks(self, item: object) -> bool:
        """Whether ``item`` is the event this mark was taken for."""
        return self.item_id != 0 and self.item_id == id(item)

    @classmethod
    def now(cls) -> ConnectionMark | None:
        """The mark of the call being handled: the one its stream took when it read the call,
        else the caller's run now (``None`` outside any run)."""
        read = read_mark.get()
        if read is not None:
            return read
        run = current_run.get()
        return None if run is None else cls(run)

    def lost_since(self) -> bool:
        """Whether the run lost a connection since the mark (the server may have restarted)."""
        return self._run.connections_lost != self._lost


read_mark: contextvars.ContextVar[ConnectionMark | None] = contextvars.ContextVar(
    "codex_manager_read_mark", default=None
)
"""The mark a stream took when it read the call its handler (the current code) handles."""


class StreamRuns:
    """The runs of one client; closed (no new run) once the client closes."""

    def __init__(self) -> None:
        """No run yet."""
        # Reentrant: a signal handler (or a finalizer) that closes the client may interrupt
        # this very thread while it holds the lock.
        self._lock = threading.RLock()
        self._runs: set[StreamRun] = set()
        self._closing = False

    @property
    def closing(self) -> bool:
        """Whether the client's close began (no run may start any more)."""
        return self._closing

    def enter(self, run: StreamRun) -> None:
        """A run starts.

        Raises:
            ClientClosedError: the client is closing (or closed): its answers could not go out.
        """
        with self._lock:
            if self._closing:
                raise ClientClosedError("the client is closed: make a new one to follow the stream")
            self._runs.add(run)

    def leave(self, run: StreamRun) -> None:
        """The run ended (whatever the reason); leaving twice is harmless."""
        with self._lock:
            self._runs.discard(run)

    def _stop_all(self) -> list[StreamRun]:
        """Refuse new runs, stop the running ones; the ones the caller may wait for."""
        with self._lock:
            self._closing = True
            runs = list(self._runs)
        for run in runs:
            run.stop()
        return [run for run in runs if not run.is_inside()]

    def stop_and_wait(self) -> None:
        """Stop every run and wait for its handlers (blocking); the sync client's ``close()``."""
        waiting = _Waiting(self._stop_all())
        while waiting.goes_on():
            time.sleep(_POLL_SECONDS)

    async def stop_and_wait_async(self) -> None:
        """Stop every run and wait for its handlers; the async client's ``aclose()``.

        Polled, not awaited on an event: a run may belong to another loop (thread).
        """
        waiting = _Waiting(self._stop_all())
        while waiting.goes_on():  # noqa: ASYNC110 - runs of other loops set no event of ours
            await asyncio.sleep(_POLL_SECONDS)


class _Waiting:
    """Runs being waited for, side by side: each until its handlers are done or its own
    deadline (counted from the stop, for all at once) has passed."""

    def __init__(self, runs: list[StreamRun]) -> None:
        started = time.monotonic()
        self._runs = {run: started + run.wait_seconds for run in runs}

    def goes_on(self) -> bool:
        """Drop the runs done or out of time; whether any is left to wait for."""
        now = time.monotonic()
        for run, deadline in list(self._runs.items()):
            if run.done():
                del self._runs[run]
            elif now >= deadline:
                del self._runs[run]
                logger.warning(
                    "closing the client: handlers still running %.1f s after their stream "
                    "was stopped; closing anyway (their answers will fail)",
                    run.wait_seconds,
                )
        return bool(self._runs)


def runs_of(client: object) -> StreamRuns | None:
    """The runs registry of an SDK client (``None`` for other clients, e.g. test doubles)."""
    runs = getattr(client, "_stream_runs", None)
    return runs if isinstance(runs, StreamRuns) else None


__all__ = [
    "STOP_MARGIN_SECONDS",
    "ConnectionMark",
    "StreamRun",
    "StreamRuns",
    "current_run",
    "read_mark",
    "runs_of",
]
