"""How far async stream readers may run ahead of the handler tasks they start.

A reader that decodes frames faster than the event loop can run their handlers turns the
backlog into live objects: every queued call holds its decoded frame, signal, task and
coroutines. With a few hundred calls waiting that way, CPython's cyclic collector walks them
over and over and moves them into the oldest generation, whose full collections then walk the
whole heap: measured in ``bench/``, a quarter to a third of a busy client's CPU. Frames the
reader has not taken yet cost nothing; they wait in the websocket library's bounded queue and
in the kernel's socket buffer.

So a reader asks :class:`ReadAheadGate` before it starts a handler task: while
:data:`READ_AHEAD_TASKS` tasks created on the loop have not run their first step yet, it waits.
A task's first step runs on the loop's next pass unless the loop is behind, so the gate only
holds readers back while there is a backlog of work the loop has not reached; handlers that
await (a sleep, an HTTP answer) do not count once they started. The gate is shared by every
stream on the loop (a client with a stream per session has one backlog), and it always opens
again: each task's count is released by a callback queued right behind the task's first step,
which runs even when the task is cancelled before it started. With many tasks in progress
(slow handlers: a hundred calls sleeping) each pass of the loop is long and resumes many of
them, so the limit grows with them (:data:`IN_PROGRESS_PER_TASK`) to let readers keep pace.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from typing import Final

READ_AHEAD_TASKS: Final = 8
"""Handler tasks a loop may hold created but not started before readers wait.

Measured in ``bench/`` (50 sessions, 200 calls in flight): 4 and 8 give the same throughput,
16 loses some of it with a stream per session, 32 most of it.
"""

IN_PROGRESS_PER_TASK: Final = 6
"""With many handler tasks in progress the limit grows: one more unstarted task for this many.

Each loop pass then resumes many of them (sleeps ending, answers arriving), and a pass lets a
waiting reader start only about a limit's worth of tasks: 8 per pass kept 20 ms handlers
(a hundred and more in progress) at about 0.75x the throughput of instant ones.
"""

_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ReadAheadGate] = (
    weakref.WeakKeyDictionary()
)


class ReadAheadGate:
    """Counts handler tasks not started yet on one event loop; readers wait on it."""

    # It holds no reference to its loop: the registry keeps a gate while its loop lives, and a
    # gate that held the loop would keep every loop that ever ran a stream.
    def __init__(self, limit: int = READ_AHEAD_TASKS) -> None:
        """A gate that closes at ``limit`` unstarted tasks (used from one event loop)."""
        self._base_limit = limit
        self._limit = limit
        self._unstarted = 0
        self._unfinished = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def unstarted(self) -> int:
        """Tasks counted by :meth:`task_created` whose first step has not run yet."""
        return self._unstarted

    @property
    def unfinished(self) -> int:
        """Tasks counted by :meth:`task_created` that are not done yet (started or not)."""
        return self._unfinished

    @property
    def limit(self) -> int:
        """Unstarted tasks at which the gate closes now (grows with the tasks in progress)."""
        return self._limit

    @property
    def closed(self) -> bool:
        """Whether a reader should wait before starting another task."""
        return self._unstarted >= self._limit

    async def wait_open(self) -> None:
        """Wait until fewer than the limit of tasks are waiting for their first step."""
        while self._unstarted >= self._limit:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # pass on the opening this reader will not use
                raise
            finally:
                if not waiter.done():  # never woken, so still queued
                    waiter.cancel()
                    self._waiters.remove(waiter)

    def task_created(self) -> None:
        """Count a task just created on the loop (call right after ``create_task``)."""
        self._unstarted += 1
        self._unfinished += 1
        self._limit = max(self._base_limit, self._unfinished // IN_PROGRESS_PER_TASK)
        # FIFO: this runs right after the task's first step, or its cancellation.
        asyncio.get_running_loop().call_soon(self._task_started)

    def task_finished(self) -> None:
        """Count a task counted by :meth:`task_created` as done (from its done callback)."""
        self._unfinished -= 1
        self._limit = max(self._base_limit, self._unfinished // IN_PROGRESS_PER_TASK)
        if self._waiters and self._unstarted < self._limit:
            self._wake_one()

    def _task_started(self) -> None:
        self._unstarted -= 1
        if self._waiters and self._unstarted < self._limit:
            self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


def read_ahead_gate(loop: asyncio.AbstractEventLoop) -> ReadAheadGate:
    """The gate shared by every stream running on ``loop``."""
    try:
        gate = _gates.get(loop)
        if gate is None:
            gate = _gates[loop] = ReadAheadGate()
    except TypeError:  # a loop without weak references: each stream counts for itself
        gate = ReadAheadGate()
    return gate


__all__ = ["IN_PROGRESS_PER_TASK", "READ_AHEAD_TASKS", "ReadAheadGate", "read_ahead_gate"]
