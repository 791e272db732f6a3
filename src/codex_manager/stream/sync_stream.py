"""The synchronous event stream: a blocking websocket client and worker threads.

The calling thread reads the socket itself (:mod:`codex_manager.stream.sync_socket`, or
``websockets.sync.client`` behind a proxy), answers nothing itself, and hands every frame to
the handler threads (see :mod:`codex_manager.stream.dispatch`). Under ``run_forever`` on a
plain TCP connection the process's hub thread reads the events instead, once ``ready`` came
(:mod:`codex_manager.stream.sync_hub`); the calling thread keeps everything else.
No event loop is involved, except a private one per call for ``async def`` handlers.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import AbstractContextManager
from functools import partial
from typing import Final, Protocol, cast

from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import connect

from codex_manager._proxies import environment_proxy
from codex_manager._stream_runs import StreamRun, runs_of
from codex_manager.retry import Backoff
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
from codex_manager.stream.dispatch import ThreadDispatcher, call_sync
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
from codex_manager.stream.sync_hub import HubWatch, stream_hub
from codex_manager.stream.sync_socket import SocketWebSocket, open_stream_socket
from codex_manager.stream.tls import stream_tls_context
from codex_manager.stream.wire import PING_TEXT, subscribe_text

logger = logging.getLogger("codex_manager.stream")

# Longest the reader sleeps in recv() before looking at stop() again: stop() only sets a
# flag, which keeps it safe to call from a signal handler.
_POLL_SECONDS: Final = 0.25


class _WebSocket(AbstractContextManager["_WebSocket"], Protocol):
    """What the reader needs of a connection (ours, or ``websockets.sync``'s behind a proxy)."""

    def recv(self, timeout: float | None = None) -> str | bytes: ...

    def send(self, message: str) -> None: ...

    def close_socket(self) -> None: ...


class EventStream(HandlerRegistry[ClientT]):
    """Real-time events of a codex-manager server for a synchronous client.

    Register handlers with the decorators (:meth:`on_app_server_request`, ...), then call
    :meth:`run_forever`, or iterate :meth:`events`. Handlers run in worker threads (shared
    by the process's sync streams, see ``StreamOptions.max_concurrency``) and never delay
    the reader. Ordering: the calls of one handler for one thread run one at
    a time, in frame order; nothing is promised across threads or across handlers.

    Connection hooks: :meth:`on_connect` handlers receive a :class:`Connected` notice on
    every connection, the first included, once ``ready`` arrived and ``subscribe`` was
    sent (send a session's first message there, so no tool call can beat the
    subscription; drain pending calls there). :meth:`on_reconnect` handlers receive a
    :class:`Reconnected` notice only after a lost connection came back. Both run in the
    pool like other handlers; events read meanwhile are not held back for them.
    """

    def __init__(self, client: ClientT, *, options: StreamOptions | None = None) -> None:
        """Bind the stream to a client (anything with a ``config: ClientConfig``)."""
        super().__init__()
        self._client = client
        self._options = options or StreamOptions()
        self._stop = threading.Event()
        self._state_lock = threading.Lock()
        self._running = False
        self._dispatcher: ThreadDispatcher | None = None

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

        Thread-safe; callable from a handler, another thread or a signal handler. A stop
        while no run is going applies to the next run, which returns at once (with a logged
        warning): a stop racing a run's start is never lost.
        """
        self._stop.set()

    def run_forever(self, thread_id: str | None = None) -> None:
        """Read events and run handlers until :meth:`stop` (or Ctrl-C).

        Args:
            thread_id: Follow one thread (session): the server filters from the first
                frame and frames of other threads are dropped here too. ``None`` follows
                every thread.

        Raises:
            StreamConnectionError: The reconnect policy allows no further attempt.
            RuntimeError: The stream is already running.
        """
        for _ in self._run(thread_id, share_reader=True):
            pass

    def events(self, thread_id: str | None = None) -> Generator[StreamEvent, None, None]:
        """Iterate the events (handlers run too); ends on :meth:`stop` or Ctrl-C.

        ``app_server.*`` events are :class:`AppServerSignal` instances. Leaving the loop
        early: ``close()`` the generator (or iterate inside ``contextlib.closing``) to
        close the connection at once.
        """
        check_thread_id(thread_id)  # now, not at the first next()
        return self._run(thread_id)

    # -- internals -------------------------------------------------------------------

    def _run(
        self, thread_id: str | None, *, share_reader: bool = False
    ) -> Generator[StreamEvent, None, None]:
        """Connections and their events; ``share_reader``: the events need not be yielded,
        so the process's hub thread may read them (see :mod:`codex_manager.stream.sync_hub`).
        """
        check_thread_id(thread_id)
        check_client_open(self._client)
        with self._state_lock:
            if self._running:
                raise RuntimeError("this stream is already running")
            stopped_before = self._stop.is_set()  # not one made while this run starts up
            self._running = True
        if stopped_before:
            report_stop_before_run()
        options = self._options
        context: HandlerContext[StreamClient] = HandlerContext(self, self._client, thread_id)
        dispatcher = ThreadDispatcher(
            max_workers=options.thread_bound(),
            max_pending=options.max_pending,
            report=lambda entry, error, item: self._handler_failed(entry, error, item, context),
            name="event stream" if thread_id is None else f"event stream of {thread_id}",
        )
        self._dispatcher = dispatcher
        runs = runs_of(self._client)
        run = StreamRun(
            stop=partial(self._stop_for_close, dispatcher),
            grace_seconds=options.shutdown_timeout,
            handlers_idle=lambda: not dispatcher.handlers_running,
        )
        dispatcher.stream_run = run  # its workers mark the handlers as part of the run
        try:
            if runs is not None:
                runs.enter(run)  # the client's close() now stops it and waits for its handlers
            yield from self._connections(thread_id, context, dispatcher, share_reader)
        except KeyboardInterrupt:
            logger.info("event stream interrupted; stopping")
        finally:
            self._stop.set()
            try:
                dispatcher.shutdown(options.shutdown_timeout)
            finally:  # also when a second Ctrl-C cuts the wait for the handlers short
                with self._state_lock:
                    # Cleared at the end, not the start: a stop() racing the start still counts.
                    self._stop.clear()
                    self._dispatcher = None
                    self._running = False
                if runs is not None:
                    # Handlers that outlived the shutdown timeout (and the calls queued behind
                    # them, which still start) keep the run registered: the client's close()
                    # then waits for them and starts no more of them.
                    dispatcher.when_idle(partial(runs.leave, run))

    def _stop_for_close(self, dispatcher: ThreadDispatcher) -> None:
        """Stop, and start no handler any more: the client is closing."""
        with self._state_lock:
            ours = self._dispatcher is dispatcher
        if ours:  # the run still goes on (else a stop() would wait for the next run)
            self.stop()
        dispatcher.close_intake()

    def _connections(
        self,
        thread_id: str | None,
        context: HandlerContext[StreamClient],
        dispatcher: ThreadDispatcher,
        share_reader: bool,
    ) -> Iterator[StreamEvent]:
        options = self._options
        config = self._client.client_config
        url = config.stream_url(thread_id)
        backoff = Backoff(options.reconnect)
        connections = 0
        lost_at: float | None = None
        while not self._stop.is_set():
            ready = False
            opened: object = None
            try:
                with self._open(url, config.auth_headers()) as websocket:
                    opened = websocket
                    shared = (
                        websocket
                        if share_reader
                        and isinstance(websocket, SocketWebSocket)
                        and websocket.hub_capable
                        else None
                    )
                    events = self._read(websocket, url, thread_id, context, dispatcher, shared)
                    for event in events:
                        if event is None:  # the ready frame (subscribe already sent)
                            ready = True
                            backoff.connected()  # counts as healthy once it lasted
                            connections += 1
                            away = None if lost_at is None else time.monotonic() - lost_at
                            self._connected(
                                Connected(thread_id, connections, away), context, dispatcher
                            )
                            continue
                        yield event
                    return  # stopped
            except DeadConnectionError as error:
                problem: StreamConnectionError = error
            except (ConnectionClosed, WebSocketException, OSError, TimeoutError) as error:
                problem = connection_problem(error, url)
            except StreamConnectionError as error:
                problem = error
            if self._stop.is_set():
                return
            if ready:  # a healthy connection was lost (not just another failed attempt)
                lost_at = time.monotonic()
                backoff.lost(getattr(opened, "ending_seen_at", None))
                if dispatcher.stream_run is not None:  # answers of calls in progress check
                    dispatcher.stream_run.connections_lost += 1
            self._report(problem, context, dispatcher)
            delay = backoff.next_delay()
            if backoff.exhausted or isinstance(problem, StreamRefusedError):
                logger.error("%s; giving up", problem)
                raise problem
            logger.warning("%s; reconnecting in %.2f s", problem, delay)
            self._stop.wait(delay)

    def _open(self, url: str, headers: Mapping[str, str]) -> _WebSocket:
        """Connect: read by this thread itself, unless a proxy needs the library's client."""
        options = self._options
        proxy = environment_proxy(url)
        if proxy is None:
            return open_stream_socket(
                url,
                headers=headers,
                open_timeout=options.open_timeout,
                close_timeout=options.close_timeout,
                max_size=options.max_frame_bytes,
                send_timeout=options.pong_timeout,  # a peer that long unresponsive is gone
                tls_context=options.tls_context,
                stopping=self._stop.is_set,
            )
        return connect(
            url,
            additional_headers=headers,
            open_timeout=options.open_timeout,
            close_timeout=options.close_timeout,
            ping_interval=None,  # liveness is the server's own ping/pong
            max_size=options.max_frame_bytes,
            proxy=proxy,  # the REST calls' proxy, not websockets' own pick
            ssl=stream_tls_context(options.tls_context) if url.startswith("wss:") else None,
        )

    def _read(
        self,
        websocket: _WebSocket,
        url: str,
        thread_id: str | None,
        context: HandlerContext[StreamClient],
        dispatcher: ThreadDispatcher,
        shared: SocketWebSocket | None,
    ) -> Iterator[StreamEvent | None]:
        """Frames of one connection; ``None`` marks the ``ready`` frame.

        ``shared``: the same connection, to be read by the process's hub once ``ready``
        came; this thread then waits for what the hub hands back, and for its deadlines.
        """
        from codex_manager.stream.decode import ErrorFrame, PongFrame, ReadyFrame, decode_frame

        options = self._options
        stop = self._stop
        route = self._router.route
        inf = math.inf
        ready_deadline = time.monotonic() + options.open_timeout
        next_ping = pong_deadline = inf
        hub = stream_hub()
        hub_handler = None if shared is None else self._hub_handler(thread_id, context, dispatcher)
        watch: HubWatch | None = None
        try:
            while not stop.is_set():
                now = time.monotonic()
                if now >= pong_deadline:
                    if watch is not None:
                        hub.unwatch(watch)  # before the socket goes: the hub reads it no more
                        watch = None
                    websocket.close_socket()
                    raise DeadConnectionError(
                        f"no pong within {options.pong_timeout:g} s: connection is dead", url
                    )
                if now >= ready_deadline:
                    raise StreamConnectionError(
                        f"no ready frame within {options.open_timeout:g} s", url
                    )
                if now >= next_ping:
                    try:
                        websocket.send(PING_TEXT)
                    except ConnectionClosed:
                        # The server began closing: read on, so that the events it sent
                        # first still reach their handlers; reading raises at the end.
                        next_ping = inf
                    else:
                        next_ping = now + options.ping_interval
                        if pong_deadline == inf:
                            pong_deadline = now + options.pong_timeout
                wait = min(next_ping, pong_deadline, ready_deadline, now + _POLL_SECONDS) - now
                if shared is not None and hub_handler is not None and ready_deadline == inf:
                    if watch is None and not shared.has_messages:
                        if shared.ending or shared.owes_replies:
                            # What the hub left to this thread: the replies it never sends,
                            # a begun close to finish. Raises once the connection ended.
                            shared.finish_receiving()
                            continue
                        watch = HubWatch(shared, hub_handler)
                        hub.watch(watch)
                    if watch is not None:
                        if not watch.returned.wait(max(wait, 0.0)):
                            continue
                        hub.unwatch(watch)
                        returned, watch = watch, None
                        if returned.failure is not None:
                            raise returned.failure
                        if returned.held is None:
                            shared.finish_receiving()  # raises once the connection ended
                            continue
                        data = returned.held
                    else:
                        data = shared.recv(timeout=0.0)  # queued: no wait
                else:
                    try:
                        data = websocket.recv(timeout=max(wait, 0.0))
                    except TimeoutError:
                        continue
                if stop.is_set():
                    break  # read after stop(): no handler starts for it
                try:
                    frame = decode_frame(data)
                except StreamFrameError as error:
                    logger.warning("%s", error)
                    self._report(error, context, dispatcher)
                    continue
                if isinstance(frame, StreamEvent):
                    if of_another_thread(frame, thread_id):
                        continue
                    self._submit_event(frame, route(frame), context, dispatcher)
                    yield frame
                    if pong_deadline != inf:
                        # A frame came, so the connection lives; held up meanwhile (by the
                        # handlers' backpressure or the events() consumer), this thread may
                        # not have read the pong yet.
                        pong_deadline = time.monotonic() + options.pong_timeout
                elif type(frame) is PongFrame:
                    pong_deadline = inf
                elif type(frame) is ReadyFrame:
                    if ready_deadline != inf:
                        ready_deadline = inf
                        if thread_id is not None:
                            with contextlib.suppress(ConnectionClosed):
                                # Closing already: what the server sent before its close is
                                # still read and handled; reading raises at the end.
                                websocket.send(subscribe_text(thread_id))
                        next_ping = time.monotonic() + options.ping_interval
                        yield None
                elif type(frame) is ErrorFrame:
                    server_error = StreamServerError(frame.message)
                    logger.warning("%s", server_error)
                    self._report(server_error, context, dispatcher)
        finally:
            if watch is not None:
                hub.unwatch(watch)

    def _hub_handler(
        self,
        thread_id: str | None,
        context: HandlerContext[StreamClient],
        dispatcher: ThreadDispatcher,
    ) -> Callable[[str | bytes], bool]:
        """What the hub does with a message: an event goes to its handlers if their slots
        are free now; anything else (``False``) goes back to this stream's thread."""
        from codex_manager.stream.decode import decode_frame

        route = self._router.route
        take_slots = dispatcher.take_slots
        submit_event = self._submit_event
        stopping = self._stop.is_set

        def handle(data: str | bytes) -> bool:
            if stopping():
                return True  # read after stop(): no handler starts for it (as on async)
            try:
                frame = decode_frame(data)
            except StreamFrameError:
                return False  # reported by the stream's thread
            if not isinstance(frame, StreamEvent):
                return False
            if of_another_thread(frame, thread_id):
                return True
            entries = route(frame)
            if not entries:
                return True
            if not take_slots(len(entries)):
                return False  # backpressure: the stream's thread waits for the slots
            submit_event(frame, entries, context, dispatcher, slots_taken=True)
            return True

        return handle

    def _submit_event(
        self,
        event: StreamEvent,
        entries: tuple[HandlerEntry, ...],
        context: HandlerContext[StreamClient],
        dispatcher: ThreadDispatcher,
        *,
        slots_taken: bool = False,
    ) -> None:
        """Queue ``event`` for its handlers (in its lanes unless an independent request)."""
        ordered = self._options.ordered_requests or not is_server_request(event)
        for entry in entries:
            dispatcher.submit(
                entry,
                event,
                context,
                event.thread_id,
                self._stop,
                ordered=ordered or entry.ordered,
                slot_taken=slots_taken,
            )

    def _report(
        self,
        error: StreamError,
        context: HandlerContext[StreamClient],
        dispatcher: ThreadDispatcher,
    ) -> None:
        """Hand an error of the reader to the ``on_error`` handlers (in the pool)."""
        for entry in self._router.error_handlers:
            dispatcher.submit(entry, error, context, None, self._stop)

    def _connected(
        self,
        notice: Connected,
        context: HandlerContext[StreamClient],
        dispatcher: ThreadDispatcher,
    ) -> None:
        """Submit the ``on_connect`` hooks, then (after a reconnect) the ``on_reconnect`` ones."""
        router = self._router
        for entry in router.connect_handlers:
            dispatcher.submit(entry, notice, context, None, self._stop)
        if notice.disconnected_for is None:
            return
        logger.info("event stream reconnected (%d)", notice.reconnects)
        reconnected = Reconnected(notice.thread_id, notice.reconnects, notice.disconnected_for)
        for entry in router.reconnect_handlers:
            dispatcher.submit(entry, reconnected, context, None, self._stop)

    def _handler_failed(
        self,
        entry: HandlerEntry,
        exception: BaseException,
        item: object,
        context: HandlerContext[StreamClient],
    ) -> None:
        """Runs in the failing handler's worker: log, then the error handlers inline."""
        if entry.kind == "error":
            logger.error("on_error handler %s raised", entry.name, exc_info=exception)
            return
        # The dispatcher carries any item; the router hands handlers only these kinds.
        error = HandlerError(entry.name, exception, cast("HandledItem", item))
        logger.error("%s", error, exc_info=exception)
        for error_entry in self._router.error_handlers:
            try:
                call_sync(error_entry, error, context)
            except BaseException as nested:  # a worker's: not a Ctrl-C; the next handler runs
                logger.error("on_error handler %s raised", error_entry.name, exc_info=nested)


__all__ = ["EventStream"]
