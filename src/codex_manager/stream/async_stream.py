"""The asyncio event stream: a websocket read on the loop, and handler tasks.

The connection is aiohttp's or ``websockets.asyncio``'s (see
:mod:`codex_manager.stream.async_socket`).

Async handlers run as tasks, sync handlers in a thread pool (never on the event loop);
both under the bounds and lane ordering of :mod:`codex_manager.stream.dispatch`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from functools import partial
from typing import cast

from websockets.exceptions import ConnectionClosed, WebSocketException

from codex_manager._stream_runs import StreamRun, runs_of
from codex_manager.retry import Backoff
from codex_manager.stream.async_socket import (
    AsyncWebSocket,
    open_async_websocket,
    resolve_websocket_client,
)
from codex_manager.stream.connection import connection_problem
from codex_manager.stream.context import (
    ClientT,
    HandlerContext,
    StreamClient,
    StreamOptions,
    check_client_open,
    check_thread_id,
    report_stop_before_run,
)
from codex_manager.stream.dispatch import TaskDispatcher
from codex_manager.stream.errors import (
    DeadConnectionError,
    HandlerError,
    StreamConnectionError,
    StreamError,
    StreamFrameError,
    StreamRefusedError,
    StreamServerError,
)
from codex_manager.stream.frames import Connected, HandledItem, Reconnected, StreamEvent
from codex_manager.stream.router import (
    HandlerEntry,
    HandlerRegistry,
    is_server_request,
    of_another_thread,
)
from codex_manager.stream.wire import PING_TEXT, subscribe_text

logger = logging.getLogger("codex_manager.stream")


class _Liveness:
    """What tells a live connection from a dead one, and why one was cut on purpose."""

    __slots__ = ("frames", "pong", "reading", "reason", "unready")

    def __init__(self) -> None:
        self.pong = asyncio.Event()
        self.reason: str | None = None
        self.unready = False
        """Cut for want of a ``ready`` frame (a failed attempt), not a missing pong."""
        self.frames = 0
        """Frames received so far: any frame shows the connection alive."""
        self.reading = False
        """Whether the reader waits for the next frame now; else handlers (backpressure) or
        the ``events()`` consumer hold it, and a pong may wait unread in the socket."""


class AsyncEventStream(HandlerRegistry[ClientT]):
    """Real-time events of a codex-manager server for an asyncio client.

    The same decorators as :class:`EventStream`; ``await run_forever()`` or
    ``async for event in events()``. Async handlers run as tasks, sync handlers in a
    thread pool; neither delays the reader. Ordering: the calls of one handler for one
    thread run one at a time, in frame order; nothing is promised across threads or
    across handlers.

    Connection hooks: :meth:`on_connect` handlers receive a :class:`Connected` notice on
    every connection, the first included, once ``ready`` arrived and ``subscribe`` was
    sent (send a session's first message there, so no tool call can beat the
    subscription; drain pending calls there). :meth:`on_reconnect` handlers receive a
    :class:`Reconnected` notice only after a lost connection came back. Both run as
    handlers do; events read meanwhile are not held back for them.

    :meth:`stop` takes effect even when ``max_pending`` calls are held by stuck handlers:
    the reader stops waiting for a slot, and the run then waits at most
    ``shutdown_timeout`` for the handlers before cancelling them.
    """

    def __init__(self, client: ClientT, *, options: StreamOptions | None = None) -> None:
        """Bind the stream to a client (anything with a ``config: ClientConfig``)."""
        super().__init__()
        self._client = client
        self._options = options or StreamOptions()
        self._stop_requested = False
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._websocket: AsyncWebSocket | None = None
        self._opening: asyncio.Timeout | None = None
        """The deadline around an opening handshake under way (stop() moves it to now)."""
        self._dispatcher: TaskDispatcher | None = None
        self._error_tasks: set[asyncio.Task[None]] = set()

    @property
    def client(self) -> ClientT:
        """The client whose server this stream reads."""
        return self._client

    @property
    def options(self) -> StreamOptions:
        """Timeouts, bounds and reconnect policy."""
        return self._options

    @property
    def running(self) -> bool:
        """Whether :meth:`run_forever` or an :meth:`events` iteration is in progress."""
        return self._running

    def stop(self) -> None:
        """Stop the running stream; :meth:`run_forever` returns shortly after.

        A plain (not async) method: callable from a handler, another thread or a signal
        handler. A stop while no run is going applies to the next run, which returns at once
        (with a logged warning): a stop racing a run's start is never lost.
        """
        self._stop_requested = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._stop_event is not None:
            self._stop_event.set()
        if self._dispatcher is not None:
            self._dispatcher.abort()  # a reader waiting for a handler slot gives up
        opening = self._opening
        if opening is not None:
            opening.reschedule(asyncio.get_running_loop().time())
        websocket = self._websocket
        if websocket is not None:
            task = asyncio.ensure_future(websocket.close())
            self._error_tasks.add(task)
            task.add_done_callback(self._error_tasks.discard)

    async def run_forever(self, thread_id: str | None = None) -> None:
        """Read events and run handlers until :meth:`stop` (or cancellation).

        Args:
            thread_id: Follow one thread (session): the server filters from the first
                frame and frames of other threads are dropped here too.

        Raises:
            StreamConnectionError: The reconnect policy allows no further attempt.
            RuntimeError: The stream is already running.
        """
        async for _ in self._run(thread_id):
            pass

    def events(self, thread_id: str | None = None) -> AsyncGenerator[StreamEvent, None]:
        """Iterate the events (handlers run too); ends on :meth:`stop`.

        Leaving the loop early: iterate inside ``contextlib.aclosing(stream.events())``
        (or ``await`` the generator's ``aclose()``); the connection is closed, and the
        handlers finished (or cancelled after ``shutdown_timeout``), before that returns.
        """
        check_thread_id(thread_id)  # now, not at the first next()
        return self._run(thread_id)

    # -- internals -------------------------------------------------------------------

    async def _run(self, thread_id: str | None) -> AsyncGenerator[StreamEvent, None]:
        check_thread_id(thread_id)
        check_client_open(self._client)
        if self._running:
            raise RuntimeError("this stream is already running")
        stopped_before = self._stop_requested  # not one made while this run starts up
        self._running = True
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        if stopped_before:
            report_stop_before_run()
        if self._stop_requested:
            self._stop_event.set()
        options = self._options
        context: HandlerContext[StreamClient] = HandlerContext(self, self._client, thread_id)
        dispatcher = TaskDispatcher(
            max_concurrency=options.task_bound(),
            max_threads=options.thread_bound(),
            max_pending=options.max_pending,
            report=lambda entry, error, item: self._handler_failed(
                entry, error, item, context, dispatcher
            ),
            name="codex-manager-stream",
        )
        self._dispatcher = dispatcher
        if self._stop_requested:
            dispatcher.abort()
        runs = runs_of(self._client)
        run = StreamRun(
            stop=partial(self._stop_for_close, dispatcher),
            grace_seconds=options.shutdown_timeout,
            handlers_idle=lambda: not dispatcher.handlers_running and not self._error_tasks,
        )
        dispatcher.stream_run = run  # its handler tasks are marked as part of the run
        try:
            if runs is not None:
                runs.enter(run)  # the client's aclose() now stops it and waits for its handlers
            # aclosing: an early aclose() of this generator closes the connection now,
            # not when the garbage collector finalizes the inner generator.
            async with contextlib.aclosing(
                self._connections(thread_id, context, dispatcher)
            ) as connections:
                try:
                    async for event in connections:
                        yield event
                finally:
                    self._stop_event.set()  # the consumer left: closing must not reconnect
        finally:
            self._stop_event.set()
            dispatcher.abort()
            try:
                deadline = asyncio.get_running_loop().time() + options.shutdown_timeout
                await dispatcher.shutdown(options.shutdown_timeout)
                await self._finish_error_handlers(deadline)
            finally:  # also when a second cancel cuts the shutdown short
                dispatcher.abandon()
                for task in self._error_tasks:
                    task.cancel()
                self._stop_requested = False
                self._stop_event = None
                self._dispatcher = None
                self._loop = None
                self._running = False
                if runs is not None:
                    runs.leave(run)

    def _stop_for_close(self, dispatcher: TaskDispatcher) -> None:
        """Stop, and start no handler any more: the client is closing (any thread)."""
        self.stop()
        dispatcher.close_intake()

    async def _finish_error_handlers(self, deadline: float) -> None:
        """Let running ``on_error`` handlers finish until ``deadline`` (loop time), then cancel."""
        tasks = set(self._error_tasks)
        if not tasks:
            return
        remaining = max(deadline - asyncio.get_running_loop().time(), 0.0)
        _, pending = await asyncio.wait(tasks, timeout=remaining)
        if pending:
            logger.warning("cancelling %d on_error handler task(s) at shutdown", len(pending))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def _stopping(self) -> bool:
        return self._stop_requested or (self._stop_event is not None and self._stop_event.is_set())

    async def _connections(
        self,
        thread_id: str | None,
        context: HandlerContext[StreamClient],
        dispatcher: TaskDispatcher,
    ) -> AsyncGenerator[StreamEvent, None]:
        options = self._options
        config = self._client.client_config
        url = config.stream_url(thread_id)
        library = resolve_websocket_client(options.websocket_client, url)
        backoff = Backoff(options.reconnect)
        connections = 0
        lost_at: float | None = None
        while not self._stopping():
            ready = False
            opened_socket: object = None
            liveness = _Liveness()
            try:
                async with contextlib.AsyncExitStack() as opened:
                    # stop() ends the opening handshake too (by moving this deadline to now).
                    async with asyncio.timeout(None) as self._opening:
                        websocket = await opened.enter_async_context(
                            open_async_websocket(
                                url,
                                library=library,
                                headers=config.auth_headers(),
                                open_timeout=options.open_timeout,
                                close_timeout=options.close_timeout,
                                max_size=options.max_frame_bytes,
                                tls_context=options.tls_context,
                            )
                        )
                    self._opening = None
                    self._websocket = opened_socket = websocket
                    if self._stopping():
                        return
                    async with contextlib.aclosing(
                        self._read(websocket, liveness, thread_id, context, dispatcher)
                    ) as frames:
                        async for event in frames:
                            if event is None:  # the ready frame (subscribe already sent)
                                ready = True
                                backoff.connected()  # counts as healthy once it lasted
                                connections += 1
                                away = None if lost_at is None else time.monotonic() - lost_at
                                notice = Connected(thread_id, connections, away)
                                await self._connected(notice, context, dispatcher)
                                continue
                            yield event
                    return  # stopped
            except (ConnectionClosed, WebSocketException, OSError, TimeoutError) as error:
                if self._stopping():
                    return
                problem: StreamConnectionError
                if liveness.reason is not None:
                    kind = StreamConnectionError if liveness.unready else DeadConnectionError
                    problem = kind(liveness.reason, url)
                    problem.__cause__ = error
                else:
                    problem = connection_problem(error, url)
            finally:
                self._opening = None
                self._websocket = None
            if ready:  # a healthy connection was lost (not just another failed attempt)
                lost_at = time.monotonic()
                backoff.lost(getattr(opened_socket, "ending_seen_at", None))
                if dispatcher.stream_run is not None:  # answers of calls in progress check
                    dispatcher.stream_run.connections_lost += 1
            await self._report(problem, context, dispatcher)
            delay = backoff.next_delay()
            if backoff.exhausted or isinstance(problem, StreamRefusedError):
                logger.error("%s; giving up", problem)
                raise problem
            logger.warning("%s; reconnecting in %.2f s", problem, delay)
            await self._sleep(delay)

    async def _connected(
        self,
        notice: Connected,
        context: HandlerContext[StreamClient],
        dispatcher: TaskDispatcher,
    ) -> None:
        """Submit the ``on_connect`` hooks, then (after a reconnect) the ``on_reconnect`` ones."""
        router = self._router
        for entry in router.connect_handlers:
            await dispatcher.submit(entry, notice, context, None)
        if notice.disconnected_for is None:
            return
        logger.info("event stream reconnected (%d)", notice.reconnects)
        reconnected = Reconnected(notice.thread_id, notice.reconnects, notice.disconnected_for)
        for entry in router.reconnect_handlers:
            await dispatcher.submit(entry, reconnected, context, None)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, waking early on stop()."""
        assert self._stop_event is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stop_event.wait()

    async def _keepalive(self, websocket: AsyncWebSocket, liveness: _Liveness) -> None:
        options = self._options
        while True:
            await asyncio.sleep(options.ping_interval)
            liveness.pong.clear()
            await websocket.send(PING_TEXT)
            frames_at_ping = liveness.frames
            while True:
                try:
                    async with asyncio.timeout(options.pong_timeout):
                        await liveness.pong.wait()
                    break
                except TimeoutError:
                    if liveness.frames != frames_at_ping or not liveness.reading:
                        # Frames came meanwhile (the pong is behind them), or the reader is
                        # held up and has not read it: no sign of a dead connection.
                        frames_at_ping = liveness.frames
                        continue
                    timeout = options.pong_timeout
                    liveness.reason = f"no pong within {timeout:g} s: connection is dead"
                    websocket.abort()
                    return

    def _abort_unready(self, websocket: AsyncWebSocket, liveness: _Liveness) -> None:
        liveness.reason = f"no ready frame within {self._options.open_timeout:g} s"
        liveness.unready = True
        websocket.abort()

    async def _read(
        self,
        websocket: AsyncWebSocket,
        liveness: _Liveness,
        thread_id: str | None,
        context: HandlerContext[StreamClient],
        dispatcher: TaskDispatcher,
    ) -> AsyncGenerator[StreamEvent | None, None]:
        """Frames of one connection; ``None`` marks the ``ready`` frame."""
        from codex_manager.stream.decode import ErrorFrame, PongFrame, ReadyFrame, decode_frame

        loop = asyncio.get_running_loop()
        route = self._router.route
        submit = dispatcher.submit
        ordered_requests = self._options.ordered_requests
        ready_timer: asyncio.TimerHandle | None = loop.call_later(
            self._options.open_timeout, self._abort_unready, websocket, liveness
        )
        keepalive: asyncio.Task[None] | None = None
        try:
            while not self._stopping():
                liveness.reading = True
                data = await websocket.recv()
                liveness.reading = False
                liveness.frames += 1
                try:
                    frame = decode_frame(data)
                except StreamFrameError as error:
                    logger.warning("%s", error)
                    await self._report(error, context, dispatcher)
                    continue
                if isinstance(frame, StreamEvent):
                    if of_another_thread(frame, thread_id):
                        continue
                    frame_thread = frame.thread_id
                    ordered = ordered_requests or not is_server_request(frame)
                    for entry in route(frame):
                        await submit(
                            entry, frame, context, frame_thread, ordered=ordered or entry.ordered
                        )
                    yield frame
                elif type(frame) is PongFrame:
                    liveness.pong.set()
                elif type(frame) is ReadyFrame:
                    if ready_timer is not None:
                        ready_timer.cancel()
                        ready_timer = None
                        if thread_id is not None:
                            with contextlib.suppress(ConnectionClosed):
                                # Closing already: what the server sent before its close is
                                # still read and handled; reading raises at the end.
                                await websocket.send(subscribe_text(thread_id))
                        keepalive = asyncio.create_task(self._keepalive(websocket, liveness))
                        yield None
                elif type(frame) is ErrorFrame:
                    server_error = StreamServerError(frame.message)
                    logger.warning("%s", server_error)
                    await self._report(server_error, context, dispatcher)
        finally:
            if ready_timer is not None:
                ready_timer.cancel()
            if keepalive is not None:
                keepalive.cancel()
                try:
                    await keepalive
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise  # this task was cancelled meanwhile, not only the keepalive
                except ConnectionClosed:
                    pass

    async def _report(
        self,
        error: StreamError,
        context: HandlerContext[StreamClient],
        dispatcher: TaskDispatcher,
    ) -> None:
        """Hand an error of the reader to the ``on_error`` handlers."""
        for entry in self._router.error_handlers:
            await dispatcher.submit(entry, error, context, None)

    def _handler_failed(
        self,
        entry: HandlerEntry,
        exception: BaseException,
        item: object,
        context: HandlerContext[StreamClient],
        dispatcher: TaskDispatcher,
    ) -> None:
        """Called in the loop when a handler raised: log, then run the error handlers."""
        if entry.kind == "error":
            logger.error("on_error handler %s raised", entry.name, exc_info=exception)
            return
        # The dispatcher carries any item; the router hands handlers only these kinds.
        error = HandlerError(entry.name, exception, cast("HandledItem", item))
        logger.error("%s", error, exc_info=exception)
        handlers = self._router.error_handlers
        if handlers:
            task = asyncio.ensure_future(
                self._run_error_handlers(handlers, error, context, dispatcher)
            )
            self._error_tasks.add(task)
            task.add_done_callback(self._error_tasks.discard)

    @staticmethod
    async def _run_error_handlers(
        handlers: tuple[HandlerEntry, ...],
        error: HandlerError,
        context: HandlerContext[StreamClient],
        dispatcher: TaskDispatcher,
    ) -> None:
        for entry in handlers:
            try:
                await dispatcher.call(entry, error, context)
            except BaseException as nested:
                if isinstance(nested, asyncio.CancelledError):
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise  # this task is cancelled (shutdown)
                elif isinstance(nested, KeyboardInterrupt | SystemExit) and entry.is_async:
                    raise  # in the loop itself: the program's, as for any task
                logger.error("on_error handler %s raised", entry.name, exc_info=nested)


__all__ = ["AsyncEventStream"]
