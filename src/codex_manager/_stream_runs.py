"""The streams running on an SDK client, so that closing the client stops them and waits.

A stream often runs in a thread or task other than the one that closes its client. Closing
the REST transport under it made the answers of its handlers still running fail with
``ClientClosedError`` (the calls stayed pending on the server). So each run registers with its
client, and the client's ``close()`` first stops every registered run and waits for it to wind
up (its handlers get the stream's ``shutdown_timeout``, as on any stop), then closes the
transport. A close called from inside a run (one of its handlers, or the thread iterating its
``events()``) only stops it: waiting there would wait for itself.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Final

from codex_manager.errors import ClientClosedError

logger = logging.getLogger("codex_manager.stream")

STOP_MARGIN_SECONDS: Final = 2.0
"""Waited beyond a run's ``shutdown_timeout``: noticing the stop, closing the connection."""


class StreamRun:
    """One ``run_forever()`` or ``events()`` iteration of a stream, as its client sees it."""

    def __init__(
        self,
        *,
        stop: Callable[[], None],
        grace_seconds: float,
        is_inside: Callable[[], bool],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        """``stop`` asks the run to end; ``is_inside``: whether the caller is part of the run.

        ``grace_seconds``: how long the run may take to end once stopped (its handlers'
        ``shutdown_timeout``). ``loop``: the event loop of an async run.
        """
        self.stop = stop
        self.grace_seconds = grace_seconds
        self.is_inside = is_inside
        self.loop = loop
        self.ended = threading.Event()
        # Set with ``ended`` for a close awaiting on the run's own loop (made there).
        self.ended_on_loop = asyncio.Event() if loop is not None else None

    @property
    def wait_seconds(self) -> float:
        """Longest a close waits for this run once stopped."""
        return self.grace_seconds + STOP_MARGIN_SECONDS


class StreamRuns:
    """The runs of one client's streams; closed (no new run) once the client closes."""

    def __init__(self) -> None:
        """No run yet."""
        self._lock = threading.Lock()
        self._runs: set[StreamRun] = set()
        self._closing = False

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
        """The run ended (whatever the reason)."""
        with self._lock:
            self._runs.discard(run)
        run.ended.set()
        if run.ended_on_loop is not None:
            run.ended_on_loop.set()  # leave() of an async run is called on its loop

    def _stop_all(self) -> list[StreamRun]:
        """Refuse new runs, stop the running ones; the ones the caller may wait for."""
        with self._lock:
            self._closing = True
            runs = list(self._runs)
        for run in runs:
            run.stop()
        return [run for run in runs if not run.is_inside()]

    def stop_and_wait(self) -> None:
        """Stop every run and wait for each (blocking); for the sync client's ``close()``."""
        for run in self._stop_all():
            if not run.ended.wait(run.wait_seconds):
                _not_ended(run)

    async def stop_and_wait_async(self) -> None:
        """Stop every run and wait for each; for the async client's ``aclose()``."""
        for run in self._stop_all():
            if run.ended.is_set():
                continue
            if run.ended_on_loop is not None and run.loop is asyncio.get_running_loop():
                ended = await _ended_on_this_loop(run.ended_on_loop, run.wait_seconds)
            else:  # a run on another loop (thread): wait without blocking this one
                ended = await asyncio.to_thread(run.ended.wait, run.wait_seconds)
            if not ended:
                _not_ended(run)


async def _ended_on_this_loop(ended: asyncio.Event, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            await ended.wait()
    except TimeoutError:
        return False
    return True


def _not_ended(run: StreamRun) -> None:
    logger.warning(
        "closing the client: a stream had not ended %.1f s after it was stopped; closing anyway",
        run.wait_seconds,
    )


def runs_of(client: object) -> StreamRuns | None:
    """The runs registry of an SDK client (``None`` for other clients, e.g. test doubles)."""
    runs = getattr(client, "_stream_runs", None)
    return runs if isinstance(runs, StreamRuns) else None


__all__ = ["STOP_MARGIN_SECONDS", "StreamRun", "StreamRuns", "runs_of"]
