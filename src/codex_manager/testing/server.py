"""``FakeCodexManager``: a codex-manager server on loopback, with a scripted agent.

The server (aiohttp, HTTP and websocket on one port) runs its own event loop in a daemon
thread. Every control and inspection method is thread-safe: it runs on that loop and waits for
the result, so tests call them from any thread (or from their own event loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import Future as ThreadFuture
from types import TracebackType
from typing import TYPE_CHECKING, Self, TypeVar, cast

from aiohttp import web

from codex_manager.json_types import JSONInput, JSONObject, JSONValue

if TYPE_CHECKING:
    from codex_manager.types import PendingToolCall

from . import _schemas as schemas
from ._app import build_app
from ._codex import Codex, CodexOptions
from ._faults import Faults
from ._http import Ctx
from ._hub import StreamHub
from ._routes_sessions import new_session
from ._state import SessionState, Store
from ._validation import validate
from .agent import Script
from .records import (
    AnswerRecord,
    CatalogRecord,
    MessageRecord,
    PublishedEvent,
    ToolCallRecord,
    TurnRecord,
)

_T = TypeVar("_T")


class FakeServerError(RuntimeError):
    """The fake server is not running, or a control call was given bad input."""


class FakeCodexManager:
    """A faithful fake of the codex-manager server for tests (HTTP + websocket on loopback).

    Use it as ``with FakeCodexManager() as server:`` / ``async with FakeCodexManager() as
    server:``, or call :meth:`start` / :meth:`stop`. ``server.base_url`` is what a client needs.

    Args:
        host: Interface to bind (loopback by default).
        port: Port to bind; 0 picks a free one.
        script: Default turn script for sessions without their own (see
            :mod:`codex_manager.testing.agent`); None uses :func:`~.agent.default_script`.
        noise: Emit the realistic extra frames of a real turn (warnings, raw response items,
            token usage, rate limits, orchestrator jobs). False keeps only the essential ones.
        transcript_events: Also publish ``transcript_updated`` when the agent replies. Off by
            default: the real server sends none in a turn (the round-trip recording), so a
            test waiting for one would pass here and hang against it.
        defaults_locked: Answer 423 to writes of the ``default`` settings/controls scope
            (the server's ``SESSION_DEFAULTS_LOCKED=true``).
        turn_start_delay: Seconds between accepting a message and the turn's first frame
            (the real server takes about 0.1 s); 0 by default, for fast tests.
        event_history: How many published events :attr:`events_published` keeps (the
            oldest are dropped first), so long soak runs stay bounded in memory.
        body_limit: The largest request body taken, in bytes: Fastify's default
            ``bodyLimit`` (1 MiB), which the server keeps. A larger one is answered 413 (a
            tool call's answer included), as the server answers it.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        script: Script | None = None,
        noise: bool = True,
        transcript_events: bool = False,
        defaults_locked: bool = False,
        turn_start_delay: float = 0.0,
        event_history: int = 100_000,
        body_limit: int = 1_048_576,
    ) -> None:
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._script = script
        self._options = CodexOptions(
            noise=noise, transcript_events=transcript_events, turn_start_delay=turn_start_delay
        )
        self._defaults_locked = defaults_locked
        self._event_history = event_history
        if body_limit < 1:
            raise FakeServerError(f"body_limit must be at least 1 byte (got {body_limit})")
        self._body_limit = body_limit
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._ctx: Ctx | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server is started."""
        return self._loop is not None and self._port is not None

    @property
    def host(self) -> str:
        """The bound interface."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port."""
        if self._port is None:
            raise FakeServerError("FakeCodexManager is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (the server root; routes are under ``/api``)."""
        return f"http://{self._authority}"

    @property
    def api_base(self) -> str:
        """``http://127.0.0.1:PORT/api``."""
        return self.base_url + "/api"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/api/stream``."""
        return f"ws://{self._authority}/api/stream"

    @property
    def _authority(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host  # an IPv6 address
        return f"{host}:{self.port}"

    def start(self) -> Self:
        """Start serving (binds the port, starts the loop thread); returns ``self``."""
        if self._loop is not None:
            return self
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._serve_forever, args=(loop,), name="FakeCodexManager", daemon=True
        )
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._astart(), loop).result(timeout=10)
        except BaseException:
            self.stop()
            raise
        return self

    @staticmethod
    def _serve_forever(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()

    async def _astart(self) -> None:
        store = Store(events=deque(maxlen=self._event_history))
        faults = Faults()
        hub = StreamHub(store.events.append)
        codex = Codex(store, hub, faults, self._options)
        self._ctx = Ctx(
            store=store,
            codex=codex,
            faults=faults,
            defaults_locked=self._defaults_locked,
            script=self._script,
        )
        self._runner = web.AppRunner(
            build_app(self._ctx, self._body_limit),
            handle_signals=False,
            access_log=None,
            shutdown_timeout=0.25,
        )
        await self._runner.setup()
        await self._bind(self._requested_port)

    async def _bind(self, port: int) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, self._host, port, reuse_address=True)
        await self._site.start()
        addresses = self._runner.addresses  # socket names of the running sites
        self._port = int(addresses[-1][1])

    def stop(self) -> None:
        """Stop serving: close sockets and turns, free the port, end the loop thread."""
        loop = self._loop
        if loop is None:
            return
        if loop.is_running():
            with contextlib.suppress(Exception):  # shutting down anyway
                asyncio.run_coroutine_threadsafe(self._astop(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        loop.close()
        self._loop = None
        self._thread = None
        self._port = None
        self._site = None
        self._runner = None

    async def _astop(self) -> None:
        ctx = self._ctx
        if ctx is not None:
            await ctx.codex.hub.close_all(code=1001, message=b"server shutdown")
            self._abandon_turns(ctx)
            ctx.codex.script_threads.shutdown(wait=False)
        if self._runner is not None:
            await self._runner.cleanup()
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- marshalling onto the server loop --------------------------------------------------

    def _context(self) -> Ctx:
        if self._ctx is None or self._loop is None:
            raise FakeServerError("FakeCodexManager is not started")
        return self._ctx

    def _on_loop(self, function: Callable[[Ctx], _T]) -> _T:
        ctx = self._context()
        loop = self._loop
        assert loop is not None
        if self._thread is threading.current_thread():
            return function(ctx)

        future: ThreadFuture[_T] = ThreadFuture()

        def run() -> None:  # a callback, not a coroutine: if the loop stops first, no warning
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(function(ctx))
            except BaseException as exc:  # the caller's, raised in its thread
                future.set_exception(exc)

        try:
            loop.call_soon_threadsafe(run)
        except RuntimeError:  # the loop closed meanwhile (stop())
            raise FakeServerError("FakeCodexManager stopped before it answered") from None
        return self._wait(future, loop, 30)

    def _wait(self, future: ThreadFuture[_T], loop: asyncio.AbstractEventLoop, limit: float) -> _T:
        """``future``'s result; a clear error at once if the server stops meanwhile (what was
        sent to its loop then never runs: waiting would last the whole ``limit``)."""
        deadline = time.monotonic() + limit
        while True:
            try:
                return future.result(timeout=0.05)
            except TimeoutError:
                if self._loop is not loop or not loop.is_running():
                    raise FakeServerError("FakeCodexManager stopped before it answered") from None
                if time.monotonic() >= deadline:
                    raise FakeServerError(
                        f"FakeCodexManager did not answer within {limit:g} s"
                    ) from None

    def _await_on_loop(self, coroutine: Coroutine[object, object, _T]) -> _T:
        loop = self._loop
        if loop is None:
            coroutine.close()
            raise FakeServerError("FakeCodexManager is not started")
        return self._wait(asyncio.run_coroutine_threadsafe(coroutine, loop), loop, 60)

    # -- sessions and scripts --------------------------------------------------------------

    def create_session(
        self,
        *,
        dynamic_tools: Sequence[Mapping[str, JSONInput]] | None = None,
        cwd: str | None = None,
        system_owned: bool = False,
        script: Script | None = None,
    ) -> str:
        """Create a session directly (no HTTP); returns its id.

        ``dynamic_tools`` is validated like ``POST /api/sessions``; ``system_owned=True``
        makes an orchestrator-worker session (403 on guarded routes, hidden from lists).
        """
        body: JSONObject = {}
        if dynamic_tools is not None:
            body["dynamicTools"] = json.loads(json.dumps(list(dynamic_tools)))
        if cwd is not None:
            body["cwd"] = cwd
        parsed, issues = validate(schemas.CREATE_SESSION, body)
        if issues:
            raise FakeServerError(f"invalid session: {json.dumps(issues)}")

        def create(ctx: Ctx) -> str:
            session = new_session(ctx, parsed, system_owned=system_owned)
            session.script = script
            return session.id

        return self._on_loop(create)

    def set_script(self, session_id: str, script: Script | None) -> None:
        """Give one session its own turn script (None: back to the server default)."""

        def apply(ctx: Ctx) -> None:
            self._session(ctx, session_id).script = script

        self._on_loop(apply)

    def set_default_script(self, script: Script | None) -> None:
        """Set the script of sessions without their own (None: the text convention)."""

        def apply(ctx: Ctx) -> None:
            ctx.script = script

        self._on_loop(apply)

    def mark_system_owned(self, session_id: str, system_owned: bool = True) -> None:
        """Mark a session as system-owned (guarded routes answer 403)."""

        def apply(ctx: Ctx) -> None:
            self._session(ctx, session_id).system_owned = system_owned

        self._on_loop(apply)

    def delete_session(self, session_id: str) -> None:
        """Hard-delete a session as ``DELETE /api/sessions/{id}`` does (expires its calls)."""

        def apply(ctx: Ctx) -> None:
            ctx.codex.delete_session(self._session(ctx, session_id))

        self._on_loop(apply)

    @staticmethod
    def _session(ctx: Ctx, session_id: str) -> SessionState:
        session = ctx.store.live(session_id)
        if session is None:
            raise FakeServerError(f"no live session {session_id!r}")
        return session

    # -- faults ----------------------------------------------------------------------------

    def fail_next_answers(self, count: int = 1) -> None:
        """The next ``count`` tool-call answers get 500 ``{"status":"error"}`` (call put back)."""

        def apply(ctx: Ctx) -> None:
            ctx.faults.failing_answers = count

        self._on_loop(apply)

    def fail_next_decisions(self, count: int = 1) -> None:
        """The next ``count`` approval / tool-input decisions get 500 (request stays pending)."""

        def apply(ctx: Ctx) -> None:
            ctx.faults.failing_decisions = count

        self._on_loop(apply)

    def hold_in_flight(
        self, seconds: float, *, request_id: str | None = None, count: int = 1
    ) -> None:
        """Keep answers in the in-flight window for ``seconds`` (others get 409 meanwhile).

        With ``request_id`` the hold applies to that id's next answer; otherwise to the next
        ``count`` answers of any id.
        """

        def apply(ctx: Ctx) -> None:
            if request_id is not None:
                ctx.faults.holds_by_request[request_id] = seconds
            else:
                ctx.faults.holds_next.extend([seconds] * count)

        self._on_loop(apply)

    def delay_responses(self, seconds: float) -> None:
        """Delay every HTTP response by ``seconds`` (0 turns it off)."""

        def apply(ctx: Ctx) -> None:
            ctx.faults.response_delay = seconds

        self._on_loop(apply)

    def slow_event_delivery(self, seconds: float) -> None:
        """Wait ``seconds`` before each websocket frame (0 turns it off)."""

        def apply(ctx: Ctx) -> None:
            ctx.codex.hub.frame_delay = seconds

        self._on_loop(apply)

    def delete_session_on_next_tool_call(self, count: int = 1) -> None:
        """Hard-delete the session right after its next tool call is published (pending)."""

        def apply(ctx: Ctx) -> None:
            ctx.faults.delete_on_tool_call = count

        self._on_loop(apply)

    def delete_session_while_pending(self, count: int = 1) -> None:
        """Alias of :meth:`delete_session_on_next_tool_call`."""
        self.delete_session_on_next_tool_call(count)

    def clear_faults(self) -> None:
        """Disarm every fault (including response delay and slow delivery)."""

        def apply(ctx: Ctx) -> None:
            ctx.faults.clear()
            ctx.codex.hub.frame_delay = 0.0

        self._on_loop(apply)

    def drop_websockets(self, *, abrupt: bool = False) -> None:
        """Close every websocket connection; sessions and calls are untouched.

        By default with a close frame (code 1012, "server restart"); ``abrupt=True`` cuts the
        TCP connections without one (clients see 1006), like a crashed server.
        """
        self._await_on_loop(self._context().codex.hub.close_all(abrupt=abrupt))

    def stall_websockets(self) -> int:
        """Leave every open websocket half-open: connected, but silent from now on.

        No frame (no ``{"type": "pong"}`` either, and no answer to a websocket-protocol
        ping) is sent on those connections any more and commands on them are ignored, as
        with a hung server or a connection a NAT box forgot; frames published meanwhile
        never reach them. The TCP connections stay up, so only a client that pings and times
        out notices. Connections opened afterwards are served normally. Returns how many
        connections were stalled.
        """
        return self._on_loop(lambda ctx: ctx.codex.hub.stall_all())

    def restart(self, downtime: float = 0.0, *, abrupt: bool = False) -> None:
        """Emulate a server restart.

        Websockets drop; running turns end silently; pending calls, approvals and inputs are
        forgotten (no events); the request-id counter starts again at 0; the purged-id set is
        cleared (a deleted id becomes unknown). Sessions survive. HTTP connections close, kept
        alive ones too. With ``downtime`` the port refuses connections for that many seconds.
        ``abrupt`` drops the sockets without a close frame (see :meth:`drop_websockets`).
        """
        self._await_on_loop(self._arestart(downtime, abrupt))

    async def _arestart(self, downtime: float, abrupt: bool) -> None:
        ctx = self._context()
        await ctx.codex.hub.close_all(abrupt=abrupt)
        self._abandon_turns(ctx)
        ctx.codex.expire_calls(lambda call: True, silent=True)
        ctx.codex.expire_decisions(None, silent=True)
        ctx.store.purged.clear()
        ctx.store.next_rpc_id = 0
        if downtime > 0 and self._site is not None:
            port = self.port
            await self._site.stop()
            self._drop_http_connections()
            await asyncio.sleep(downtime)
            await self._bind(port)
        else:
            self._drop_http_connections()  # a new process keeps no connection of the old one

    def _drop_http_connections(self) -> None:
        """Close every HTTP connection, kept-alive ones too, as a process that died would."""
        if self._runner is not None and self._runner.server is not None:
            for connection in list(self._runner.server.connections):
                connection.force_close()

    @staticmethod
    def _abandon_turns(ctx: Ctx) -> None:
        for session in ctx.store.sessions.values():
            for turn in session.turns:
                if turn.task is not None and not turn.task.done():
                    turn.abandoned = True
                    turn.task.cancel()

    def send_raw_frame(self, data: str | bytes, *, thread_id: str | None = None) -> int:
        """Send raw websocket data (malformed JSON, unknown frames...) as-is.

        Goes to every socket, or with ``thread_id`` to the sockets that would receive that
        thread's events. Returns how many sockets it was queued for.
        """
        return self._on_loop(lambda ctx: ctx.codex.hub.send_raw(data, thread_id))

    def publish_event(
        self,
        event_type: str,
        payload: JSONInput,
        *,
        thread_id: str | None = None,
        broadcast: bool = False,
    ) -> int:
        """Publish an arbitrary well-formed event frame through the delivery rules."""
        plain: JSONValue = json.loads(json.dumps(payload))
        return self._on_loop(
            lambda ctx: ctx.codex.hub.publish(event_type, plain, thread_id, broadcast=broadcast)
        )

    def clear_records(self) -> None:
        """Forget the inspection records so far (answers, messages, catalogs, events, calls)."""

        def apply(ctx: Ctx) -> None:
            ctx.store.answers.clear()
            ctx.store.messages.clear()
            ctx.store.catalogs.clear()
            ctx.store.events.clear()
            ctx.store.tool_calls[:] = [
                record
                for record in ctx.store.tool_calls
                if record.outcome in ("pending", "in_flight")
            ]

        self._on_loop(apply)

    # -- inspection ------------------------------------------------------------------------

    @property
    def answers(self) -> tuple[AnswerRecord, ...]:
        """Every tool-call answer received, in order."""
        return self._on_loop(lambda ctx: tuple(ctx.store.answers))

    @property
    def messages(self) -> tuple[MessageRecord, ...]:
        """Every accepted message, in order."""
        return self._on_loop(lambda ctx: tuple(ctx.store.messages))

    @property
    def catalogs(self) -> tuple[CatalogRecord, ...]:
        """Every ``dynamicTools`` list received (create, resume, messages), in order."""
        return self._on_loop(lambda ctx: tuple(ctx.store.catalogs))

    @property
    def events_published(self) -> tuple[PublishedEvent, ...]:
        """Every event frame published (control frames excluded), in order."""
        return self._on_loop(lambda ctx: tuple(ctx.store.events))

    @property
    def tool_calls(self) -> tuple[ToolCallRecord, ...]:
        """Every tool call the agent made, with its current outcome, in order."""
        return self._on_loop(lambda ctx: tuple(ctx.store.tool_calls))

    @property
    def websocket_count(self) -> int:
        """How many websocket connections are open."""
        return self._on_loop(lambda ctx: ctx.codex.hub.connection_count)

    @property
    def session_ids(self) -> tuple[str, ...]:
        """Ids of the live (not deleted) sessions, oldest first."""
        return self._on_loop(
            lambda ctx: tuple(sid for sid in ctx.store.sessions if sid not in ctx.store.purged)
        )

    def catalog(self, session_id: str) -> tuple[str, ...]:
        """Tool names the agent sees for a session (fixed at creation)."""
        return self._on_loop(
            lambda ctx: tuple(
                str(tool.get("name")) for tool in self._session(ctx, session_id).catalog
            )
        )

    def pending_tool_calls(self, session_id: str | None = None) -> list[PendingToolCall]:
        """Pending (not in-flight) PendingToolCall records, as the REST list returns them."""

        def collect(ctx: Ctx) -> list[PendingToolCall]:
            calls = sorted(
                (
                    call
                    for call in ctx.store.calls.values()
                    if not call.in_flight and (session_id is None or call.thread_id == session_id)
                ),
                key=lambda call: (call.created_time, call.rpc_id),
            )
            return [cast("PendingToolCall", call.public()) for call in calls]

        return self._on_loop(collect)

    def turns(self, session_id: str | None = None) -> tuple[TurnRecord, ...]:
        """Turns run so far (all sessions, or one), in order."""

        def collect(ctx: Ctx) -> tuple[TurnRecord, ...]:
            records: list[TurnRecord] = []
            for session in ctx.store.sessions.values():
                if session_id is not None and session.id != session_id:
                    continue
                for turn in session.turns:
                    records.append(
                        TurnRecord(
                            session_id=session.id,
                            turn_id=turn.id,
                            text=turn.text,
                            status=turn.status,
                            replies=tuple(turn.replies),
                            error=turn.error,
                        )
                    )
            return tuple(records)

        return self._on_loop(collect)

    def is_idle(self) -> bool:
        """True when no turn is running and no request is in flight."""

        def check(ctx: Ctx) -> bool:
            running = any(
                turn.status == "inProgress"
                for session in ctx.store.sessions.values()
                for turn in session.turns
            )
            in_flight = any(call.in_flight for call in ctx.store.calls.values())
            return not running and not in_flight

        return self._on_loop(check)

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01
    ) -> None:
        """Block until ``predicate()`` is true; raise ``TimeoutError`` after ``timeout`` s.

        The predicate runs in the calling thread and may use the inspection methods.
        """
        self._wait_until(predicate, timeout, interval, lambda: "condition not met")

    def _wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float,
        interval: float,
        explain: Callable[[], str],
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{explain()} within {timeout} s")
            time.sleep(interval)

    async def _wait_until_async(
        self,
        predicate: Callable[[], bool],
        timeout: float,  # noqa: ASYNC109 - the public waits take one
        interval: float,
        explain: Callable[[], str],
    ) -> None:
        deadline = time.monotonic() + timeout
        while not await asyncio.to_thread(predicate):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{await asyncio.to_thread(explain)} within {timeout} s")
            await asyncio.sleep(interval)

    def _activity(self, session_id: str | None = None) -> str:
        """What is going on (for a wait that timed out): running turns, calls waiting for an
        answer, and (with ``session_id``) how that session's last turn ended."""

        def describe(ctx: Ctx) -> str:
            sessions = [
                session
                for session in ctx.store.sessions.values()
                if session_id is None or session.id == session_id
            ]
            running = [
                f"turn {turn.id} of session {session.id} ({turn.text[:40]!r})"
                for session in sessions
                for turn in session.turns
                if turn.status == "inProgress"
            ]
            calls = [
                f"{call.tool!r} (request {call.request_id}, session {call.thread_id}"
                + (", answer in flight)" if call.in_flight else ")")
                for call in ctx.store.calls.values()
                if session_id is None or call.thread_id == session_id
            ]
            parts = [
                "running: " + ("; ".join(running) or "no turn"),
                "tool calls waiting for an answer: " + (", ".join(calls) or "none"),
            ]
            finished = [turn for s in sessions for turn in s.turns if turn.status != "inProgress"]
            if session_id is not None and finished:
                last = finished[-1]
                ended = f"its last turn ended {last.status}"
                parts.append(ended + (f" ({last.error})" if last.error else ""))
            return "; ".join(parts)

        try:
            return self._on_loop(describe)
        except FakeServerError as error:
            return str(error)

    async def wait_for_async(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors the sync API
        interval: float = 0.01,
    ) -> None:
        """:meth:`wait_for` for async tests (does not block the caller's event loop)."""
        await self._wait_until_async(predicate, timeout, interval, lambda: "condition not met")

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until no turn is running (see :meth:`is_idle`); the ``TimeoutError`` says
        what still runs."""
        self._wait_until(self.is_idle, timeout, 0.01, self._not_idle)

    async def wait_idle_async(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - mirrors the sync API
        """:meth:`wait_idle` for async tests."""
        await self._wait_until_async(self.is_idle, timeout, 0.01, self._not_idle)

    def _not_idle(self) -> str:
        return f"the fake server was not idle ({self._activity()})"

    def _no_tool_call(self, session_id: str | None) -> Callable[[], str]:
        where = "any session" if session_id is None else f"session {session_id}"
        return lambda: f"no tool call pending in {where} ({self._activity(session_id)})"

    def wait_for_tool_call(
        self, session_id: str | None = None, timeout: float = 5.0
    ) -> PendingToolCall:
        """Block until a tool call is pending (in ``session_id``) and return the oldest."""
        found: list[PendingToolCall] = []
        ready = self._pending_call_into(found, session_id)
        self._wait_until(ready, timeout, 0.01, self._no_tool_call(session_id))
        return copy.deepcopy(found[0])

    async def wait_for_tool_call_async(
        self,
        session_id: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors the sync API
    ) -> PendingToolCall:
        """:meth:`wait_for_tool_call` for async tests."""
        found: list[PendingToolCall] = []
        ready = self._pending_call_into(found, session_id)
        await self._wait_until_async(ready, timeout, 0.01, self._no_tool_call(session_id))
        return copy.deepcopy(found[0])

    def _pending_call_into(
        self, found: list[PendingToolCall], session_id: str | None
    ) -> Callable[[], bool]:
        def ready() -> bool:
            found[:] = self.pending_tool_calls(session_id)
            return bool(found)

        return ready
