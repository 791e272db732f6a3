"""A tiny websocket server speaking the ``/api/stream`` protocol, for stream unit tests.

It follows server-contract section 4 (ready frame, subscribe/unsubscribe/ping commands,
thread-filtered delivery) and can misbehave on demand: stop answering pings, drop every
connection, restart on the same port, or send raw (malformed, binary) frames.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from codex_manager.config import ClientConfig
from codex_manager.json_types import JSONValue

T = TypeVar("T")


@dataclass
class _Socket:
    connection: ServerConnection
    filter: str | None
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class FakeClient:
    """The only thing a stream needs from a client: its config."""

    client_config: ClientConfig


class MiniStreamServer:
    """Serves ``/api/stream`` on a loopback port until closed (a context manager)."""

    def __init__(self) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port: int = probe.getsockname()[1]
        probe.close()
        self.answer_pings = True
        self.close_after_ready = False  # a flapping server: accepts, says ready, closes
        self.reject_status: int | None = None
        self.commands: list[JSONValue] = []
        self.paths: list[str] = []
        self.connections_opened = 0
        self._sockets: list[_Socket] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.start()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._server = serve(
            self._handle,
            "127.0.0.1",
            self.port,
            ping_interval=None,
            process_request=self._maybe_reject,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Shut the server down (the port refuses connections until :meth:`start`).

        Live connections end too, as when a server process exits (``Server.shutdown()``
        leaves them open before websockets 17).
        """
        if self._server is not None:
            self._server.shutdown()
            self.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> MiniStreamServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def config(self) -> ClientConfig:
        return ClientConfig(base_url=f"http://127.0.0.1:{self.port}")

    # -- protocol ----------------------------------------------------------------------

    def _maybe_reject(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.reject_status is None:
            return None
        return connection.respond(HTTPStatus(self.reject_status), "refused\n")

    def _handle(self, connection: ServerConnection) -> None:
        request = connection.request
        assert request is not None
        query = parse_qs(urlsplit(request.path).query)
        initial = (query.get("threadId") or [""])[0] or None
        entry = _Socket(connection, initial)
        with self._changed:
            self._sockets.append(entry)
            self.paths.append(request.path)
            self.connections_opened += 1
            self._changed.notify_all()
        try:
            self._send(entry, json.dumps({"type": "ready", "threadId": initial}))
            if self.close_after_ready:
                connection.close()
                return
            for message in connection:
                try:
                    command = json.loads(message)
                except ValueError:
                    command = None
                with self._changed:
                    self.commands.append(command)
                    self._changed.notify_all()
                kind = command.get("type") if isinstance(command, dict) else None
                if kind == "ping":
                    if self.answer_pings:
                        self._send(entry, '{"type":"pong"}')
                elif kind == "subscribe" and isinstance(command, dict):
                    thread = command.get("threadId")
                    entry.filter = thread if isinstance(thread, str) and thread else None
                elif kind == "unsubscribe":
                    entry.filter = None
                else:
                    self._send(entry, '{"type":"error","message":"invalid websocket command"}')
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                self._sockets.remove(entry)
                self._changed.notify_all()

    @staticmethod
    def _send(entry: _Socket, data: str | bytes) -> None:
        with entry.lock, contextlib.suppress(ConnectionClosed):
            entry.connection.send(data)

    # -- test controls -----------------------------------------------------------------

    def wait_for_connections(self, count: int, timeout: float = 10.0) -> None:
        """Wait until ``count`` connections were opened in total and one is live."""
        with self._changed:
            ok = self._changed.wait_for(
                lambda: self.connections_opened >= count and bool(self._sockets), timeout
            )
        assert ok, f"expected {count} connections, saw {self.connections_opened}"

    def wait_for_no_connections(self, timeout: float = 10.0) -> None:
        """Wait until every connection was closed (by either side)."""
        with self._changed:
            ok = self._changed.wait_for(lambda: not self._sockets, timeout)
        assert ok, f"{len(self._sockets)} connection(s) still open"

    def wait_for_command(self, command: JSONValue, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until ``command`` arrived ``count`` times in total."""
        with self._changed:
            ok = self._changed.wait_for(lambda: self.commands.count(command) >= count, timeout)
        assert ok, f"command {command!r} never arrived {count} times; got {self.commands!r}"

    def publish(self, event_type: str, thread_id: str | None, payload: JSONValue) -> None:
        """Deliver an event with the server's thread-filter rules."""
        text = json.dumps({"type": event_type, "threadId": thread_id, "payload": payload})
        with self._lock:
            targets = list(self._sockets)
        for entry in targets:
            if entry.filter is None or entry.filter == thread_id:
                self._send(entry, text)

    def send_raw(self, data: str | bytes) -> None:
        """Send a frame as is to every connection."""
        with self._lock:
            targets = list(self._sockets)
        for entry in targets:
            self._send(entry, data)

    def drop_connections(self) -> None:
        """Close every connection abruptly (the server keeps accepting)."""
        with self._lock:
            targets = list(self._sockets)
        for entry in targets:
            entry.connection.close_socket()


def tool_call_signal(
    thread_id: str, request_id: int, call_id: str, tool: str = "lookup"
) -> JSONValue:
    """The payload of an ``app_server.request.item.tool.call`` frame."""
    return {
        "source": "app_server",
        "signalType": "request",
        "eventType": "app_server.request.item.tool.call",
        "method": "item/tool/call",
        "receivedAt": "2026-11-24T09:16:16.003Z",
        "context": {"threadId": thread_id, "turnId": "turn-1"},
        "params": {
            "threadId": thread_id,
            "turnId": "turn-1",
            "callId": call_id,
            "tool": tool,
            "arguments": {"n": request_id},
        },
        "session": {"id": thread_id, "title": "New chat", "projectId": None},
        "requestId": request_id,
    }


def notification_signal(thread_id: str | None, method: str, event_type: str) -> JSONValue:
    """The payload of an ``app_server.<method>`` notification frame."""
    return {
        "source": "app_server",
        "signalType": "notification",
        "eventType": event_type,
        "method": method,
        "receivedAt": "2026-11-24T09:16:16.003Z",
        "context": {"threadId": thread_id, "turnId": "turn-1"},
        "params": {"threadId": thread_id},
        "session": None,
    }


class Recorder(Generic[T]):
    """A thread-safe list that tests can wait on."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self._changed = threading.Condition()

    def add(self, item: T) -> None:
        with self._changed:
            self.items.append(item)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[T]:
        """Wait for ``count`` items; fails the test on timeout."""
        with self._changed:
            ok = self._changed.wait_for(lambda: len(self.items) >= count, timeout)
            snapshot = list(self.items)
        assert ok, f"expected {count} items, got {len(snapshot)}: {snapshot!r}"
        return snapshot

    def snapshot(self) -> list[T]:
        with self._changed:
            return list(self.items)
