"""A loopback websocket server that writes raw frames as a test scripts them, per connection.

Unlike ``websockets.sync``'s server, nothing reads for the script: it decides when (and
whether) the client's frames are read, and what goes out in one write.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable

from websockets.http11 import Request
from websockets.server import ServerProtocol


class RawPeer:
    """One accepted connection, its opening handshake done."""

    def __init__(self, sock: socket.socket) -> None:
        """Wrap an accepted socket (see :class:`RawPeerServer`)."""
        self.sock = sock
        self.protocol = ServerProtocol()

    def accept_handshake(self) -> None:
        """Read the client's upgrade request and accept it."""
        while True:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the client left during the handshake")
            self.protocol.receive_data(data)
            for event in self.protocol.events_received():
                if isinstance(event, Request):
                    self.protocol.send_response(self.protocol.accept(event))
                    self.write()
                    return

    def text(self, message: object) -> None:
        """Queue one text frame holding ``message`` as JSON (sent by :meth:`write`)."""
        self.protocol.send_text(json.dumps(message).encode())

    def write(self) -> None:
        """Send every queued frame in one write."""
        self.sock.sendall(b"".join(self.protocol.data_to_send()))


class RawPeerServer:
    """Accepts connections on loopback and runs ``script`` for each, in a thread of its own."""

    def __init__(self, script: Callable[[RawPeer], None]) -> None:
        """Listen on a free port."""
        self._script = script
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.peers: list[RawPeer] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, for a client configuration."""
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            peer = RawPeer(sock)
            self.peers.append(peer)
            threading.Thread(target=self._serve, args=(peer,), daemon=True).start()

    def _serve(self, peer: RawPeer) -> None:
        try:
            peer.accept_handshake()
            self._script(peer)
        except OSError:
            pass  # the client went away: the script is over
        finally:
            peer.sock.close()

    def close(self) -> None:
        """Stop accepting (connections already made run their scripts to the end)."""
        self._listener.close()
