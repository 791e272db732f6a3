"""What handlers receive besides the event: :class:`HandlerContext`, and the stream options."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Final,
    Generic,
    Literal,
    Protocol,
    TypeAlias,
    TypeVar,
    cast,
    get_args,
)

from codex_manager._settings import check_count, is_number
from codex_manager.errors import ClientClosedError, ConfigError
from codex_manager.retry import RetryPolicy

if TYPE_CHECKING:
    from codex_manager.config import ClientConfig


class StreamClient(Protocol):
    """What a stream needs from its client: the connection settings."""

    @property
    def client_config(self) -> ClientConfig:
        """URL and auth headers of the server."""
        ...


class StreamControl(Protocol):
    """The part of a stream that handlers may drive."""

    def stop(self) -> None:
        """Ask the stream to stop; ``run_forever()`` returns soon after."""
        ...

    @property
    def running(self) -> bool:
        """Whether ``run_forever()`` or an ``events()`` iteration is in progress."""
        ...


ClientT = TypeVar("ClientT", bound=StreamClient)
ClientT_co = TypeVar("ClientT_co", bound=StreamClient, covariant=True)


class HandlerContext(Generic[ClientT_co]):
    """The second argument of every handler: the stream, its client and its thread.

    One context serves a whole ``run_forever()`` / ``events()`` run.
    """

    __slots__ = ("_client", "_stream", "_thread_id")

    def __init__(self, stream: StreamControl, client: ClientT_co, thread_id: str | None):
        """Bind a context to a running stream."""
        self._stream = stream
        self._client = client
        self._thread_id = thread_id

    @property
    def stream(self) -> StreamControl:
        """The stream that delivered the event."""
        return self._stream

    @property
    def client(self) -> ClientT_co:
        """The client the stream belongs to (``CodexManager`` or ``AsyncCodexManager``)."""
        return self._client

    @property
    def thread_id(self) -> str | None:
        """The thread the stream follows (``run_forever(thread_id=...)``), or ``None``."""
        return self._thread_id

    def stop(self) -> None:
        """Stop the stream; safe to call from the handler itself."""
        self._stream.stop()

    def __repr__(self) -> str:
        return f"HandlerContext(thread_id={self._thread_id!r})"


def check_thread_id(thread_id: object) -> None:
    """Reject a thread id that is neither ``None`` nor a non-empty string."""
    if thread_id is not None and (not isinstance(thread_id, str) or not thread_id):
        raise ValueError(f"thread_id must be a non-empty string or None (got {thread_id!r})")


def _default_reconnect_policy() -> RetryPolicy:
    # Reconnect "forever": 2**31 attempts at up to 15 s apart is decades.
    return RetryPolicy(max_attempts=2**31, initial_delay=0.25, max_delay=15.0, jitter=0.5)


WebSocketClientChoice: TypeAlias = Literal["auto", "aiohttp", "websockets"]
"""What reads the async stream (see ``StreamOptions.websocket_client``)."""

WEBSOCKET_CLIENT_CHOICES: Final = cast(
    "tuple[WebSocketClientChoice, ...]", get_args(WebSocketClientChoice)
)

DEFAULT_ASYNC_CONCURRENCY: Final = 256
"""Default bound on handler calls running at once on the async stream (tasks are cheap)."""

DEFAULT_THREAD_CONCURRENCY: Final = 128
"""Default bound on worker threads running plain handlers. A blocking handler holds its thread:
with 64, handlers that block 20 ms capped the sync stream lower than 128 does on the bench's 50
sessions (0.88x and 0.76x of its throughput with instant ones in the 2026-11-26 runs, shared
stream and stream per session); more threads did not raise it."""


@dataclass(frozen=True)
class StreamOptions:
    """Tuning of an event stream.

    Attributes:
        ping_interval: Seconds between ``ping`` commands.
        pong_timeout: Seconds to wait for the ``pong``; without it the connection is
            treated as dead and replaced. The sync stream also gives up a send after it (a
            server that stopped reading).
        open_timeout: Seconds allowed for the websocket handshake and the ``ready`` frame.
        close_timeout: Seconds allowed for a clean close.
        max_concurrency: Handler calls running at the same time. ``None`` (the default)
            picks one suited to the stream: 256 on the async stream, whose ``async def``
            handlers are cheap tasks (its plain handlers use at most 128 worker threads), and
            128 on the sync stream, where each call holds a thread. A number sets both.
            Threads start only when needed, so a high bound costs nothing while idle. The
            sync streams of a process share their worker threads: as many as the largest
            bound among the running ones, so that is also how many handlers all of them
            together run at once (each within its own bound).
        ordered_requests: Run server requests (``app_server.request.*``: tool calls,
            approvals, user-input requests) one at a time per (handler, thread), in arrival
            order, like every other frame. Off by default: requests are independent, so
            they run concurrently under ``max_concurrency`` (a handler blocked on one tool
            call does not delay the next). ``on_app_server_request(..., ordered=True)``
            asks the same for one handler.
        max_pending: Handler calls queued or running before the reader waits
            (backpressure: the reader stops reading until a handler finishes; a handler
            must therefore not wait for a later event of the same stream).
        max_frame_bytes: Largest accepted frame.
        shutdown_timeout: Seconds ``run_forever()`` waits, when stopping, for queued and
            running handlers to finish.
        reconnect: Backoff between reconnect attempts (``max_attempts`` bounds the
            consecutive failed attempts; the count resets once a connection lasted a
            second: a server that accepts and closes at once is backed off and given up on).
        websocket_client: What reads the async stream: ``"auto"`` (default) uses aiohttp's
            websocket client when aiohttp is installed (the ``aiohttp`` extra) and no
            environment proxy applies to the server, else ``websockets``; ``"aiohttp"`` or
            ``"websockets"`` choose explicitly. aiohttp parses frames in C (measured: about 45
            us lower latency per tool call). The sync stream always uses ``websockets``.
        tls_context: The TLS settings of a ``wss://`` stream (a private certificate
            authority, a client certificate): an ``ssl.SSLContext`` made for clients, e.g.
            ``ssl.create_default_context(cafile=...)``. ``None`` (the default) trusts what
            httpx trusts by default, the REST calls' own (certifi's bundle, or
            ``SSL_CERT_FILE``/``SSL_CERT_DIR``). An ``http_client`` given to the client
            does not lend its TLS settings to the stream: give them here too.
    """

    ping_interval: float = 15.0
    pong_timeout: float = 10.0
    open_timeout: float = 10.0
    close_timeout: float = 2.0
    max_concurrency: int | None = None
    ordered_requests: bool = False
    max_pending: int = 1024
    max_frame_bytes: int = 64 * 1024 * 1024
    shutdown_timeout: float = 30.0
    reconnect: RetryPolicy = field(default_factory=_default_reconnect_policy)
    websocket_client: WebSocketClientChoice = "auto"
    tls_context: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        for name in ("ping_interval", "pong_timeout", "open_timeout", "close_timeout"):
            value = getattr(self, name)
            if not (is_number(value) and value > 0):
                raise ConfigError(f"StreamOptions.{name} must be a number > 0 (got {value!r})")
        if not (is_number(self.shutdown_timeout) and self.shutdown_timeout >= 0):
            raise ConfigError(
                f"StreamOptions.shutdown_timeout must be a number >= 0 "
                f"(got {self.shutdown_timeout!r})"
            )
        check_count(self.max_concurrency, "StreamOptions.max_concurrency", optional=True)
        check_count(self.max_pending, "StreamOptions.max_pending")
        check_count(self.max_frame_bytes, "StreamOptions.max_frame_bytes")
        if self.websocket_client not in WEBSOCKET_CLIENT_CHOICES:
            raise ConfigError(
                "StreamOptions.websocket_client must be one of "
                f"{', '.join(map(repr, WEBSOCKET_CLIENT_CHOICES))}; got {self.websocket_client!r}"
            )

    def task_bound(self) -> int:
        """Handler calls running at once on the async stream."""
        return DEFAULT_ASYNC_CONCURRENCY if self.max_concurrency is None else self.max_concurrency

    def thread_bound(self) -> int:
        """Worker threads running plain handlers (on either stream)."""
        return DEFAULT_THREAD_CONCURRENCY if self.max_concurrency is None else self.max_concurrency


def check_client_open(client: object) -> None:
    """Refuse to follow the stream for an SDK client already closed (``is_closed``).

    Raises:
        ClientClosedError: the client is closed; its REST calls (tool-call answers among
            them) would fail, so its stream would take calls it cannot answer.
    """
    if getattr(client, "is_closed", False) is True:
        raise ClientClosedError("the client is closed: make a new one to follow the stream")


def report_stop_before_run() -> None:
    """Say why a run returns at once: :meth:`stop` was called while no run was going.

    Such a stop is kept for the next run, so that one racing a run's start (a thread that has
    not reached ``run_forever()`` yet) is never lost; but a stop left over from long before,
    a clean-up ``stop()`` say, would otherwise make a later run end without a word.
    """
    logging.getLogger("codex_manager.stream").warning(
        "event stream: this run returns at once: stop() was called while no run was going, "
        "and such a stop applies to the next run"
    )


__all__ = [
    "DEFAULT_ASYNC_CONCURRENCY",
    "DEFAULT_THREAD_CONCURRENCY",
    "WEBSOCKET_CLIENT_CHOICES",
    "ClientT",
    "ClientT_co",
    "HandlerContext",
    "StreamClient",
    "StreamControl",
    "StreamOptions",
    "WebSocketClientChoice",
    "check_client_open",
    "check_thread_id",
    "report_stop_before_run",
]
