"""A single daemon thread that fires callbacks at deadlines (handler timeouts kept off-thread).

Scheduling and cancelling cost a lock and a heap push: no thread per call, and no wake-up of
the watchdog's thread unless a deadline comes before the moment it sleeps until. Cancelled
entries stay in the heap until their deadline or until they outnumber the live ones (then the
heap is rebuilt), so a long default timeout does not make the heap grow without bound; they let
go of their callbacks at once, so what a callback holds (a call and its arguments) is freed
with the call. A forked child gets a watchdog (and thread) of its own.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections.abc import Callable

from codex_manager._per_process import PerProcess

__all__ = ["Watchdog", "WatchdogTimer", "shared_watchdog"]

_COMPACT_AT = 256
"""Cancelled entries tolerated before a rebuild is considered."""


def _nothing() -> None:
    """What a cancelled timer holds instead of its callback."""


class WatchdogTimer:
    """One scheduled callback; :meth:`Watchdog.cancel` it when it is no longer needed."""

    __slots__ = ("active", "callback")

    def __init__(self, callback: Callable[[], None]) -> None:
        """Internal: made by :meth:`Watchdog.schedule`."""
        self.callback = callback
        self.active = True


class Watchdog:
    """Fires callbacks at their deadlines on one daemon thread (started on first use)."""

    def __init__(self, name: str = "remote-skill-watchdog") -> None:
        """Create an idle watchdog; the thread starts with the first :meth:`schedule`."""
        self._name = name
        self._wakeup = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, WatchdogTimer]] = []
        self._order = itertools.count()
        self._cancelled = 0
        self._thread: threading.Thread | None = None
        # When the thread looks at the heap next: the deadline it sleeps until (infinite when
        # it sleeps until woken), or minus infinity while it is awake (it looks before sleeping).
        self._looks_at = -math.inf

    def schedule(self, delay: float, callback: Callable[[], None]) -> WatchdogTimer:
        """Call ``callback`` (on the watchdog thread; keep it short) in ``delay`` seconds.

        Raises ``ValueError`` for a NaN delay (it would sit first in the heap and hold back
        every later deadline) and ``RuntimeError`` when the thread cannot be started.
        """
        if math.isnan(delay):
            raise ValueError("a watchdog delay cannot be NaN")
        timer = WatchdogTimer(callback)
        deadline = time.monotonic() + delay
        with self._wakeup:
            if self._thread is None:
                thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                thread.start()  # if it fails, the next schedule tries again
                self._thread = thread
            heapq.heappush(self._heap, (deadline, next(self._order), timer))
            # Only a deadline before the thread's next look must wake it. Comparing with the
            # heap's earliest entry instead woke it for a third of the calls of a busy stream:
            # woken, it dropped the cancelled entries, found the heap empty, slept until woken,
            # and the next call's timer woke it again.
            if deadline < self._looks_at:
                self._wakeup.notify()
                self._looks_at = -math.inf  # woken: it looks at the heap before sleeping again
        return timer

    def cancel(self, timer: WatchdogTimer) -> bool:
        """Stop ``timer`` from firing; ``False`` when it already fired (or was cancelled)."""
        with self._wakeup:
            if not timer.active:
                return False
            timer.active = False
            timer.callback = _nothing
            self._cancelled += 1
            if self._cancelled > _COMPACT_AT and self._cancelled * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if entry[2].active]
                heapq.heapify(self._heap)
                self._cancelled = 0
            return True

    def _due(self) -> WatchdogTimer:
        """Wait for the next live timer to come due and take it (called with the lock held)."""
        while True:
            heap = self._heap
            dropped = math.inf
            while heap and not heap[0][2].active:
                dropped = heapq.heappop(heap)[0]
                self._cancelled -= 1
            # With nothing live left, sleep until the last cancelled deadline all the same:
            # timers scheduled meanwhile (with a common timeout, all later) then wake nobody.
            looks_at = heap[0][0] if heap else dropped
            wait = looks_at - time.monotonic()
            if wait <= 0 and heap:
                timer = heapq.heappop(heap)[2]
                timer.active = False
                return timer
            self._looks_at = looks_at
            try:
                if looks_at == math.inf:
                    self._wakeup.wait()
                else:
                    self._wakeup.wait(min(max(wait, 0.0), threading.TIMEOUT_MAX))
            finally:
                self._looks_at = -math.inf

    def _loop(self) -> None:
        while True:
            with self._wakeup:
                timer = self._due()
            try:
                timer.callback()
            except BaseException:  # even SystemExit: the thread keeps every later deadline
                import logging

                logging.getLogger("codex_manager.remote_skills").exception("watchdog callback")


_shared: PerProcess[Watchdog] = PerProcess()


def shared_watchdog() -> Watchdog:
    """The process-wide watchdog (one thread for every registry; a forked child's own)."""
    return _shared.get(Watchdog)
