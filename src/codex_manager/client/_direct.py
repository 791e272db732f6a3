"""A shorter road for the tool-call answer: straight onto the connections under httpx.

Every tool call ends in one ``POST /api/tool-calls/{requestId}/response``, so its cost bounds
how many calls a client can serve. Through ``httpx`` that POST spends more CPU in httpx's own
URL, header, request, response and cookie objects than in the connection pool that carries it
(measured here: about 240 us per answer through httpx on httpx-aiohttp against 85 us on the
same aiohttp session; 320 us through ``httpx.Client`` against 200 us on httpcore).

So when nothing could tell the difference, the SDK hands the answer route's request straight to
what the httpx client itself sends through: the aiohttp session of the client's httpx-aiohttp
transport (the same connections), or, for the sync client, httpcore (httpx's own transport
library) with a keep-alive connection per answering thread. "Nothing could tell" means: the SDK
created the httpx client itself, no proxy applies to the server, and the client has no auth,
event hooks of someone else, default query parameters, cookies or redirect following (see
:func:`untouched`). Everything else a request gets still happens: the route's generated request
model checks the body and its generated response parser checks the answer, the SDK's hooks run,
the client's headers and timeouts apply, and retries, status mapping and errors are the same as
on the httpx path.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
import urllib.request
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import httpx

if TYPE_CHECKING:
    import aiohttp
    import httpcore
    from httpx_aiohttp import AiohttpTransport

DIRECT_OPERATIONS: Final = frozenset({"respondToolCall"})
"""Operations sent on the direct road when it is open (the per-tool-call answer only)."""

_SKIPPED_HEADERS: Final = frozenset({"accept-encoding", "content-length", "host"})
"""httpx defaults the pool sets itself. Without httpx's ``Accept-Encoding``, aiohttp offers (and
decodes) what it supports and httpcore, which decodes nothing, is answered uncompressed."""

MAX_CONNECTIONS: Final = 256
"""Connections the sync road keeps at most: the handler threads of four sync streams at their
default bound (64 each). With a stream per session, each stream has threads of its own; past
this, answers take the httpx road (one shared pool) instead of opening more connections."""

KEEPALIVE_EXPIRY_SECONDS: Final = 5.0
"""Idle seconds after which a kept-alive connection is not reused (httpx's default)."""


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """An HTTP answer as the pool delivered it."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes


def encode_json_body(body: object) -> bytes:
    """A request body as JSON, byte for byte what httpx's ``json=`` sends (NaN refused alike)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def proxy_applies(base_url: str) -> bool:
    """Whether the environment routes requests for ``base_url`` through a proxy."""
    proxies = urllib.request.getproxies()
    if not proxies:
        return False
    host = urlsplit(base_url).hostname or ""
    return not urllib.request.proxy_bypass(host)


def untouched(http: httpx.Client | httpx.AsyncClient, own_hooks: int) -> bool:
    """Whether ``http`` still sends as the SDK set it up.

    Anything httpx would add to the request or do with the answer that the direct road does
    not: authentication, event hooks other than the SDK's own, default query parameters,
    cookies to send, redirects to follow.
    """
    hooks = http.event_hooks
    return (
        http.auth is None
        and len(hooks.get("request", ())) == own_hooks
        and len(hooks.get("response", ())) == own_hooks
        and not http.params
        and not http.follow_redirects
        and not http.cookies.jar
    )


def request_headers(
    http: httpx.Client | httpx.AsyncClient, extra: Mapping[str, str]
) -> list[tuple[str, str]]:
    """The headers the httpx client would send with a JSON body, plus ``extra``."""
    headers = [
        (name, value)
        for name, value in http.headers.multi_items()
        if name.lower() not in _SKIPPED_HEADERS
    ]
    headers.append(("content-type", "application/json"))
    for name, value in extra.items():
        lowered = name.lower()
        headers = [pair for pair in headers if pair[0].lower() != lowered]
        headers.append((name, value))
    return headers


class AiohttpAnswerRoad:
    """POSTs on the aiohttp session of the SDK's own httpx-aiohttp transport."""

    def __init__(self, transport: AiohttpTransport) -> None:
        """Send on ``transport``'s session (created by the transport on first use)."""
        import aiohttp  # loaded already: the transport is built on it

        self._aiohttp = aiohttp
        self._transport = transport
        self._timeout_for: tuple[httpx.Timeout, aiohttp.ClientTimeout] | None = None

    def _session(self) -> aiohttp.ClientSession:
        client = self._transport.client
        if isinstance(client, self._aiohttp.ClientSession):
            return client
        # Exactly what the transport does on its first request: both roads share one session.
        session = self._transport.get_client()
        self._transport.client = session
        return session

    def _timeout(self, timeout: httpx.Timeout) -> aiohttp.ClientTimeout:
        # httpx.Timeout is unhashable; the client's one rarely changes, so remember the last.
        known = self._timeout_for
        if known is not None and known[0] is timeout:
            return known[1]
        # The same mapping httpx-aiohttp applies to the requests it carries.
        mapped = self._aiohttp.ClientTimeout(
            sock_connect=timeout.connect, sock_read=timeout.read, connect=timeout.pool
        )
        self._timeout_for = (timeout, mapped)
        return mapped

    async def post(
        self, url: str, content: bytes, headers: list[tuple[str, str]], limits: httpx.Timeout
    ) -> RawAnswer:
        """POST ``content`` within the httpx client's ``limits``; aiohttp errors propagate."""
        session = self._session()
        async with session.request(
            "POST",
            url,
            data=content,
            headers=headers,
            allow_redirects=False,
            timeout=self._timeout(limits),
        ) as response:
            body = await response.read()
            return RawAnswer(response.status, response.headers, body)


class _HeldConnection:
    """A thread's connection; closed when the thread ends (its thread-local storage goes)."""

    __slots__ = ("connection", "origin")

    def __init__(self, connection: httpcore.HTTPConnection, origin: tuple[str, str, int]) -> None:
        self.connection = connection
        self.origin = origin

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # also runs at interpreter exit
            self.connection.close()


class HttpcoreAnswerRoad:
    """POSTs for the sync client on one keep-alive httpcore connection per sending thread.

    The sync client answers from many worker threads at once. Through one shared
    ``httpcore.ConnectionPool`` they queue on the pool's lock twice per request (measured here
    with 32 threads: 330 us of CPU per answer, against 230 us with a connection per thread), so
    each thread keeps its own ``httpcore.HTTPConnection`` to the server instead, replaced when
    the server closed it or it idled past the keep-alive expiry. There are never more
    connections than threads that answer, and at most ``max_connections``.
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        *,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        """``ssl_context``: how to verify an ``https`` server (httpx's default when ``None``);
        ``max_connections``: threads beyond it answer through httpx (see :meth:`serves`)."""
        self._max_connections = max_connections
        import httpcore  # what httpx.Client sends through; imported by it on first use anyway

        self._httpcore = httpcore
        self._ssl_context = ssl_context
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: weakref.WeakSet[httpcore.HTTPConnection] = weakref.WeakSet()
        self._closed = False

    def serves(self) -> bool:
        """Whether the calling thread has a connection here or may open one.

        Connections are bounded (``max_connections``): once that many threads hold one, the
        others' answers take the httpx road instead of opening more.
        """
        return (
            getattr(self._local, "held", None) is not None
            or len(self._open) < self._max_connections
        )

    def _connection(self, scheme: str, host: str, port: int) -> httpcore.HTTPConnection:
        origin = (scheme, host, port)
        held: _HeldConnection | None = getattr(self._local, "held", None)
        if held is not None:
            current = held.connection
            if held.origin == origin and current.is_available() and not current.has_expired():
                return current
            self._local.held = None  # closes it
        if scheme == "https" and self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        core = self._httpcore
        connection: httpcore.HTTPConnection = core.HTTPConnection(
            origin=core.Origin(scheme.encode("ascii"), host.encode("idna"), port),
            ssl_context=self._ssl_context,
            keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
        )
        with self._lock:
            if self._closed:
                raise RuntimeError("the client is closed")
            self._open.add(connection)
        self._local.held = _HeldConnection(connection, origin)
        return connection

    def post(
        self, url: str, content: bytes, headers: list[tuple[str, str]], limits: httpx.Timeout
    ) -> RawAnswer:
        """POST ``content`` within ``limits``; httpcore errors propagate (the caller maps them)."""
        parts = urlsplit(url)
        scheme = parts.scheme
        port = parts.port or (443 if scheme == "https" else 80)
        connection = self._connection(scheme, parts.hostname or "", port)
        wire_headers = [(b"Host", parts.netloc.rpartition("@")[2].encode("ascii"))]
        wire_headers.extend(
            (name.encode("latin-1"), value.encode("latin-1")) for name, value in headers
        )
        wire_headers.append((b"Content-Length", str(len(content)).encode("ascii")))
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        # Handing httpcore the parts it would parse out of ``url`` again saves ~15 us here.
        wire_url: httpcore.URL | str = (
            self._httpcore.URL(
                scheme=scheme.encode("ascii"),
                host=(parts.hostname or "").encode("idna"),
                port=port,
                target=target.encode("ascii"),
            )
            if target.isascii()
            else url  # let httpcore encode what is not plain ASCII
        )
        try:
            response = connection.request(
                "POST",
                wire_url,
                headers=wire_headers,
                content=content,
                extensions={"timeout": limits.as_dict()},
            )
        except BaseException:
            self._local.held = None  # never reuse a connection in an unknown state
            raise
        return RawAnswer(response.status, httpx.Headers(response.headers), response.content)

    def close(self) -> None:
        """Close every connection (threads that answer afterwards get an error)."""
        with self._lock:
            self._closed = True
            connections = list(self._open)
        for connection in connections:
            connection.close()


__all__ = [
    "DIRECT_OPERATIONS",
    "AiohttpAnswerRoad",
    "HttpcoreAnswerRoad",
    "RawAnswer",
    "encode_json_body",
    "proxy_applies",
    "request_headers",
    "untouched",
]
