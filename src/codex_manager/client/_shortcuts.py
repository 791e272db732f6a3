"""The stream decorators as client shortcuts (``@cm.on_app_server_request(...)`` and friends).

Both clients offer them; each delegates to the client's own ``stream``, whose decorators do the
work, so the sync and async clients share one definition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, Self, TypeVar, cast, overload

if TYPE_CHECKING:
    from codex_manager.config import ClientConfig
    from codex_manager.stream._methods import KnownNotificationMethod, KnownRequestMethod
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

    ``ClientT`` is the client class that defines :attr:`stream`; the shortcuts type a
    handler's context by the client's own class (``Self``), so a subclass's handlers may ask
    for ``HandlerContext[TheSubclass]``, which ``context.client`` is at run time.
    """

    @property
    def client_config(self) -> ClientConfig:
        """The client's settings (each client has its own): a client is a stream client."""
        raise NotImplementedError

    @property
    def stream(self) -> HandlerRegistry[ClientT]:
        """The event stream the shortcuts register on (each client narrows the type)."""
        raise NotImplementedError

    def on_event(
        self, event_type: str, *, ordered: bool = False
    ) -> Callable[[EventHandler[Self, _R]], EventHandler[Self, _R]]:
        """Register a stream handler for events of ``event_type`` (see :attr:`stream`).

        ``ordered=True`` also serializes server requests per thread (see the stream).
        """
        return cast(
            "Callable[[EventHandler[Self, _R]], EventHandler[Self, _R]]",
            self.stream.on_event(event_type, ordered=ordered),
        )

    def on_event_prefix(
        self, prefix: str, *, ordered: bool = False
    ) -> Callable[[EventHandler[Self, _R]], EventHandler[Self, _R]]:
        """Register a stream handler for event types starting with ``prefix``.

        ``ordered=True`` also serializes server requests per thread (see the stream).
        """
        return cast(
            "Callable[[EventHandler[Self, _R]], EventHandler[Self, _R]]",
            self.stream.on_event_prefix(prefix, ordered=ordered),
        )

    def on_app_server(
        self, normalized_method: KnownNotificationMethod | str | None = None
    ) -> Callable[[SignalHandler[Self, _R]], SignalHandler[Self, _R]]:
        """Register a stream handler for app-server notifications (e.g. ``"turn.completed"``)."""
        return cast(
            "Callable[[SignalHandler[Self, _R]], SignalHandler[Self, _R]]",
            self.stream.on_app_server(normalized_method),
        )

    def on_app_server_request(
        self, normalized_method: KnownRequestMethod | str | None = None, *, ordered: bool = False
    ) -> Callable[[SignalHandler[Self, _R]], SignalHandler[Self, _R]]:
        """Register a stream handler for app-server requests (e.g. ``"item.tool.call"``).

        Requests run concurrently by default (Codex's parallel tool calls run in parallel);
        ``ordered=True`` runs this handler's requests one at a time per thread, in order.
        """
        return cast(
            "Callable[[SignalHandler[Self, _R]], SignalHandler[Self, _R]]",
            self.stream.on_app_server_request(normalized_method, ordered=ordered),
        )

    @overload
    def on_turn_started(self, handler: SignalHandler[Self, _R], /) -> SignalHandler[Self, _R]: ...

    @overload
    def on_turn_started(
        self, /
    ) -> Callable[[SignalHandler[Self, _R]], SignalHandler[Self, _R]]: ...

    def on_turn_started(
        self, handler: SignalHandler[Self, _R] | None = None, /
    ) -> SignalHandler[Self, _R] | Callable[[SignalHandler[Self, _R]], SignalHandler[Self, _R]]:
        """Register a stream handler for ``turn/started`` notifications
        (``@cm.on_turn_started`` or ``@cm.on_turn_started()``)."""
        if handler is None:
            return cast(
                "Callable[[SignalHandler[Self, _R]], SignalHandler[Self, _R]]",
                self.stream.on_turn_started(),
            )
        self.stream.on_turn_started(cast("SignalHandler[ClientT, _R]", handler))
        return handler

    @overload
    def on_error(self, handler: ErrorHandler[Self, _R], /) -> ErrorHandler[Self, _R]: ...

    @overload
    def on_error(self, /) -> Callable[[ErrorHandler[Self, _R]], ErrorHandler[Self, _R]]: ...

    def on_error(
        self, handler: ErrorHandler[Self, _R] | None = None, /
    ) -> ErrorHandler[Self, _R] | Callable[[ErrorHandler[Self, _R]], ErrorHandler[Self, _R]]:
        """Register a stream error handler (``@cm.on_error`` or ``@cm.on_error()``)."""
        if handler is None:
            return cast(
                "Callable[[ErrorHandler[Self, _R]], ErrorHandler[Self, _R]]", self.stream.on_error()
            )
        self.stream.on_error(cast("ErrorHandler[ClientT, _R]", handler))
        return handler

    @overload
    def on_reconnect(
        self, handler: ReconnectHandler[Self, _R], /
    ) -> ReconnectHandler[Self, _R]: ...

    @overload
    def on_reconnect(
        self, /
    ) -> Callable[[ReconnectHandler[Self, _R]], ReconnectHandler[Self, _R]]: ...

    def on_reconnect(
        self, handler: ReconnectHandler[Self, _R] | None = None, /
    ) -> (
        ReconnectHandler[Self, _R]
        | Callable[[ReconnectHandler[Self, _R]], ReconnectHandler[Self, _R]]
    ):
        """Register a hook run after each stream reconnect."""
        if handler is None:
            return cast(
                "Callable[[ReconnectHandler[Self, _R]], ReconnectHandler[Self, _R]]",
                self.stream.on_reconnect(),
            )
        self.stream.on_reconnect(cast("ReconnectHandler[ClientT, _R]", handler))
        return handler

    @overload
    def on_connect(self, handler: ConnectHandler[Self, _R], /) -> ConnectHandler[Self, _R]: ...

    @overload
    def on_connect(self, /) -> Callable[[ConnectHandler[Self, _R]], ConnectHandler[Self, _R]]: ...

    def on_connect(
        self, handler: ConnectHandler[Self, _R] | None = None, /
    ) -> ConnectHandler[Self, _R] | Callable[[ConnectHandler[Self, _R]], ConnectHandler[Self, _R]]:
        """Register a hook run on every stream connection, the first one included.

        It runs once the server said ``ready`` and the thread subscription was sent: the place
        to send a first message without racing the subscription, or to drain pending calls.
        """
        if handler is None:
            return cast(
                "Callable[[ConnectHandler[Self, _R]], ConnectHandler[Self, _R]]",
                self.stream.on_connect(),
            )
        self.stream.on_connect(cast("ConnectHandler[ClientT, _R]", handler))
        return handler
