"""A loopback listener that answers one connection with fixed bytes once the request head came.

For tests of what a client sends before the body, or of an answer that comes early.
"""

from __future__ import annotations

import socket
import threading
import time


class OneShotServer:
    """Accepts one connection, records its request head, sends ``reply``, lingers, closes."""

    def __init__(self, reply: bytes, *, linger: float = 0.0) -> None:
        """Listen now; ``linger``: seconds to keep the connection open after replying."""
        self.heads: list[bytes] = []
        self._reply = reply
        self._linger = linger
        self._listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._answer, daemon=True).start()

    @property
    def port(self) -> int:
        """The port it listens on."""
        port: int = self._listener.getsockname()[1]
        return port

    def _answer(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(65536)
            self.heads.append(head)
            conn.sendall(self._reply)
            time.sleep(self._linger)  # then closes, the rest of the request unread

    def close(self) -> None:
        """Stop listening."""
        self._listener.close()
