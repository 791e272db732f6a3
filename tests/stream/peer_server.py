"""A ``websockets.sync`` server on loopback that runs a test's handler per connection."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from codex_manager.config import ClientConfig

Handler = Callable[[ServerConnection], None]


class PeerServer:
    """Runs ``handler`` for each connection; records what it saw."""

    def __init__(self, handler: Handler, **options: object) -> None:
        self.handler = handler
        self.scheme = "wss" if options.get("ssl") is not None else "ws"
        self.close_codes: list[int | None] = []
        self.headers: list[dict[str, str]] = []
        self.done = threading.Event()
        self._server: Server = serve(self._serve, "127.0.0.1", 0, **options)  # type: ignore[arg-type]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        port = self._server.socket.getsockname()[1]
        return f"{self.scheme}://127.0.0.1:{port}/api/stream"

    @property
    def config(self) -> ClientConfig:
        """A client configuration whose stream URL is this server's."""
        http_url = self.url.replace("ws", "http", 1).removesuffix("/api/stream")
        return ClientConfig(base_url=http_url)

    def _serve(self, connection: ServerConnection) -> None:
        request = connection.request
        assert request is not None
        self.headers.append({name.lower(): value for name, value in request.headers.raw_items()})
        try:
            self.handler(connection)
            with contextlib.suppress(ConnectionClosed, TimeoutError):
                connection.recv(timeout=2)  # until the client closes
        finally:
            close = connection.protocol.close_rcvd
            self.close_codes.append(None if close is None else close.code)
            self.done.set()

    def stop(self) -> None:
        self._server.shutdown()


def ready_events_then_close(thread_id: str, count: int) -> tuple[Handler, list[int]]:
    """A server going away right after it accepted: ``ready``, ``count`` tick events for
    ``thread_id`` and a close, all in one write, on the first connection; later ones get
    ``ready`` only. Also returns the list that counts the connections."""
    connections: list[int] = []

    def talk(connection: ServerConnection) -> None:
        connections.append(1)
        protocol = connection.protocol
        with connection.protocol_mutex:
            protocol.send_text(json.dumps({"type": "ready", "threadId": thread_id}).encode())
            if len(connections) == 1:
                for number in range(count):
                    event = {"type": "tick", "threadId": thread_id, "payload": number}
                    protocol.send_text(json.dumps(event).encode())
                protocol.send_close(1001, "going away")
            connection.socket.sendall(b"".join(protocol.data_to_send()))

    return talk, connections
