"""Running handlers off the reader thread: bounded, with backpressure and optional order.

An *ordered* call goes to a *lane*, one (handler registration, thread id) pair: calls in
a lane run one after the other, in the order the frames arrived, and different lanes run
concurrently. An *unordered* call (the default for server requests such as tool calls,
each independent with its own id) runs as soon as a worker is free. Either way at most
the concurrency bound run at once, a slow handler never holds up the reader, and when
``max_pending`` calls are queued or running the reader waits (backpressure) instead of
buffering without end.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import TypeAlias, cast

from codex_manager._daemon_pool import DaemonThreadPool
from codex_manager._stream_runs import ConnectionMark, StreamRun, current_run, read_mark
from codex_manager.stream.context import HandlerContext, StreamClient
from codex_manager.stream.handler_threads import HandlerThreads, shared_handler_threads
from codex_manager.stream.read_ahead import ReadAheadGate, read_ahead_gate
from codex_manager.stream.router import HandlerEntry

logger = logging.getLogger("codex_manager.stream")

_worker = threading.local()


def _mark_handler_worker() -> None:
    _worker.handler_thread = True


def in_handler_worker() -> bool:
    """Whether the current thread is a worker of a sync stream's handler pool.

    Code called from a handler there (e.g. ``respond_to_signal``) is already off the reader
    thread, so it may run blocking work in place instead of handing it to another pool.
    """
    return bool(getattr(_worker, "handler_thread", False))


Job: TypeAlias = tuple[HandlerEntry, object, HandlerContext[StreamClient], ConnectionMark | None]
"""A handler, what it handles, its context, and the run's lost connections when it was read."""


def _read_now(run: StreamRun | None, item: object) -> ConnectionMark | None:
    """The mark of ``item``, read now: what its handler's answers compare with (see
    ``remote_skills``' ownership check), and when a call it is began its deadline."""
    return None if run is None else ConnectionMark(run, item=item)


LaneKey: TypeAlias = tuple[int, str | None]
FailureReporter: TypeAlias = Callable[[HandlerEntry, BaseException, object], None]
"""Called (in the handler's worker) when a handler raised."""


async def _await(awaitable: Awaitable[object]) -> object:
    return await awaitable


def call_sync(entry: HandlerEntry, item: object, context: HandlerContext[StreamClient]) -> None:
    """Call a handler in the current thread; an async one runs on a private event loop."""
    result = entry.handler(item, context)
    if inspect.isawaitable(result):
        coroutine = (
            cast(Coroutine[object, object, object], result)
            if inspect.iscoroutine(result)
            else _await(result)
        )
        asyncio.run(coroutine)


class ThreadDispatcher:
    """Runs sync-stream handlers in worker threads (see the module docstring).

    The threads are the process's shared ones (:mod:`codex_manager.stream.handler_threads`);
    the bound is this stream's own: at most ``max_workers`` of its jobs (a call, or a lane
    being drained) hold a thread at once, the rest wait here, and a worker that finishes one
    of them goes on with the next.
    """

    def __init__(
        self,
        *,
        max_workers: int,
        max_pending: int,
        report: FailureReporter,
        name: str,
        threads: HandlerThreads | None = None,
    ) -> None:
        """Reserve ``max_workers`` threads; ``report`` receives handler failures.

        ``threads``: the workers to use (default: the process's shared ones). ``name``
        labels this stream's log lines (the shared workers have names of their own).
        """
        self._name = name
        self._threads = threads or shared_handler_threads(_mark_handler_worker)
        self._threads.reserve(max_workers)
        self._bound = max_workers
        self._capacity = threading.Semaphore(max_pending)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._lanes: dict[LaneKey, deque[Job]] = {}
        # Jobs holding a thread now, and those waiting for this stream's bound.
        self._active = 0
        self._over_bound: deque[Callable[[], None]] = deque()
        self._outstanding = 0
        # One entry per handler running now: list appends and pops are atomic.
        self._started: list[None] = []
        self._waiting = False
        self._released = False
        self._intake_open = True
        self._on_idle: list[Callable[[], None]] = []
        self._report = report
        self.stream_run: StreamRun | None = None
        """The run whose handlers these are: marked as such while they run (see
        :mod:`codex_manager._stream_runs`)."""

    @property
    def waiting_for_slot(self) -> bool:
        """Whether a submit is waiting for a free slot (backpressure in effect)."""
        return self._waiting

    def submit(
        self,
        entry: HandlerEntry,
        item: object,
        context: HandlerContext[StreamClient],
        thread_id: str | None,
        abort: threading.Event | None = None,
        *,
        ordered: bool = True,
        slot_taken: bool = False,
    ) -> bool:
        """Queue one call; blocks while ``max_pending`` calls are outstanding.

        ``ordered`` calls run in their (handler, thread) lane; others run as soon as a
        worker is free. ``slot_taken``: the caller got the call's slot from
        :meth:`take_slots`. Returns ``False`` (call dropped) when ``abort`` is set while
        waiting, or after :meth:`close_intake`.
        """
        mark = _read_now(self.stream_run, item)  # before any wait: the call was read now
        capacity = self._capacity
        if not slot_taken and not capacity.acquire(blocking=False):
            self._waiting = True
            try:
                while not capacity.acquire(timeout=0.1):
                    if abort is not None and abort.is_set():
                        return False
            finally:
                self._waiting = False
        job: Job = (entry, item, context, mark)
        work: Callable[[], None]
        with self._lock:
            if not self._intake_open:
                capacity.release()
                return False  # the client is closing: no handler starts any more
            self._outstanding += 1
            if ordered:
                key: LaneKey = (id(entry), thread_id)
                lane = self._lanes.get(key)
                if lane is not None:
                    lane.append(job)
                    return True
                self._lanes[key] = deque((job,))
                work = partial(self._drain, key)
            else:
                work = partial(self._run, job)
            if self._active >= self._bound:
                self._over_bound.append(work)
                return True
            self._active += 1
        self._threads.run(partial(self._work, work))
        return True

    def take_slots(self, count: int) -> bool:
        """Take ``count`` pending slots if free now (all or none); never waits."""
        capacity = self._capacity
        for taken in range(count):
            if not capacity.acquire(blocking=False):
                for _ in range(taken):
                    capacity.release()
                return False
        return True

    def _work(self, work: Callable[[], None]) -> None:
        """One thread's turn for this stream: ``work``, then any job waiting for the bound."""
        while True:
            work()
            with self._lock:
                if not self._over_bound:
                    self._active -= 1
                    return
                work = self._over_bound.popleft()

    def _drain(self, key: LaneKey) -> None:
        while True:
            with self._lock:
                lane = self._lanes[key]
                if not lane:
                    # Only now is the lane gone: submits meanwhile appended to it.
                    del self._lanes[key]
                    return
                job = lane.popleft()
            self._run(job)

    @property
    def handlers_running(self) -> bool:
        """Whether a handler is running now (queued calls not counted)."""
        return bool(self._started)

    def close_intake(self) -> None:
        """Start no handler any more (the client closes): calls submitted later, and those
        queued and not started yet, are dropped; they stay pending on the server."""
        with self._lock:
            self._intake_open = False

    def _run(self, job: Job) -> None:
        entry, item, context, mark = job
        # Counted before the intake is looked at, without the lock (the hub holds it often;
        # waiting for it costs a GIL hand-off): a close() that shut the intake after this
        # look sees the count; one that shut it before, this call does not start.
        started = self._started
        started.append(None)
        start = self._intake_open
        if not start:
            started.pop()
        marked = current_run.set(self.stream_run)
        read_at = read_mark.set(mark)
        try:
            if start:
                call_sync(entry, item, context)
        except BaseException as error:  # SystemExit in a worker too: reported, lanes go on
            try:
                self._report(entry, error, item)
            except BaseException:  # an error handler that raised (even SystemExit) as well
                logger.exception("reporting a failure of handler %s raised", entry.name)
        finally:
            read_mark.reset(read_at)
            current_run.reset(marked)
            if start:
                started.pop()
            self._capacity.release()
            with self._lock:
                self._outstanding -= 1
                idle = not self._outstanding
                if idle:
                    self._idle.notify_all()
                    then, self._on_idle = self._on_idle, []
            if idle:
                for callback in then:
                    callback()

    def when_idle(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once no call is queued or running: now, or when the last ends."""
        with self._lock:
            if self._outstanding:
                self._on_idle.append(callback)
                return
        callback()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued call finished; ``False`` on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._outstanding, timeout)

    def shutdown(self, timeout: float) -> None:
        """Let queued calls finish (up to ``timeout`` seconds), then give the threads back.

        Calls still running after ``timeout`` finish in their threads; the rest of this
        stream's queue runs after them.
        """
        try:
            if not self.wait_idle(timeout):
                logger.warning(
                    "%s: handlers still running after %.1f s; not waiting", self._name, timeout
                )
        finally:  # also when a second Ctrl-C cuts the wait short
            with self._lock:
                release, self._released = not self._released, True
            if release:
                self._threads.release(self._bound)


class TaskDispatcher:
    """Runs async-stream handlers as tasks; sync handlers go to a thread pool.

    Must be used from one event loop (the stream's).
    """

    def __init__(
        self,
        *,
        max_concurrency: int,
        max_pending: int,
        report: FailureReporter,
        name: str,
        max_threads: int | None = None,
    ) -> None:
        """Create the bounds; ``report`` receives handler failures.

        ``max_threads`` (default: ``max_concurrency``) bounds the threads of plain handlers.
        """
        self._running = asyncio.Semaphore(max_concurrency)
        # Free pending slots as a plain counter: the common case (a slot is free) costs a
        # comparison, and a waiting submit can be released by abort().
        self._free_slots = max_pending
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._aborted = False
        self._intake_open = True
        self._started = 0  # handlers running now (their tasks past the concurrency bound)
        self.stream_run: StreamRun | None = None
        """The run whose handlers these are: their tasks are marked as part of it."""
        self._lanes: dict[LaneKey, deque[Job]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Daemon workers: a plain handler that never returns must not keep the process alive.
        self._executor = DaemonThreadPool(
            max_concurrency if max_threads is None else max_threads, name
        )
        self._report = report
        self._gate: ReadAheadGate | None = None

    async def submit(
        self,
        entry: HandlerEntry,
        item: object,
        context: HandlerContext[StreamClient],
        thread_id: str | None,
        *,
        ordered: bool = True,
    ) -> bool:
        """Queue one call; waits while ``max_pending`` calls are outstanding.

        ``ordered`` calls run in their (handler, thread) lane; others start at once and
        wait only for the concurrency bound. Before it starts a task, the call also waits
        while the loop has a backlog of tasks not started yet (see
        :mod:`codex_manager.stream.read_ahead`). Returns ``False`` (call dropped) when it
        had to wait for a slot and :meth:`abort` was called before or while waiting, or
        after :meth:`close_intake`.
        """
        mark = _read_now(self.stream_run, item)  # before any wait: the call was read now
        key: LaneKey = (id(entry), thread_id)
        gate = self._gate
        if gate is None:
            gate = self._gate = read_ahead_gate(asyncio.get_running_loop())
        while True:  # every wait may change what the others found: check them all again
            if not self._intake_open:
                return False  # the client is closing: no handler starts any more
            if self._free_slots <= 0 and not await self._wait_for_slot():
                return False
            if (ordered and key in self._lanes) or not gate.closed:
                break  # joining a running lane starts no task
            await gate.wait_open()
        self._free_slots -= 1
        job: Job = (entry, item, context, mark)
        if not ordered:
            self._start(self._run(*job), gate)
            return True
        lane = self._lanes.get(key)
        if lane is not None:
            lane.append(job)
            return True
        self._lanes[key] = deque((job,))
        self._start(self._drain(key), gate)
        return True

    def _start(self, work: Coroutine[object, object, None], gate: ReadAheadGate) -> None:
        # The task runs in a copy of the reader's context (as any task would), marked as part
        # of the stream run: a close it (or work it starts) calls does not wait for itself.
        context = contextvars.copy_context()
        context.run(current_run.set, self.stream_run)
        task = asyncio.create_task(work, context=context)
        gate.task_created()
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        gate = self._gate
        if gate is not None:
            gate.task_finished()

    @property
    def waiting_for_slot(self) -> bool:
        """Whether a submit is waiting for a free slot (backpressure in effect)."""
        return bool(self._slot_waiters)

    @property
    def handlers_running(self) -> bool:
        """Whether a handler is running now (read from any thread; queued calls not counted)."""
        return bool(self._started)

    def close_intake(self) -> None:
        """Start no handler any more (the client closes): calls submitted later, and those
        queued and not started yet, are dropped; they stay pending on the server.

        Callable from any thread (a flag the loop reads before each handler starts).
        """
        self._intake_open = False

    def abort(self) -> None:
        """Make waiting and later submits that find no free slot return ``False`` at once.

        For stopping: a reader held back by stuck handlers must not wait for them.
        """
        self._aborted = True
        for waiter in self._slot_waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _wait_for_slot(self) -> bool:
        loop = asyncio.get_running_loop()
        while self._free_slots <= 0:
            if self._aborted:
                return False
            waiter: asyncio.Future[None] = loop.create_future()
            self._slot_waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if self._free_slots > 0:
                    self._wake_slot_waiter()  # pass on a wake-up this task will not use
                raise
            finally:
                with contextlib.suppress(ValueError):
                    self._slot_waiters.remove(waiter)
        return True

    def _wake_slot_waiter(self) -> None:
        for waiter in self._slot_waiters:
            if not waiter.done():
                waiter.set_result(None)
                return

    def _release_slot(self) -> None:
        self._free_slots += 1
        if self._slot_waiters:
            self._wake_slot_waiter()

    async def _drain(self, key: LaneKey) -> None:
        lane = self._lanes[key]
        try:
            while lane:
                await self._run(*lane.popleft())
        finally:
            del self._lanes[key]

    async def _run(
        self,
        entry: HandlerEntry,
        item: object,
        context: HandlerContext[StreamClient],
        mark: ConnectionMark | None,
    ) -> None:
        started = False
        read_at = read_mark.set(mark)
        try:
            async with self._running:
                if not self._intake_open:
                    return  # the client is closing: left pending on the server
                started = True
                self._started += 1
                await self.call(entry, item, context)
        except BaseException as error:
            if isinstance(error, asyncio.CancelledError):
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # this task is cancelled (shutdown): not the handler's failure
            elif isinstance(error, KeyboardInterrupt | SystemExit) and entry.is_async:
                raise  # in the loop itself: the program's to handle, as for any task
            # Otherwise the handler failed: a CancelledError of its own (a task it awaited
            # was cancelled), sys.exit() in a plain handler's worker thread, any other
            # BaseException (a test's pytest.fail). Its lane and its slot go on either way.
            try:
                self._report(entry, error, item)
            except Exception:  # the reporter (say, an exception's __str__) failed as well
                logger.exception("reporting a failure of handler %s raised", entry.name)
        finally:
            read_mark.reset(read_at)
            self._started -= started
            self._release_slot()

    async def call(
        self, entry: HandlerEntry, item: object, context: HandlerContext[StreamClient]
    ) -> None:
        """Run one handler now: async ones on the loop, sync ones in the pool."""
        if entry.is_async:
            result = entry.handler(item, context)
        else:
            # In a copy of this task's context, as asyncio.to_thread runs a function: the
            # handler sees the context variables its task does (the stream run's, say).
            call = partial(contextvars.copy_context().run, entry.handler, item, context)
            result = await asyncio.get_running_loop().run_in_executor(self._executor, call)
        if inspect.isawaitable(result):
            await result

    async def shutdown(self, grace_seconds: float) -> None:
        """Let queued calls finish (up to ``timeout`` seconds), cancel the rest; then
        :meth:`abandon` releases the worker threads."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
            if pending:
                logger.warning(
                    "cancelling %d stream handler task(s) after %.1f s", len(pending), grace_seconds
                )
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        # The executor stays: on_error handlers of failures met while stopping still run in
        # it; :meth:`abandon`, called last, lets its threads go.

    def abandon(self) -> None:
        """Cancel whatever still runs and let the worker threads go, without waiting.

        Called last when stopping; after a whole :meth:`shutdown` no task is left to cancel.
        """
        for task in self._tasks:
            task.cancel()
        self._executor.shutdown(wait=False)


__all__ = [
    "FailureReporter",
    "TaskDispatcher",
    "ThreadDispatcher",
    "call_sync",
    "in_handler_worker",
]
