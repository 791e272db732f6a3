"""Handler registry and routing, shared by the sync and the async stream.

Routing a frame is one dictionary lookup in a per-key cache: the handlers for an event
type (exact and prefix registrations) plus, for ``app_server.*`` signals, those for its
``(signal type, normalized method)``. Registrations are copy-on-write, so the reader
never takes a lock.
"""

from __future__ import annotations

import functools
import inspect
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, Literal, TypeAlias, TypeVar, overload

from codex_manager._warnings import caller_stacklevel
from codex_manager.stream._event_types import (
    KNOWN_EVENT_TYPES,
    NOTIFICATION_PREFIX,
    REQUEST_PREFIX,
)
from codex_manager.stream._methods import (
    KNOWN_NOTIFICATION_METHODS,
    KNOWN_REQUEST_METHODS,
    KnownNotificationMethod,
    KnownRequestMethod,
)
from codex_manager.stream.context import ClientT, HandlerContext
from codex_manager.stream.errors import StreamError
from codex_manager.stream.frames import (
    AppServerSignal,
    Connected,
    Reconnected,
    SignalType,
    StreamEvent,
)
from codex_manager.stream.normalize import normalize_method

_R = TypeVar("_R")

# A handler takes (item, context) and may be a plain function or an ``async def``; its
# context is that of the client it is registered on (a handler written for the sync client
# cannot be registered on the async one: its ``context.client`` would be the wrong kind).
# The decorators give the handler back typed by its item, context and return types (extra
# parameters need defaults: the stream passes two arguments).
EventHandler: TypeAlias = Callable[[StreamEvent, HandlerContext[ClientT]], _R]
"""A handler of :class:`StreamEvent` (sync, or async returning an awaitable)."""

SignalHandler: TypeAlias = Callable[[AppServerSignal, HandlerContext[ClientT]], _R]
"""A handler of :class:`AppServerSignal`."""

ErrorHandler: TypeAlias = Callable[[StreamError, HandlerContext[ClientT]], _R]
"""A handler of stream errors."""

ReconnectHandler: TypeAlias = Callable[[Reconnected, HandlerContext[ClientT]], _R]
"""A handler called after each reconnect."""

ConnectHandler: TypeAlias = Callable[[Connected, HandlerContext[ClientT]], _R]
"""A handler called each time a connection is ready (the first one included)."""

HandlerKind: TypeAlias = Literal["event", "prefix", "signal", "error", "reconnect", "connect"]
_RouteKey: TypeAlias = str | tuple[str, str, str]
_CACHE_LIMIT: Final = 4096
_NO_ENTRIES: tuple[HandlerEntry, ...] = ()


@dataclass(frozen=True, eq=False, slots=True)
class HandlerEntry:
    """One registration: the callable, how to call it, and what it was registered for.

    ``ordered`` asks for server requests to reach this handler one at a time per thread,
    in arrival order (other frames always do).
    """

    handler: Callable[..., object]
    name: str
    is_async: bool
    kind: HandlerKind
    key: str | None
    ordered: bool = False


def _entry(
    handler: Callable[..., object], kind: HandlerKind, key: str | None, ordered: bool = False
) -> HandlerEntry:
    if not callable(handler):
        raise TypeError(f"a stream handler must be callable, got {handler!r}")
    name = getattr(handler, "__qualname__", None) or repr(handler)
    _check_takes_event_and_context(handler, name)
    return HandlerEntry(handler, name, inspect.iscoroutinefunction(handler), kind, key, ordered)


def _check_takes_event_and_context(handler: Callable[..., object], name: str) -> None:
    """Refuse, at registration, a handler that cannot be called as ``handler(event, context)``.

    Otherwise the mistake (``def on_call(signal):``) shows only when an event comes, as a
    ``HandlerError`` for every event, and a tool call it was to answer stays pending.
    """
    try:
        # The callable the stream calls, not what a functools.wraps decorator wraps: such a
        # wrapper may supply or drop arguments (wrapper(event, ctx) calling f(event, ctx, db)).
        signature = inspect.signature(handler, follow_wrapped=False)
    except (TypeError, ValueError):
        return  # no signature to read (some built-ins): the call will tell
    try:
        signature.bind(None, None)
    except TypeError as error:
        positional = [
            p
            for p in signature.parameters.values()
            if p.kind
            in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]
        why = (
            f"it takes only {len(positional)} ({', '.join(p.name for p in positional) or 'none'})"
            if len(positional) < 2
            and not any(
                p.kind is inspect.Parameter.VAR_POSITIONAL for p in signature.parameters.values()
            )
            else str(error)
        )
        raise TypeError(
            f"stream handler {name} must accept two positional arguments, the event and its "
            f"context (handler(event, ctx)); its signature {signature} does not: {why}"
        ) from None


def _refuse_bare_use(value: object, decorator: str, example: str) -> None:
    """``@stream.on_app_server_request`` without its parentheses passes the handler as the
    method: say so, rather than that a method must be a string."""
    if callable(value) and not isinstance(value, str):
        raise TypeError(
            f"{decorator} takes what to listen for first: write @{decorator}({example}) "
            f"(with the parentheses), not @{decorator}"
        )


_FRAME_PREFIXES = ("app_server.request.", "app_server.")
"""How frame types begin (``app_server.request.item.tool.call``): a name copied from one."""


class UnknownMethodWarning(UserWarning):
    """A handler was registered for a method codex's schemas do not list (a typo, say, or a
    notification registered as a request): it runs only if the server ever sends it."""


def _warn_if_unknown(method: str | None, signal_type: SignalType) -> None:
    """Warn when ``method`` (normalized) is not a known method of ``signal_type``."""
    if method is None:
        return
    if signal_type == "request":
        known, other, register = KNOWN_REQUEST_METHODS, KNOWN_NOTIFICATION_METHODS, "request"
    else:
        known, other, register = KNOWN_NOTIFICATION_METHODS, KNOWN_REQUEST_METHODS, "notification"
    if method in known:
        return
    if method in other:
        hint = (
            "it is a server notification: register it with on_app_server()"
            if signal_type == "request"
            else "it is a server request: register it with on_app_server_request()"
        )
    else:
        import difflib  # only for this warning

        close = difflib.get_close_matches(method, sorted(known | other), n=1)
        if not close:
            hint = "no known method is close to it"
        elif close[0] in known:
            hint = f"did you mean {close[0]!r}?"
        else:
            kind = "notification" if signal_type == "request" else "request"
            hint = f"did you mean {close[0]!r}, a server {kind}?"
    warnings.warn(
        f"{method!r} is not an app-server {register} codex's schemas list ({hint}); the handler "
        "runs only if the server sends it",
        UnknownMethodWarning,
        stacklevel=caller_stacklevel(),
    )


class UnknownEventTypeWarning(UserWarning):
    """A handler was registered for an event type (or prefix) the server is not known to send
    (a typo, say, or a method name where a frame type belongs): it runs only if one comes."""


@functools.cache
def _known_event_types() -> frozenset[str]:
    """Every event type the server is known to send, ``app_server.*`` signals included (made
    on the first registration that checks one)."""
    return (
        KNOWN_EVENT_TYPES
        | {NOTIFICATION_PREFIX + method for method in KNOWN_NOTIFICATION_METHODS}
        | {REQUEST_PREFIX + method for method in KNOWN_REQUEST_METHODS}
    )


def _warn_if_unknown_event(event_type: str, *, prefix: bool) -> None:
    """Warn when no event the server is known to send has this type (or starts with it)."""
    known = _known_event_types()
    if any(t.startswith(event_type) for t in known) if prefix else event_type in known:
        return
    import difflib  # only for this warning

    candidates = {t[: len(event_type)] for t in known} if prefix else known
    close = difflib.get_close_matches(event_type, sorted(candidates), n=1)
    hint = f"did you mean {close[0]!r}?" if close else "no known event type is close to it"
    if not prefix and event_type in KNOWN_REQUEST_METHODS:
        hint = (
            f"it is an app-server request: use on_app_server_request({event_type!r}), or the "
            f"frame type {REQUEST_PREFIX + event_type!r}"
        )
    elif not prefix and event_type in KNOWN_NOTIFICATION_METHODS:
        hint = (
            f"it is an app-server notification: use on_app_server({event_type!r}), or the "
            f"frame type {NOTIFICATION_PREFIX + event_type!r}"
        )
    what = "no event type the server sends starts with" if prefix else "the server sends no event"
    warnings.warn(
        f"{what} {event_type!r} ({hint}); the handler runs only if one comes",
        UnknownEventTypeWarning,
        stacklevel=caller_stacklevel(),
    )


def _method_key(normalized_method: str | None) -> str | None:
    """Accept ``"item.tool.call"`` as well as the raw ``"item/tool/call"`` or
    ``"execCommandApproval"``, a dotted raw name (``"item.agentMessage.delta"``) and a
    frame type (``"app_server.request.item.tool.call"``): each is the name it would match."""
    if normalized_method is None:
        return None
    if not isinstance(normalized_method, str) or not normalized_method.strip():
        raise ValueError("normalized_method must be a non-empty string or None")
    name = normalized_method
    for prefix in _FRAME_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix) :]
            break
    # Normalized names are lower case and dotted: slashes or capitals mean a raw method.
    if "/" in name:
        return normalize_method(name)  # a dot in a raw method is part of its segment
    if name != name.lower():
        return normalize_method(name.replace(".", "/"))  # a dotted camelCase name
    return name


def _check_ordered(ordered: bool) -> None:
    if not isinstance(ordered, bool):
        raise TypeError(f"ordered must be a bool, got {ordered!r}")


def of_another_thread(event: StreamEvent, followed: str | None) -> bool:
    """Whether a stream following thread ``followed`` (``None``: all) must drop ``event``.

    The server filters already; a frame of another thread is dropped here too (contract
    11.3). Frames without a thread (broadcasts) reach every stream.
    """
    return followed is not None and event.thread_id is not None and event.thread_id != followed


def is_server_request(event: StreamEvent) -> bool:
    """Whether ``event`` is a server request (``app_server.request.*``).

    Requests are independent (each has its own id), so their handler calls need no order.
    """
    return type(event) is AppServerSignal and event.signal_type == "request"


class Router:
    """Registered handlers and the frame -> handlers mapping."""

    def __init__(self) -> None:
        """Start with no handlers."""
        self._lock = threading.Lock()
        self._exact: dict[str, tuple[HandlerEntry, ...]] = {}
        self._prefixes: tuple[HandlerEntry, ...] = ()
        self._signals: dict[tuple[SignalType, str | None], tuple[HandlerEntry, ...]] = {}
        self.error_handlers: tuple[HandlerEntry, ...] = ()
        self.reconnect_handlers: tuple[HandlerEntry, ...] = ()
        self.connect_handlers: tuple[HandlerEntry, ...] = ()
        self._cache: dict[_RouteKey, tuple[HandlerEntry, ...]] = {}

    def add(
        self,
        handler: Callable[..., object],
        kind: HandlerKind,
        key: str | None,
        *,
        ordered: bool = False,
    ) -> None:
        """Register ``handler``; ``key`` is the event type, prefix or normalized method."""
        entry = _entry(handler, kind, key, ordered)
        with self._lock:
            if kind == "event":
                assert key is not None
                exact = dict(self._exact)
                exact[key] = (*exact.get(key, ()), entry)
                self._exact = exact
            elif kind == "prefix":
                self._prefixes = (*self._prefixes, entry)
            elif kind == "error":
                self.error_handlers = (*self.error_handlers, entry)
            elif kind == "reconnect":
                self.reconnect_handlers = (*self.reconnect_handlers, entry)
            elif kind == "connect":
                self.connect_handlers = (*self.connect_handlers, entry)
            else:
                raise ValueError(f"use add_signal for {kind!r} handlers")
            self._cache = {}

    def add_signal(
        self,
        handler: Callable[..., object],
        signal_type: SignalType,
        method: str | None,
        *,
        ordered: bool = False,
    ) -> None:
        """Register a signal handler for one normalized method (``None``: every method)."""
        entry = _entry(handler, "signal", method, ordered)
        with self._lock:
            signals = dict(self._signals)
            signals[(signal_type, method)] = (*signals.get((signal_type, method), ()), entry)
            self._signals = signals
            self._cache = {}

    def remove(self, handler: Callable[..., object]) -> int:
        """Unregister every registration of ``handler``; returns how many were removed."""

        def keep(entries: tuple[HandlerEntry, ...]) -> tuple[HandlerEntry, ...]:
            return tuple(e for e in entries if e.handler is not handler)

        with self._lock:
            before = self.count()
            self._exact = {k: v for k, v in ((k, keep(v)) for k, v in self._exact.items()) if v}
            self._signals = {k: v for k, v in ((k, keep(v)) for k, v in self._signals.items()) if v}
            self._prefixes = keep(self._prefixes)
            self.error_handlers = keep(self.error_handlers)
            self.reconnect_handlers = keep(self.reconnect_handlers)
            self.connect_handlers = keep(self.connect_handlers)
            self._cache = {}
            return before - self.count()

    def count(self) -> int:
        """Number of registrations."""
        return (
            sum(map(len, self._exact.values()))
            + sum(map(len, self._signals.values()))
            + len(self._prefixes)
            + len(self.error_handlers)
            + len(self.reconnect_handlers)
            + len(self.connect_handlers)
        )

    def route(self, event: StreamEvent) -> tuple[HandlerEntry, ...]:
        """The handlers ``event`` goes to, in registration order per kind."""
        key: _RouteKey
        if type(event) is AppServerSignal:
            key = (event.type, event.signal_type, event.normalized_method)
        else:
            key = event.type
        cache = self._cache
        found = cache.get(key)
        if found is None:
            found = self._compute(event)
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[key] = found
        return found

    def _compute(self, event: StreamEvent) -> tuple[HandlerEntry, ...]:
        event_type = event.type
        found = list(self._exact.get(event_type, _NO_ENTRIES))
        found.extend(
            e for e in self._prefixes if e.key is not None and event_type.startswith(e.key)
        )
        if isinstance(event, AppServerSignal):
            signals = self._signals
            found.extend(signals.get((event.signal_type, event.normalized_method), _NO_ENTRIES))
            found.extend(signals.get((event.signal_type, None), _NO_ENTRIES))
        return tuple(found)


class HandlerRegistry(Generic[ClientT]):
    """The decorators shared by :class:`EventStream` and :class:`AsyncEventStream`.

    Every decorator returns the handler unchanged (to a type checker: a callable of its item,
    context and return types; its parameter names are not kept, since the stream passes both
    positionally). Handlers take ``(item, context)``, the context of the registry's client,
    and may be plain functions or ``async def`` functions.
    """

    def __init__(self) -> None:
        """Start with no handlers."""
        self._router = Router()

    def on_event(
        self, event_type: str, *, ordered: bool = False
    ) -> Callable[[EventHandler[ClientT, _R]], EventHandler[ClientT, _R]]:
        """Register a handler for every frame of exactly this type (e.g. ``"tool_call_requested"``).

        ``app_server.*`` frames arrive as :class:`AppServerSignal` (a :class:`StreamEvent`).
        Frames of one thread reach the handler in order, except server requests
        (``app_server.request.*``), which run concurrently unless ``ordered=True``.
        """
        _refuse_bare_use(event_type, "on_event", '"tool_call_requested"')
        if not isinstance(event_type, str) or not event_type:
            raise ValueError("event_type must be a non-empty string")
        _warn_if_unknown_event(event_type, prefix=False)
        _check_ordered(ordered)

        def register(
            handler: EventHandler[ClientT, _R],
        ) -> EventHandler[ClientT, _R]:
            self._router.add(handler, "event", event_type, ordered=ordered)
            return handler

        return register

    def on_event_prefix(
        self, prefix: str, *, ordered: bool = False
    ) -> Callable[[EventHandler[ClientT, _R]], EventHandler[ClientT, _R]]:
        """Register a handler for every frame whose type starts with ``prefix``.

        ``on_event_prefix("")`` receives every event frame. Frames of one thread reach the
        handler in order, except server requests (``app_server.request.*``), which run
        concurrently unless ``ordered=True`` (e.g. for a timeline of a whole turn).
        """
        _refuse_bare_use(prefix, "on_event_prefix", '"app_server."')
        if not isinstance(prefix, str):
            raise ValueError("prefix must be a string")
        _warn_if_unknown_event(prefix, prefix=True)
        _check_ordered(ordered)

        def register(
            handler: EventHandler[ClientT, _R],
        ) -> EventHandler[ClientT, _R]:
            self._router.add(handler, "prefix", prefix, ordered=ordered)
            return handler

        return register

    def on_app_server(
        self, normalized_method: KnownNotificationMethod | str | None = None
    ) -> Callable[[SignalHandler[ClientT, _R]], SignalHandler[ClientT, _R]]:
        """Register a handler for app-server notifications, e.g. ``"turn.completed"``.

        ``None`` receives every notification. A raw method (``"turn/completed"``) is
        normalized first. A method codex's schemas do not list as a notification gets an
        :class:`UnknownMethodWarning` (the handler is registered all the same).
        """
        _refuse_bare_use(normalized_method, "on_app_server", '"turn.completed"')
        method = _method_key(normalized_method)
        _warn_if_unknown(method, "notification")

        def register(
            handler: SignalHandler[ClientT, _R],
        ) -> SignalHandler[ClientT, _R]:
            self._router.add_signal(handler, "notification", method)
            return handler

        return register

    def on_app_server_request(
        self, normalized_method: KnownRequestMethod | str | None = None, *, ordered: bool = False
    ) -> Callable[[SignalHandler[ClientT, _R]], SignalHandler[ClientT, _R]]:
        """Register a handler for server-initiated requests, e.g. ``"item.tool.call"``.

        ``None`` receives every request. A raw method (``"item/tool/call"``) is normalized
        first; one codex's schemas do not list as a request gets an
        :class:`UnknownMethodWarning`. For tool calls, ``signal.tool_call`` holds the typed
        params.

        Requests are independent (each has its own id), so by default they run
        concurrently, even several of one thread: Codex's parallel tool calls in one turn
        run in parallel. ``ordered=True`` runs this handler's requests one at a time per
        thread, in arrival order (``StreamOptions.ordered_requests`` does so for every
        handler).
        """
        _refuse_bare_use(normalized_method, "on_app_server_request", '"item.tool.call"')
        method = _method_key(normalized_method)
        _check_ordered(ordered)
        _warn_if_unknown(method, "request")

        def register(
            handler: SignalHandler[ClientT, _R],
        ) -> SignalHandler[ClientT, _R]:
            self._router.add_signal(handler, "request", method, ordered=ordered)
            return handler

        return register

    @overload
    def on_turn_started(
        self, handler: SignalHandler[ClientT, _R], /
    ) -> SignalHandler[ClientT, _R]: ...

    @overload
    def on_turn_started(
        self, /
    ) -> Callable[[SignalHandler[ClientT, _R]], SignalHandler[ClientT, _R]]: ...

    def on_turn_started(
        self, handler: SignalHandler[ClientT, _R] | None = None, /
    ) -> (
        SignalHandler[ClientT, _R]
        | Callable[[SignalHandler[ClientT, _R]], SignalHandler[ClientT, _R]]
    ):
        """Register a handler for the app-server ``turn/started`` notification
        (``@on_turn_started`` or ``@on_turn_started()``)."""
        register: Callable[[SignalHandler[ClientT, _R]], SignalHandler[ClientT, _R]] = (
            self.on_app_server("turn.started")
        )
        return register if handler is None else register(handler)

    @overload
    def on_error(self, handler: ErrorHandler[ClientT, _R], /) -> ErrorHandler[ClientT, _R]: ...

    @overload
    def on_error(self, /) -> Callable[[ErrorHandler[ClientT, _R]], ErrorHandler[ClientT, _R]]: ...

    def on_error(self, handler: Callable[..., object] | None = None, /) -> Callable[..., object]:
        """Register a handler for stream errors (``@on_error`` or ``@on_error()``).

        It receives a :class:`StreamFrameError` (skipped frame), :class:`HandlerError`
        (a handler raised), :class:`StreamConnectionError` (connection lost; the stream
        reconnects) or :class:`StreamServerError`.
        """

        def register(fn: Callable[..., object]) -> Callable[..., object]:
            self._router.add(fn, "error", None)
            return fn

        return register if handler is None else register(handler)

    @overload
    def on_reconnect(
        self, handler: ReconnectHandler[ClientT, _R], /
    ) -> ReconnectHandler[ClientT, _R]: ...

    @overload
    def on_reconnect(
        self, /
    ) -> Callable[[ReconnectHandler[ClientT, _R]], ReconnectHandler[ClientT, _R]]: ...

    def on_reconnect(
        self, handler: Callable[..., object] | None = None, /
    ) -> Callable[..., object]:
        """Register a hook run after every reconnect (``@on_reconnect`` or ``@on_reconnect()``).

        Not called for the first connection (see :meth:`on_connect` for a hook that is).
        Events published while disconnected are lost; use it to catch up, e.g. with
        ``skills.drain_pending_calls()``.
        """

        def register(fn: Callable[..., object]) -> Callable[..., object]:
            self._router.add(fn, "reconnect", None)
            return fn

        return register if handler is None else register(handler)

    @overload
    def on_connect(
        self, handler: ConnectHandler[ClientT, _R], /
    ) -> ConnectHandler[ClientT, _R]: ...

    @overload
    def on_connect(
        self, /
    ) -> Callable[[ConnectHandler[ClientT, _R]], ConnectHandler[ClientT, _R]]: ...

    def on_connect(self, handler: Callable[..., object] | None = None, /) -> Callable[..., object]:
        """Register a hook run on every connection, the first included (``@on_connect``).

        It receives a :class:`Connected` notice once the ``ready`` frame arrived and the
        ``subscribe`` command (when following a thread) was sent, so the stream already
        listens: a good moment to send a session's first message (no tool call can beat
        the subscription) or to drain pending calls. After a reconnect it runs as well as
        the ``on_reconnect`` hooks (both submitted together, ``on_connect`` first). Like
        every handler it runs off the reader; the calls of one hook run one at a time, in
        connection order.
        """

        def register(fn: Callable[..., object]) -> Callable[..., object]:
            self._router.add(fn, "connect", None)
            return fn

        return register if handler is None else register(handler)

    def remove_handler(self, handler: Callable[..., object]) -> int:
        """Unregister every registration of ``handler``; returns how many were removed."""
        return self._router.remove(handler)


__all__ = [
    "ConnectHandler",
    "ErrorHandler",
    "EventHandler",
    "HandlerEntry",
    "HandlerRegistry",
    "ReconnectHandler",
    "Router",
    "SignalHandler",
    "UnknownMethodWarning",
    "is_server_request",
]
