"""The stream decorators as client shortcuts (``@cm.on_app_server_request(...)`` and friends).

Both clients offer them; each delegates to the client's own ``stream``, whose decorators do the
work, so the sync and async clients share one definition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar, overload

if TYPE_CHECKING:
    from codex_manager.stream.context import StreamClient
    from codex_manager.stream.router import (
        ConnectHandler,
        ErrorHandler,
        EventHandler,
        HandlerRegistry,
        ReconnectHandler,
        SignalHandler,
    )

_R = TypeVar("_R")
# Not the stream package's ClientT: importing it would load the stream (and asyncio) with
# every client, which ``import codex_manager`` leaves for the first use of ``cm.stream``.
ClientT = TypeVar("ClientT", bound="StreamClient")


class StreamShortcuts(Generic[ClientT]):
    """Decorators that register handlers on :attr:`stream` (see the stream for semantics).

    ``ClientT`` is the client itself: a handler's context is that client's.
    """

    @property
    def stream(self) -> HandlerRegistry[ClientT]:
        """The event stream the shortcuts register on (each client narrows the type)."""
        raise NotImplementedError

    def on_event(
        self, event_type: str, *, ordered: bool = False
    ) -> Callable[[EventHandler[ClientT, _R]], EventHandler[ClientT, _R]]:
        """Register a stream handler for events of ``event_type`` (see :attr:`stream`).

        ``ordered=True`` also serializes server requests per thread (see the stream).
        """
        return self.stream.on_event(event_type, ordered=ordered)

    def on_event_prefix(
        self, prefix: str, *, ordered: bool = False
    ) -> Callable[[EventHandler[ClientT, _R]], EventHandler[ClientT, _R]]:
        """Register a stream handler for event types starting with ``prefix``.

        ``ordered=True`` also serializes server requests per thread (see the stream).
        """
        return self.stream.on_event_prefix(prefix, ordered=ordered)

    def on_app_server(
        self, normalized_method: str | None = None
    ) -> Callable[[SignalHandler[ClientT, _R]], SignalHandler[ClientT, _R]]:
        """Register a stream handler for app-server notifications (e.g. ``"turn.completed"``)."""
        return self.stream.on_app_server(normalized_method)

    def on_app_server_request(
        self, normalized_method: str | None = None, *, ordered: bool = False
    ) -> Callable[[SignalHandler[ClientT, _R]], SignalHandler[ClientT, _R]]:
        """Register a stream handler for app-server requests (e.g. ``"item.tool.call"``).

        Requests run concurrently by default (Codex's parallel tool calls run in parallel);
        ``ordered=True`` runs this handler's requests one at a time per thread, in order.
        """
        return self.stream.on_app_server_request(normalized_method, ordered=ordered)

    def on_turn_started(
        self,
    ) -> Callable[[SignalHandler[ClientT, _R]], SignalHandler[ClientT, _R]]:
        """Register a stream handler for ``turn/started`` notifications."""
        return self.stream.on_turn_started()

    @overload
    def on_error(self, handler: ErrorHandler[ClientT, _R], /) -> ErrorHandler[ClientT, _R]: ...

    @overload
    def on_error(self, /) -> Callable[[ErrorHandler[ClientT, _R]], ErrorHandler[ClientT, _R]]: ...

    def on_error(
        self, handler: ErrorHandler[ClientT, _R] | None = None, /
    ) -> (
        ErrorHandler[ClientT, _R] | Callable[[ErrorHandler[ClientT, _R]], ErrorHandler[ClientT, _R]]
    ):
        """Register a stream error handler (``@cm.on_error`` or ``@cm.on_error()``)."""
        if handler is None:
            return self.stream.on_error()
        return self.stream.on_error(handler)

    @overload
    def on_reconnect(
        self, handler: ReconnectHandler[ClientT, _R], /
    ) -> ReconnectHandler[ClientT, _R]: ...

    @overload
    def on_reconnect(
        self, /
    ) -> Callable[[ReconnectHandler[ClientT, _R]], ReconnectHandler[ClientT, _R]]: ...

    def on_reconnect(
        self, handler: ReconnectHandler[ClientT, _R] | None = None, /
    ) -> (
        ReconnectHandler[ClientT, _R]
        | Callable[[ReconnectHandler[ClientT, _R]], ReconnectHandler[ClientT, _R]]
    ):
        """Register a hook run after each stream reconnect."""
        if handler is None:
            return self.stream.on_reconnect()
        return self.stream.on_reconnect(handler)

    @overload
    def on_connect(
        self, handler: ConnectHandler[ClientT, _R], /
    ) -> ConnectHandler[ClientT, _R]: ...

    @overload
    def on_connect(
        self, /
    ) -> Callable[[ConnectHandler[ClientT, _R]], ConnectHandler[ClientT, _R]]: ...

    def on_connect(
        self, handler: ConnectHandler[ClientT, _R] | None = None, /
    ) -> (
        ConnectHandler[ClientT, _R]
        | Callable[[ConnectHandler[ClientT, _R]], ConnectHandler[ClientT, _R]]
    ):
        """Register a hook run on every stream connection, the first one included.

        It runs once the server said ``ready`` and the thread subscription was sent: the place
        to send a first message without racing the subscription, or to drain pending calls.
        """
        if handler is None:
            return self.stream.on_connect()
        return self.stream.on_connect(handler)
