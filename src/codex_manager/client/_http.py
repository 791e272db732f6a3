"""Which HTTP transport the async client sends through, and what its failures mean.

Stock ``httpx.AsyncClient`` (httpcore) costs about 1 ms of CPU per request and scans its
whole connection pool for every request, which makes it the bottleneck when many tool calls
are answered at once. ``httpx-aiohttp`` keeps the httpx API that the generated bindings use
and sends through aiohttp instead; the async client picks it when it is installed.

httpx-aiohttp maps aiohttp's exceptions onto httpx's coarsely: a server that drops the
connection after reading the request (``ServerDisconnectedError``) and a refused connection
(``ClientConnectorError``) both become ``httpx.ConnectTimeout``. The retry policy replays a
non-idempotent request after a connect failure because it never reached the server, which
holds only for the second case. :func:`classify_failure` therefore judges an error by the
aiohttp exception it came from, when there is one.

The httpx clients the SDK creates for itself (sync and async) also skip httpx's per-answer
cookie-jar round trip when an answer sets no cookie (:class:`_SetCookieAwareCookies`).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from functools import cache
from http.cookiejar import CookieJar
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, cast, get_args

import httpx

from codex_manager.errors import ConfigError

if TYPE_CHECKING:
    from httpx_aiohttp import AiohttpTransport

HttpTransportChoice: TypeAlias = Literal["auto", "aiohttp", "httpx"]
"""The async client's HTTP transport: ``"aiohttp"`` (httpx-aiohttp), ``"httpx"`` (stock
httpcore), or ``"auto"``: aiohttp when ``httpx-aiohttp`` is installed, else httpx."""

HTTP_TRANSPORT_CHOICES: Final = cast(
    "tuple[HttpTransportChoice, ...]", get_args(HttpTransportChoice)
)

FailureKind: TypeAlias = Literal["connect", "timeout", "protocol"]
"""``connect``: the request provably never left the client; ``timeout``: no answer in time
(the server may have received it); ``protocol``: anything else (it may have been received)."""


@cache
def aiohttp_transport_available() -> bool:
    """Whether ``httpx-aiohttp`` (and so aiohttp) can be imported."""
    return importlib.util.find_spec("httpx_aiohttp") is not None


def resolve_http_transport(choice: str) -> Literal["aiohttp", "httpx"]:
    """The transport ``choice`` stands for here; a bad or unavailable choice raises.

    Raises:
        ConfigError: ``choice`` is not one of ``"auto"``, ``"aiohttp"``, ``"httpx"``, or is
            ``"aiohttp"`` while ``httpx-aiohttp`` is not installed.
    """
    if choice == "httpx":
        return "httpx"
    if choice == "aiohttp":
        if not aiohttp_transport_available():
            raise ConfigError(
                "http_transport='aiohttp' needs the httpx-aiohttp package "
                "(pip install httpx-aiohttp), or pass http_transport='httpx'"
            )
        return "aiohttp"
    if choice == "auto":
        return "aiohttp" if aiohttp_transport_available() else "httpx"
    raise ConfigError(
        f"http_transport must be one of {', '.join(map(repr, HTTP_TRANSPORT_CHOICES))}; "
        f"got {choice!r}"
    )


class _SetCookieAwareCookies(httpx.Cookies):
    """httpx's cookie store, skipping the cookie jar for answers that set no cookie.

    After every answer httpx rebuilds the request and the response as ``urllib`` objects for
    ``http.cookiejar`` (about 50 us of CPU per call here), and the jar then reads nothing but
    the ``Set-Cookie`` / ``Set-Cookie2`` headers. Without them the result is the same.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        """Store the cookies ``response`` sets (nothing to do when it sets none)."""
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


class _CheapCookies:
    """Mixin for the httpx clients the SDK creates: :attr:`cookies` skips cookieless answers.

    httpx 0.28 reads and updates a client's cookies through this property only. Until the
    property is assigned, it and the base class's own store wrap one :class:`CookieJar`, so
    an httpx that bypassed the property would still see every cookie (just more slowly).
    """

    _sdk_cookies: _SetCookieAwareCookies

    def _new_shared_jar(self) -> CookieJar:
        jar = CookieJar()
        self._sdk_cookies = _SetCookieAwareCookies(jar)
        return jar

    @property
    def cookies(self) -> httpx.Cookies:
        """Cookies sent with every request (as on ``httpx.Client``)."""
        return self._sdk_cookies

    @cookies.setter
    def cookies(self, cookies: httpx.Cookies | CookieJar | dict[str, str]) -> None:
        self._sdk_cookies = _SetCookieAwareCookies(httpx.Cookies(cookies).jar)


class SdkHttpClient(_CheapCookies, httpx.Client):
    """The ``httpx.Client`` of a :class:`~codex_manager.CodexManager` that made its own."""

    def __init__(self, *, base_url: str, timeout: float, transport: httpx.BaseTransport | None):
        super().__init__(
            base_url=base_url, timeout=timeout, transport=transport, cookies=self._new_shared_jar()
        )


class SdkAsyncHttpClient(_CheapCookies, httpx.AsyncClient):
    """The stock-httpx ``httpx.AsyncClient`` of an async client that made its own."""

    def __init__(
        self, *, base_url: str, timeout: float, transport: httpx.AsyncBaseTransport | None
    ):
        super().__init__(
            base_url=base_url, timeout=timeout, transport=transport, cookies=self._new_shared_jar()
        )


@cache
def _aiohttp_client_class() -> type[httpx.AsyncClient]:
    """``HttpxAiohttpClient`` with the cookie shortcut (defined on first use: aiohttp is big)."""
    import aiohttp
    from httpx_aiohttp import AiohttpTransport, HttpxAiohttpClient

    class NoReplayTransport(AiohttpTransport):
        """httpx-aiohttp's transport, whose aiohttp session never sends a request twice.

        aiohttp sends a GET, PUT or DELETE a second time, once, when its connection drops
        before the response: under the SDK's retry policy and out of its hooks' sight. A
        deletion the server carried out before the drop then read 410 Gone (a failure), and
        ``max_attempts`` counted half the requests sent. The SDK's policy decides alone.
        """

        def get_client(self) -> aiohttp.ClientSession:
            session = super().get_client()
            # No public switch: the attribute is one ClientSession lets be set (its ATTRS),
            # as aiohttp's own tests do, since aiohttp 3.11 (the SDK's floor); tests/client
            # check that a dropped DELETE goes once.
            session._retry_connection = False
            return session

    def without_replays(transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        if type(transport) is AiohttpTransport:
            # Built by HttpxAiohttpClient with the client's settings (proxies included);
            # only the way it makes its session changes.
            transport.__class__ = NoReplayTransport
        return transport

    class SdkAiohttpClient(_CheapCookies, HttpxAiohttpClient):
        """The aiohttp-backed ``httpx.AsyncClient`` of an async client that made its own."""

        sdk_transport: httpx.AsyncBaseTransport | None = None
        """The transport built for direct requests (proxies get transports of their own)."""

        def __init__(self, *, base_url: str, timeout: float):
            super().__init__(base_url=base_url, timeout=timeout, cookies=self._new_shared_jar())

        def _init_transport(self, *args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
            # HttpxAiohttpClient builds its aiohttp transport here; passing one in instead
            # would make httpx ignore the environment's proxies, so keep the one it builds.
            transport = without_replays(super()._init_transport(*args, **kwargs))
            self.sdk_transport = transport
            return transport

        def _init_proxy_transport(self, *args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
            return without_replays(super()._init_proxy_transport(*args, **kwargs))

    return SdkAiohttpClient


def carried_by_aiohttp(client: httpx.AsyncClient) -> bool:
    """Whether ``client`` sends through httpx-aiohttp (its own or one it was given).

    aiohttp re-parses each URL, decoding ``%2E`` and resolving dot segments, so a path the SDK
    encoded to keep a ``..`` as one segment would reach another route.
    """
    transport = getattr(client, "_transport", None)
    return any(
        kind.__module__.partition(".")[0] == "httpx_aiohttp"
        for kind in (*type(client).__mro__, *type(transport).__mro__)
    )


@dataclass(frozen=True)
class AsyncHttpSetup:
    """The ``httpx.AsyncClient`` an async SDK client made, and its aiohttp transport if any."""

    client: httpx.AsyncClient
    aiohttp_transport: AiohttpTransport | None
    """The httpx-aiohttp transport under :attr:`client` (``None``: stock httpx or a given one)."""


def new_async_http_client(
    *,
    base_url: str,
    timeout: float,
    choice: str,
    transport: httpx.AsyncBaseTransport | None,
) -> AsyncHttpSetup:
    """The ``httpx.AsyncClient`` the async SDK client owns.

    An explicit ``transport`` wins over ``choice``. With aiohttp the client is an
    ``httpx_aiohttp.HttpxAiohttpClient``, which also routes environment proxies through
    aiohttp (as stock httpx would honour them).
    """
    if transport is None and resolve_http_transport(choice) == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        client = _aiohttp_client_class()(base_url=base_url, timeout=timeout)
        built = getattr(client, "sdk_transport", None)
        return AsyncHttpSetup(client, built if isinstance(built, AiohttpTransport) else None)
    if transport is None:
        resolve_http_transport(choice)  # a misspelt choice is an error whatever is installed
    return AsyncHttpSetup(
        SdkAsyncHttpClient(base_url=base_url, timeout=timeout, transport=transport), None
    )


def failure_detail(exc: BaseException) -> str:
    """``exc`` as a message says it: the aiohttp error underneath when there is one, for
    httpx-aiohttp names a refused connection and a dropped one alike ``ConnectTimeout``."""
    shown = _aiohttp_cause(exc) or exc
    return f"{type(shown).__name__}: {shown}" if str(shown) else type(shown).__name__


def cause_of_kind(
    exc: BaseException,
    kind: type[BaseException] | tuple[type[BaseException], ...],
    *,
    implicit: bool = False,
) -> BaseException | None:
    """``exc`` or the first exception it was raised from that is a ``kind``. By default
    only explicit causes (``raise ... from``): an implicit context may be an unrelated
    exception the caller was handling; ``implicit`` follows contexts too (for a kind that
    cannot be unrelated, such as a refused certificate: the libraries under httpx raise
    some of their errors while handling others)."""
    seen: BaseException | None = exc
    for _ in range(8):  # a short chain; the bound guards against cycles
        if seen is None:
            return None
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or (seen.__context__ if implicit else None)
    return None


def _aiohttp_cause(exc: BaseException) -> BaseException | None:
    """The aiohttp exception ``exc`` was raised from, if any (aiohttp already imported)."""
    if "aiohttp" not in sys.modules:
        return None
    import aiohttp

    return cause_of_kind(exc, aiohttp.ClientError)


def _classify_aiohttp(cause: BaseException) -> FailureKind:
    import aiohttp

    # Raised while opening a connection (refused, DNS, TLS) or waiting for one: no request
    # byte was written. Every other connection error may follow a complete request.
    if isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return "connect"
    if isinstance(cause, aiohttp.ServerTimeoutError):
        return "timeout"
    return "protocol"


def classify_failure(exc: BaseException) -> FailureKind:
    """What an HTTP failure means for replaying the request (see :data:`FailureKind`)."""
    cause = _aiohttp_cause(exc)
    if cause is not None:
        return _classify_aiohttp(cause)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return "connect"
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timeout"
    return "protocol"


def is_unmapped_aiohttp_error(exc: BaseException) -> bool:
    """An aiohttp error that httpx-aiohttp let through without turning it into an httpx one."""
    if "aiohttp" not in sys.modules:
        return False
    import aiohttp

    return isinstance(exc, aiohttp.ClientError)


__all__ = [
    "HTTP_TRANSPORT_CHOICES",
    "AsyncHttpSetup",
    "FailureKind",
    "HttpTransportChoice",
    "SdkAsyncHttpClient",
    "SdkHttpClient",
    "aiohttp_transport_available",
    "classify_failure",
    "is_unmapped_aiohttp_error",
    "new_async_http_client",
    "resolve_http_transport",
]
