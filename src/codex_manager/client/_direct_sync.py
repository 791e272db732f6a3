"""The sync client's direct road for the tool-call answer: one kept connection per thread.

The sync client answers from many handler threads at once, one POST per tool call, so the
answer's CPU cost bounds its throughput and sits on every call's latency. Measured here for one
keep-alive POST on loopback: ``httpx.Client`` 300 us of CPU, httpcore (httpx's transport
library) 140 us, ``http.client`` 66-90 us, a request written in one send and parsed by httptools
20-30 us; httpcore's request and response models and h11's header validation are most of the
difference. So the answer goes out on a connection of :mod:`codex_manager.client._http1`
(httptools when installed, else ``http.client``), one keep-alive connection per answering
thread: through one shared pool, 32 threads queue on its lock twice per request. This module
only decides when a kept connection may be reused, gives the connection the httpx client's
write and read timeouts and turns failures into the httpx errors the httpx road raises, so
callers see the same error on either road.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time
import weakref
from typing import Final
from urllib.parse import quote, urlsplit

import httpx

from codex_manager.client._direct import RawAnswer
from codex_manager.client._http1 import (
    AnswerConnection,
    AnswerProtocolError,
    Http1Engine,
    distrust_tcp_info,
    installed_engine,
    open_connection,
)

MAX_CONNECTIONS: Final = 256
"""Connections the sync road keeps at most: the handler threads of two sync streams at their
default bound (128 each). With a stream per session, each stream has threads of its own; past
this, answers take the httpx road (one shared pool) instead of opening more connections."""

KEEPALIVE_EXPIRY_SECONDS: Final = 5.0
"""Idle seconds after which a kept-alive connection is not reused (httpx's default)."""

_IDENTITY: Final = ("accept-encoding", "identity")
"""This road decodes no content coding: without it a server may pick any (RFC 9110 12.5.3)."""

_URL_SAFE: Final = "/?#[]@!$&'()*+,;=:%-._~"
"""What stays as it is when a non-ASCII target is percent-encoded (httpx's choice as well)."""


def _watch(sock: socket.socket) -> select.poll | None:
    """A poller for ``sock``'s readability, made once per connection (``None``: no poll())."""
    if not hasattr(select, "poll"):
        return None
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return poller


def _server_hung_up(
    connection: AnswerConnection, sock: socket.socket, watch: select.poll | None
) -> bool:
    """Whether the server closed an idle kept-alive connection, or sent on it unasked.

    Either way the connection cannot carry another request: bytes waiting there would be read
    as the next request's answer. The kernel's word when the connection can ask it without
    giving up the GIL; else, or when that word is "changed" (rare: a check that costs a poll),
    whether the socket is readable. A changed connection that is not readable means the
    kernel's word cannot be trusted, and it is not asked again.
    """
    unchanged = connection.unchanged_since_answer()
    if unchanged is True:
        return False
    if watch is not None:
        readable = bool(watch.poll(0))
    else:
        ready, _, _ = select.select([sock], [], [], 0)  # Windows: no poll()
        readable = bool(ready)
    if unchanged is False and not readable:
        distrust_tcp_info()
    return readable


def _answer_after_failed_write(
    connection: AnswerConnection, limits: httpx.Timeout
) -> RawAnswer | None:
    """The answer a server sent before it stopped reading the request, if one can be read."""
    try:
        connection.limit_read(limits.read)
        status, headers, body = connection.read_response()
    except (OSError, AnswerProtocolError):
        return None
    return RawAnswer(status, httpx.Headers(headers), body)


class _ThreadSlot:
    """One thread's place on the road and its connection; freed when the thread ends.

    Only the thread's own thread-local storage holds it, so when the thread ends the slot is
    collected: its connection closes and the road counts one slot less.
    """

    __slots__ = ("__weakref__", "connection", "idle_since", "origin", "watch")

    def __init__(self) -> None:
        self.connection: AnswerConnection | None = None
        self.origin: tuple[str, str, int] | None = None
        self.idle_since = 0.0
        self.watch: select.poll | None = None

    def keep(self, connection: AnswerConnection, origin: tuple[str, str, int]) -> None:
        """Hold ``connection`` (to ``origin``) for the thread's next answers."""
        self.connection, self.origin = connection, origin
        sock = connection.sock
        self.watch = _watch(sock) if sock is not None else None

    def reusable(self, origin: tuple[str, str, int]) -> AnswerConnection | None:
        """The kept connection if it may carry the next request to ``origin``."""
        connection = self.connection
        if connection is None:
            return None
        sock = connection.sock
        if (
            sock is not None  # None: closed after an answer that ended it ("Connection: close")
            and self.origin == origin
            and time.monotonic() - self.idle_since < KEEPALIVE_EXPIRY_SECONDS
            and not _server_hung_up(connection, sock, self.watch)
        ):
            return connection
        self.drop()
        return None

    def drop(self) -> None:
        """Close the connection (if any); the next request opens a new one."""
        connection, self.connection = self.connection, None
        self.watch = None
        if connection is not None:
            connection.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # also runs at interpreter exit
            self.drop()


class SyncAnswerRoad:
    """POSTs for the sync client on one keep-alive connection per thread."""

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        *,
        max_connections: int = MAX_CONNECTIONS,
        engine: Http1Engine | None = None,
    ) -> None:
        """``ssl_context``: how to verify an ``https`` server (httpx's default when ``None``);
        ``max_connections``: threads beyond it answer through httpx (see :meth:`serves`);
        ``engine``: who parses answers (httptools when installed, unless given)."""
        self.engine: Http1Engine = engine or installed_engine()
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
    ) -> AnswerConnection:
        origin = (scheme, host, port)
        kept = slot.reusable(origin)
        if kept is not None:
            return kept
        connection = self._connect(scheme, host, port, limits.connect)
        with self._lock:
            closed = self._closed
            if not closed:
                slot.keep(connection, origin)
        if closed:
            connection.close()
            raise RuntimeError("the client is closed")
        return connection

    def _connect(
        self, scheme: str, host: str, port: int, timeout: float | None
    ) -> AnswerConnection:
        if scheme == "https" and self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        try:
            return open_connection(self.engine, scheme, host, port, timeout, self._ssl_context)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "connect timed out") from exc
        except OSError as exc:  # refused, unreachable, name resolution, TLS handshake
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc

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
            connection.limit_write(limits.write)
            try:
                connection.send_request(
                    target, parts.netloc.rpartition("@")[2], [*headers, _IDENTITY], content
                )
            except TimeoutError as exc:
                raise httpx.WriteTimeout(str(exc) or "write timed out") from exc
            except OSError as exc:
                # A server may answer before reading the whole request (a 413, say) and close:
                # httpx reads that answer instead of reporting the write that failed.
                early = _answer_after_failed_write(connection, limits)
                if early is None:
                    raise httpx.WriteError(str(exc) or type(exc).__name__) from exc
                slot.drop()
                return early
            except ValueError as exc:  # a header no request may carry (a line break in it)
                raise httpx.LocalProtocolError(str(exc)) from exc
            connection.limit_read(limits.read)  # usually unchanged
            try:
                status, answer_headers, body = connection.read_response()
            except TimeoutError as exc:
                raise httpx.ReadTimeout(str(exc) or "read timed out") from exc
            except AnswerProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            except OSError as exc:
                raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            slot.drop()  # never reuse a connection in an unknown state
            raise
        slot.idle_since = time.monotonic()
        return RawAnswer(status, httpx.Headers(answer_headers), body)

    def close(self) -> None:
        """Close every connection (threads that answer afterwards get an error)."""
        with self._lock:
            self._closed = True
            slots = list(self._slots)
        for slot in slots:
            slot.drop()


__all__ = ["KEEPALIVE_EXPIRY_SECONDS", "MAX_CONNECTIONS", "SyncAnswerRoad"]
