"""The stream decorators as client shortcuts (``@cm.on_app_server_request(...)`` and friends).

Both clients offer them; each delegates to the client's own ``stream``, whose decorators do the
work, so the sync and async clients share one definition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    from codex_manager.stream.router import (
        ConnectHandlerT,
        ErrorHandlerT,
        EventHandlerT,
        HandlerRegistry,
        ReconnectHandlerT,
        SignalHandlerT,
    )


class StreamShortcuts:
    """Decorators that register handlers on :attr:`stream` (see the stream for semantics)."""

    @property
    def stream(self) -> HandlerRegistry:
        """The event stream the shortcuts register on (each client narrows the type)."""
        raise NotImplementedError

    def on_event(
        self, event_type: str, *, ordered: bool = False
    ) -> Callable[[EventHandlerT], EventHandlerT]:
        """Register a stream handler for events of ``event_type`` (see :attr:`stream`).

        ``ordered=True`` also serializes server requests per thread (see the stream).
        """
        return self.stream.on_event(event_type, ordered=ordered)

    def on_event_prefix(
        self, prefix: str, *, ordered: bool = False
    ) -> Callable[[EventHandlerT], EventHandlerT]:
        """Register a stream handler for event types starting with ``prefix``.

        ``ordered=True`` also serializes server requests per thread (see the stream).
        """
        return self.stream.on_event_prefix(prefix, ordered=ordered)

    def on_app_server(
        self, normalized_method: str | None = None
    ) -> Callable[[SignalHandlerT], SignalHandlerT]:
        """Register a stream handler for app-server notifications (e.g. ``"turn.completed"``)."""
        return self.stream.on_app_server(normalized_method)

    def on_app_server_request(
        self, normalized_method: str | None = None, *, ordered: bool = False
    ) -> Callable[[SignalHandlerT], SignalHandlerT]:
        """Register a stream handler for app-server requests (e.g. ``"item.tool.call"``).

        Requests run concurrently by default (Codex's parallel tool calls run in parallel);
        ``ordered=True`` runs this handler's requests one at a time per thread, in order.
        """
        return self.stream.on_app_server_request(normalized_method, ordered=ordered)

    def on_turn_started(self) -> Callable[[SignalHandlerT], SignalHandlerT]:
        """Register a stream handler for ``turn/started`` notifications."""
        return self.stream.on_turn_started()

    @overload
    def on_error(self, handler: ErrorHandlerT, /) -> ErrorHandlerT: ...

    @overload
    def on_error(self, /) -> Callable[[ErrorHandlerT], ErrorHandlerT]: ...

    def on_error(
        self, handler: ErrorHandlerT | None = None, /
    ) -> ErrorHandlerT | Callable[[ErrorHandlerT], ErrorHandlerT]:
        """Register a stream error handler (``@cm.on_error`` or ``@cm.on_error()``)."""
        if handler is None:
            return self.stream.on_error()
        return self.stream.on_error(handler)

    @overload
    def on_reconnect(self, handler: ReconnectHandlerT, /) -> ReconnectHandlerT: ...

    @overload
    def on_reconnect(self, /) -> Callable[[ReconnectHandlerT], ReconnectHandlerT]: ...

    def on_reconnect(
        self, handler: ReconnectHandlerT | None = None, /
    ) -> ReconnectHandlerT | Callable[[ReconnectHandlerT], ReconnectHandlerT]:
        """Register a hook run after each stream reconnect."""
        if handler is None:
            return self.stream.on_reconnect()
        return self.stream.on_reconnect(handler)

    @overload
    def on_connect(self, handler: ConnectHandlerT, /) -> ConnectHandlerT: ...

    @overload
    def on_connect(self, /) -> Callable[[ConnectHandlerT], ConnectHandlerT]: ...

    def on_connect(
        self, handler: ConnectHandlerT | None = None, /
    ) -> ConnectHandlerT | Callable[[ConnectHandlerT], ConnectHandlerT]:
        """Register a hook run on every stream connection, the first one included.

        It runs once the server said ``ready`` and the thread subscription was sent: the place
        to send a first message without racing the subscription, or to drain pending calls.
        """
        if handler is None:
            return self.stream.on_connect()
        return self.stream.on_connect(handler)
