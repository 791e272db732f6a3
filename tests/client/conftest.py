"""Fixtures of the client tests: the fake server, and a tiny scripted HTTP server.

The scripted server answers each request with the next response queued by the test (status,
JSON body, headers) and records what it received, so status mapping, retries and headers can
be checked over a real loopback socket with exact control of every answer.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from codex_manager.testing import FakeCodexManager

HEALTH: dict[str, object] = {
    "status": "ok",
    "service": "api",
    "timestamp": "2026-01-01T00:00:00Z",
    "codex": {"running": True, "pid": 1, "initialized": True},
    "auth": {"hasOpenAiApiKey": False, "codexHomeAuthFile": True, "likelyUnauthenticated": False},
}
"""A ``GET /api/health`` body with the documented shape (the scripted server's default)."""

SESSIONS_PAGE: dict[str, object] = {"data": [], "nextCursor": None, "archived": False}
"""An empty ``GET /api/sessions`` page."""

ACCEPTED: dict[str, object] = {"status": "accepted", "sessionId": "s", "turnId": "t"}
"""A ``POST /api/sessions/{id}/messages`` 202 body."""


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int
    body: object = None  # JSON-serialisable, or raw bytes sent as text/plain
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (to provoke client timeouts)
    drop: bool = False  # close the connection without answering


@dataclass(frozen=True)
class Received:
    """One request as the scripted server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    header_lines: tuple[tuple[str, str], ...] = ()
    """Every header line as sent (names in lower case), repeated ones included."""


class ScriptedServer:
    """A loopback HTTP server answering from a queue (default: 200 with :data:`HEALTH`)."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                with server._lock:
                    server.received.append(
                        Received(
                            self.command,
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            tuple((k.lower(), v) for k, v in self.headers.items()),
                        )
                    )
                    reply = server.replies.popleft() if server.replies else Reply(200, HEALTH)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                payload = (
                    reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                )
                self.send_response(reply.status)
                content_type = "text/plain" if isinstance(reply.body, bytes) else "application/json"
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _answer  # noqa: N815  # http.server's names

            def log_message(self, format: str, *args: object) -> None:
                return

        class Server(ThreadingHTTPServer):
            def handle_error(
                self, request: socket.socket | tuple[bytes, socket.socket], client_address: object
            ) -> None:
                # A client that gave up (a timeout under test) breaks the pipe of the answer
                # being written: expected here, not worth a traceback in the test output.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order."""
        with self._lock:
            self.replies.extend(replies)

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    """A started :class:`ScriptedServer`."""
    server = ScriptedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeCodexManager]:
    """A :class:`FakeCodexManager` shared by the tests of a module."""
    with FakeCodexManager(noise=False) as server:
        yield server


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
