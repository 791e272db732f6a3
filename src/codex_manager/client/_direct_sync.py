"""The sync client's direct road for the tool-call answer: the standard library's HTTP client.

The sync client answers from many handler threads at once, one POST per tool call, so the
answer's CPU cost bounds its throughput and sits on every call's latency. Measured here for one
keep-alive POST on loopback: ``httpx.Client`` 300 us of CPU, httpcore (httpx's transport
library) 140 us, ``http.client`` 66 us; httpcore's request and response models and h11's header
validation are most of the difference. So the answer goes out on ``http.client`` (the
standard library's HTTP/1.1 client, which also parses the answer), with one keep-alive
connection per answering thread: through one shared pool, 32 threads queue on its lock twice
per request. This module only decides when a kept connection may be reused, maps the httpx
client's timeouts onto the socket and turns failures into the httpx errors the httpx road
raises, so callers see the same error on either road.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import ssl
import threading
import time
import weakref
from typing import Final
from urllib.parse import quote, urlsplit

import httpx

from codex_manager._sockets import set_timeout
from codex_manager.client._direct import RawAnswer

MAX_CONNECTIONS: Final = 256
"""Connections the sync road keeps at most: the handler threads of two sync streams at their
default bound (128 each). With a stream per session, each stream has threads of its own; past
this, answers take the httpx road (one shared pool) instead of opening more connections."""

KEEPALIVE_EXPIRY_SECONDS: Final = 5.0
"""Idle seconds after which a kept-alive connection is not reused (httpx's default)."""

_URL_SAFE: Final = "/?#[]@!$&'()*+,;=:%-._~"
"""What stays as it is when a non-ASCII target is percent-encoded (httpx's choice as well)."""


def _server_hung_up(sock: socket.socket) -> bool:
    """Whether an idle kept-alive socket is readable: the server closed it (or broke HTTP)."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([sock], [], [], 0)  # Windows: no poll()
    return bool(readable)


class _ThreadSlot:
    """One thread's place on the road and its connection; freed when the thread ends.

    Only the thread's own thread-local storage holds it, so when the thread ends the slot is
    collected: its connection closes and the road counts one slot less.
    """

    __slots__ = ("__weakref__", "connection", "idle_since", "origin")

    def __init__(self) -> None:
        self.connection: http.client.HTTPConnection | None = None
        self.origin: tuple[str, str, int] | None = None
        self.idle_since = 0.0

    def reusable(self, origin: tuple[str, str, int]) -> http.client.HTTPConnection | None:
        """The kept connection if it may carry the next request to ``origin``."""
        connection = self.connection
        if connection is None:
            return None
        sock = connection.sock
        if (
            sock is not None  # None: http.client closed it ("Connection: close")
            and self.origin == origin
            and time.monotonic() - self.idle_since < KEEPALIVE_EXPIRY_SECONDS
            and not _server_hung_up(sock)
        ):
            return connection
        self.drop()
        return None

    def drop(self) -> None:
        """Close the connection (if any); the next request opens a new one."""
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # also runs at interpreter exit
            self.drop()


class StdlibAnswerRoad:
    """POSTs for the sync client on one keep-alive ``http.client`` connection per thread."""

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        *,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        """``ssl_context``: how to verify an ``https`` server (httpx's default when ``None``);
        ``max_connections``: threads beyond it answer through httpx (see :meth:`serves`)."""
        self._max_connections = max_connections
        self._ssl_context = ssl_context
        self._local = threading.local()
        self._lock = threading.Lock()
        self._slots: weakref.WeakSet[_ThreadSlot] = weakref.WeakSet()
        self._closed = False

    def serves(self) -> bool:
        """Whether the calling thread holds one of the road's slots or could take one now.

        Slots are bounded (``max_connections``, one connection each): once that many threads
        hold one, the others' answers take the httpx road instead of opening more.
        """
        if getattr(self._local, "slot", None) is not None:
            return True
        with self._lock:
            if len(self._slots) >= self._max_connections:
                return False
            slot = _ThreadSlot()
            self._slots.add(slot)
        self._local.slot = slot
        return True

    def _connection(
        self, slot: _ThreadSlot, scheme: str, host: str, port: int, limits: httpx.Timeout
    ) -> http.client.HTTPConnection:
        origin = (scheme, host, port)
        kept = slot.reusable(origin)
        if kept is not None:
            return kept
        connection = self._connect(scheme, host, port, limits.connect)
        with self._lock:
            closed = self._closed
            if not closed:
                slot.connection, slot.origin = connection, origin
        if closed:
            connection.close()
            raise RuntimeError("the client is closed")
        return connection

    def _connect(
        self, scheme: str, host: str, port: int, timeout: float | None
    ) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context()
            connection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=self._ssl_context
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            connection.connect()  # now, so that a failure here is known to precede the request
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "connect timed out") from exc
        except OSError as exc:  # refused, unreachable, name resolution, TLS handshake
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        # http.client writes the request line and headers, then the body, in two sends: without
        # TCP_NODELAY the body could wait for the first segment's acknowledgement (Nagle).
        with contextlib.suppress(OSError):
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def post(
        self, url: str, content: bytes, headers: list[tuple[str, str]], limits: httpx.Timeout
    ) -> RawAnswer:
        """POST ``content`` within ``limits``, from a thread :meth:`serves` admitted.

        Raises the httpx error the httpx road would raise for the same failure: ``ConnectError``
        or ``ConnectTimeout`` before a request byte was written, ``WriteTimeout``/``WriteError``
        while sending, ``ReadTimeout``/``ReadError``/``RemoteProtocolError`` for the answer.
        """
        if not self.serves():
            raise RuntimeError("every connection slot of the answer road is taken")
        slot: _ThreadSlot = self._local.slot
        parts = urlsplit(url)
        scheme = parts.scheme
        port = parts.port or (443 if scheme == "https" else 80)
        connection = self._connection(slot, scheme, parts.hostname or "", port, limits)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        if not target.isascii():
            target = quote(target, safe=_URL_SAFE)
        try:
            sock = connection.sock
            assert sock is not None  # connected by _connection
            set_timeout(sock, limits.write)
            try:
                connection.putrequest("POST", target, skip_host=True, skip_accept_encoding=True)
                connection.putheader("Host", parts.netloc.rpartition("@")[2])
                for name, value in headers:
                    connection.putheader(name, value)
                connection.putheader("Content-Length", str(len(content)))
                connection.endheaders(content)
            except TimeoutError as exc:
                raise httpx.WriteTimeout(str(exc) or "write timed out") from exc
            except OSError as exc:
                raise httpx.WriteError(str(exc) or type(exc).__name__) from exc
            set_timeout(sock, limits.read)  # usually unchanged
            try:
                response = connection.getresponse()
                body = response.read()
            except TimeoutError as exc:
                raise httpx.ReadTimeout(str(exc) or "read timed out") from exc
            except http.client.HTTPException as exc:  # closed early, not HTTP, cut short
                raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__) from exc
            except OSError as exc:
                raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            slot.drop()  # never reuse a connection in an unknown state
            raise
        slot.idle_since = time.monotonic()
        return RawAnswer(response.status, httpx.Headers(response.getheaders()), body)

    def close(self) -> None:
        """Close every connection (threads that answer afterwards get an error)."""
        with self._lock:
            self._closed = True
            slots = list(self._slots)
        for slot in slots:
            slot.drop()


__all__ = ["KEEPALIVE_EXPIRY_SECONDS", "MAX_CONNECTIONS", "StdlibAnswerRoad"]
