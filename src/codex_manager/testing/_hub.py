"""The websocket endpoint ``/api/stream`` and the four delivery rules (server-contract §4)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from codex_manager.json_types import JSONObject, JSONValue

from ._json import stringify
from .records import PublishedEvent

_INVALID_COMMAND: JSONObject = {"type": "error", "message": "invalid websocket command"}


def encode(frame: JSONValue) -> str:
    """Serialize a frame the way the server does (compact JSON)."""
    return stringify(frame, separators=(",", ":"))


@dataclass(eq=False)
class _Socket:
    ws: web.WebSocketResponse
    filter: str | None
    queue: asyncio.Queue[str | bytes | None] = field(default_factory=asyncio.Queue)
    writer: asyncio.Task[None] | None = None
    transport: asyncio.Transport | None = None
    stalled: bool = False
    """Half-open: nothing is sent on it any more (no frame, no pong), the TCP stays up."""


class StreamHub:
    """Keeps the connected sockets and delivers frames to them in publish order.

    Each socket has its own queue and writer task, so a slow socket (or the
    ``slow_event_delivery`` fault) never blocks publishers or other sockets.
    """

    def __init__(self, on_publish: Callable[[PublishedEvent], None]) -> None:
        self._sockets: set[_Socket] = set()
        self._on_publish = on_publish
        self.frame_delay = 0.0

    @property
    def connection_count(self) -> int:
        """How many sockets are connected."""
        return len(self._sockets)

    def publish(
        self,
        event_type: str,
        payload: JSONValue,
        thread_id: str | None,
        *,
        broadcast: bool = False,
        force_thread_filter: bool = False,
    ) -> int:
        """Queue an event frame for every socket the delivery rules select."""
        frame: JSONObject = {"type": event_type, "threadId": thread_id, "payload": payload}
        text = encode(frame)
        recipients = 0
        for socket in list(self._sockets):
            if not self._selects(socket, thread_id, broadcast, force_thread_filter):
                continue
            socket.queue.put_nowait(text)
            recipients += 1
        self._on_publish(
            PublishedEvent(
                type=event_type,
                thread_id=thread_id,
                payload=copy.deepcopy(payload),
                broadcast=broadcast and not force_thread_filter,
                recipients=recipients,
                at=time.time(),
            )
        )
        return recipients

    def send_raw(self, data: str | bytes, thread_id: str | None) -> int:
        """Queue raw data (possibly malformed) for sockets that would get ``thread_id``'s events.

        ``thread_id=None`` sends to every socket.
        """
        recipients = 0
        for socket in list(self._sockets):
            if thread_id is not None and not self._selects(socket, thread_id, False, False):
                continue
            socket.queue.put_nowait(data)
            recipients += 1
        return recipients

    @staticmethod
    def _selects(
        socket: _Socket, thread_id: str | None, broadcast: bool, force_thread_filter: bool
    ) -> bool:
        if socket.ws.closed:
            return False  # rule 4: only open sockets
        if force_thread_filter:
            return socket.filter is not None and socket.filter == thread_id  # rule 1
        if broadcast:
            return True  # rule 2
        if socket.filter is None:
            return True  # rule 3, unfiltered
        return thread_id is not None and thread_id == socket.filter  # rule 3, filtered

    def stall_all(self) -> int:
        """Stop sending anything on every current socket (the ``stall_websockets`` fault).

        Returns how many sockets were stalled. Sockets that connect afterwards are served
        normally.
        """
        sockets = list(self._sockets)
        for socket in sockets:
            socket.stalled = True
        return len(sockets)

    async def close_all(
        self, code: int = 1012, message: bytes = b"server restart", *, abrupt: bool = False
    ) -> None:
        """Close every socket (the ``drop_websockets`` / ``restart`` faults, and shutdown).

        ``abrupt`` drops the TCP connections without a close frame, as a crashed process
        would (clients see close code 1006).
        """
        sockets = list(self._sockets)
        self._sockets.clear()
        for socket in sockets:
            socket.queue.put_nowait(None)
            if socket.writer is not None:
                socket.writer.cancel()
            if abrupt and socket.transport is not None:
                socket.transport.abort()
                continue
            with contextlib.suppress(Exception):
                await asyncio.wait_for(socket.ws.close(code=code, message=message), 1.0)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The ``GET /api/stream`` handler."""
        # Pings are answered here, not by aiohttp, so that a stalled socket answers none.
        ws = web.WebSocketResponse(autoping=False)
        if not ws.can_prepare(request).ok:
            return web.json_response(
                {
                    "message": "Invalid websocket upgrade request",
                    "error": "Bad Request",
                    "statusCode": 400,
                },
                status=400,
            )
        initial = request.query.get("threadId") or None
        socket = _Socket(ws=ws, filter=initial, transport=request.transport)
        # The filter is active before the first frame: register with it, queue `ready` first.
        socket.queue.put_nowait(encode({"type": "ready", "threadId": initial}))
        await ws.prepare(request)
        self._sockets.add(socket)
        socket.writer = asyncio.create_task(self._write_loop(socket))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._command(socket, str(message.data))
                elif message.type == WSMsgType.BINARY:
                    self._command(socket, bytes(message.data).decode("utf-8", errors="replace"))
                elif message.type == WSMsgType.PING:
                    if not socket.stalled:  # a hung server answers no ping either
                        with contextlib.suppress(ConnectionError, RuntimeError):
                            await ws.pong(message.data)
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            self._sockets.discard(socket)
            socket.queue.put_nowait(None)
            if socket.writer is not None:
                socket.writer.cancel()
        return ws

    def _command(self, socket: _Socket, text: str) -> None:
        if socket.stalled:
            return  # a hung server reads nothing and answers nothing, pings included
        try:
            command = json.loads(text)
        except ValueError:
            socket.queue.put_nowait(encode(_INVALID_COMMAND))
            return
        kind = command.get("type") if isinstance(command, dict) else None
        if kind == "subscribe":
            thread_id = command.get("threadId")
            if isinstance(thread_id, str) and thread_id:  # non-empty; not trimmed
                socket.filter = thread_id
                return
        elif kind == "unsubscribe":
            socket.filter = None
            return
        elif kind == "ping":
            socket.queue.put_nowait(encode({"type": "pong"}))
            return
        socket.queue.put_nowait(encode(_INVALID_COMMAND))

    async def _write_loop(self, socket: _Socket) -> None:
        while True:
            data = await socket.queue.get()
            if data is None:
                return
            if self.frame_delay > 0:
                await asyncio.sleep(self.frame_delay)
            if socket.ws.closed:
                return
            if socket.stalled:
                continue  # lost, as frames on a dead connection are
            try:
                if isinstance(data, bytes):
                    await socket.ws.send_bytes(data)
                else:
                    await socket.ws.send_str(data)
            except (ConnectionError, RuntimeError):
                return  # send errors are ignored, like the real server's
