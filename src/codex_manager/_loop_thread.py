"""One event loop in a daemon thread, where the sync client runs ``async def`` code.

The sync client accepts ``async def`` skills and stream handlers. Each used to run on a fresh
loop (``asyncio.run``) in the thread that called it, so whatever such code keeps between
calls and binds to a loop (a module-level ``httpx.AsyncClient``, an ``asyncio.Lock``, a
database pool) worked on one call and failed on the next with "Event loop is closed", or
"attached to a different loop". Here every such call of the process runs on one loop that
lives as long as the process (a daemon thread, started on first use; a forked child makes its
own). The caller's thread blocks until its coroutine is done, so the bounds on calls and
threads stay what they were; the coroutines share the loop, as they would on the async client,
so one that blocks the loop (``time.sleep`` in an ``async def``) holds up the others.

Code running on that loop that makes a sync call needing it again (an ``async def`` skill
calling the sync client's ``dispatch_app_server_signal`` for another ``async def`` skill, say,
which a worker thread then runs) cannot wait for the loop it blocks: a context variable marks
everything that descends from a coroutine of the loop (work it hands to threads that carry
its context included), and :func:`run_blocking` runs such a coroutine on a private loop in a
thread of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TypeVar

from codex_manager._per_process import PerProcess

T = TypeVar("T")

logger = logging.getLogger("codex_manager")

_from_shared_loop: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "codex_manager_from_shared_loop", default=False
)
"""Set in the context of every coroutine the loop thread runs (and so in what they start)."""


@dataclass(frozen=True, slots=True)
class _Exit:
    """``SystemExit`` or ``KeyboardInterrupt`` a coroutine raised, carried out of its task:
    escaping it, they would stop the loop every later call needs."""

    error: BaseException


async def _guard(coroutine: Coroutine[object, object, T]) -> T | _Exit:
    try:
        return await coroutine
    except (SystemExit, KeyboardInterrupt) as error:
        return _Exit(error)


class LoopThread:
    """An event loop running forever in a daemon thread of its own (started on first use)."""

    def __init__(self, name: str = "codex-manager-async") -> None:
        """Nothing runs until the first :meth:`run`."""
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def owns_current_thread(self) -> bool:
        """Whether the caller runs on this loop's thread (it must not wait for the loop)."""
        return self._thread is threading.current_thread()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                started = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(started.set)
                    while True:  # the loop serves every later call: it must not stop
                        try:
                            loop.run_forever()
                        except BaseException:  # pragma: no cover - guarded in run() below
                            logger.exception("the sync client's event loop stopped; restarted")

                thread = threading.Thread(target=serve, name=self._name, daemon=True)
                thread.start()
                started.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(
        self,
        coroutine: Coroutine[object, object, T],
        context: contextvars.Context,
        timeout: float | None = None,
    ) -> T:
        """Run ``coroutine`` on the loop in ``context`` and wait for its result.

        Raises:
            TimeoutError: it did not finish within ``timeout`` seconds (it is cancelled).
            Whatever the coroutine raises; a ``KeyboardInterrupt`` in the waiting thread
            cancels it and goes on.
        """
        loop = self._running_loop()
        outcome: concurrent.futures.Future[T] = concurrent.futures.Future()
        tasks: list[asyncio.Task[T | _Exit]] = []

        def settle(task: asyncio.Task[T | _Exit]) -> None:
            if task.cancelled():
                outcome.set_exception(asyncio.CancelledError())
            elif (error := task.exception()) is not None:
                outcome.set_exception(error)
            elif isinstance(result := task.result(), _Exit):
                outcome.set_exception(result.error)
            else:
                outcome.set_result(result)

        def start() -> None:
            if not outcome.set_running_or_notify_cancel():
                coroutine.close()  # given up on before it started: never awaited, no warning
                return
            context.run(_from_shared_loop.set, True)  # the caller's copy: marks its descendants
            task = loop.create_task(_guard(coroutine), context=context)
            tasks.append(task)
            task.add_done_callback(settle)

        def cancel() -> None:
            if tasks:
                tasks[0].cancel()

        loop.call_soon_threadsafe(start)
        try:
            return outcome.result(timeout)
        except BaseException:
            if not outcome.cancel():  # started (or done): cancel the task itself
                loop.call_soon_threadsafe(cancel)
            raise


_shared: PerProcess[LoopThread] = PerProcess()


def shared_loop_thread() -> LoopThread:
    """The process's loop thread (a forked child gets one of its own)."""
    return _shared.get(LoopThread)


def run_blocking(coroutine: Coroutine[object, object, T], timeout: float | None = None) -> T:
    """Run ``coroutine`` to its end from synchronous code, on the process's loop thread, with
    the caller's context variables; from code that loop runs (directly or through threads it
    waits for), on a private loop in a thread of its own (it cannot wait for the loop it
    blocks).

    ``timeout`` guards against a loop held up by other code (a coroutine that blocks it); a
    coroutine should keep its own deadline (``asyncio.timeout``), which cancels it cleanly.

    Raises:
        TimeoutError: it did not finish within ``timeout`` seconds on the shared loop (it is
            cancelled).
        Whatever the coroutine raises.
    """
    context = contextvars.copy_context()
    runner = shared_loop_thread()
    if not (_from_shared_loop.get() or runner.owns_current_thread()):
        return runner.run(coroutine, context, timeout)
    result: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run_apart() -> None:
        try:
            result.set_result(context.run(asyncio.run, coroutine))
        except BaseException as exc:  # the waiting side's to raise
            result.set_exception(exc)

    threading.Thread(target=run_apart, name="codex-manager-async-nested", daemon=True).start()
    return result.result()  # a loop of its own: nothing else can hold it up


__all__ = ["LoopThread", "run_blocking", "shared_loop_thread"]
