"""Routing of decoded frames to registered handlers, and the decorators' typing."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

import pytest

from codex_manager.json_types import JSONValue
from codex_manager.stream import AppServerSignal, HandlerContext, StreamEvent, decode_frame
from codex_manager.stream.context import StreamClient
from codex_manager.stream.errors import StreamError
from codex_manager.stream.frames import Reconnected
from codex_manager.stream.router import HandlerRegistry, UnknownMethodWarning

from .ws_server import notification_signal, tool_call_signal

Context = HandlerContext[StreamClient]


def event(event_type: str, thread_id: str | None = "t", payload: JSONValue = None) -> StreamEvent:
    frame = decode_frame(
        json.dumps({"type": event_type, "threadId": thread_id, "payload": payload})
    )
    assert isinstance(frame, StreamEvent)
    return frame


def names(registry: HandlerRegistry[StreamClient], item: StreamEvent) -> list[str]:
    return [entry.name.rsplit(".", 1)[-1] for entry in registry._router.route(item)]


def test_routes_by_type_prefix_and_method() -> None:
    stream: HandlerRegistry[StreamClient] = HandlerRegistry()

    @stream.on_event("tool_call_requested")
    def exact(item: StreamEvent, context: Context) -> None: ...

    @stream.on_event_prefix("app_server.")
    def prefix(item: StreamEvent, context: Context) -> None: ...

    @stream.on_event_prefix("")
    def everything(item: StreamEvent, context: Context) -> None: ...

    @stream.on_app_server_request("item.tool.call")
    def tool_call(item: AppServerSignal, context: Context) -> None: ...

    @stream.on_app_server_request("item/tool/call")  # raw method names are normalized
    async def tool_call_raw(item: AppServerSignal, context: Context) -> None: ...

    @stream.on_app_server_request()
    def any_request(item: AppServerSignal, context: Context) -> None: ...

    @stream.on_app_server()
    def any_notification(item: AppServerSignal, context: Context) -> None: ...

    @stream.on_turn_started()
    def turn_started(item: AppServerSignal, context: Context) -> None: ...

    call = decode_frame(
        json.dumps(
            {
                "type": "app_server.request.item.tool.call",
                "threadId": "t",
                "payload": tool_call_signal("t", 1, "c"),
            }
        )
    )
    assert isinstance(call, AppServerSignal)
    assert names(stream, call) == [
        "prefix",
        "everything",
        "tool_call",
        "tool_call_raw",
        "any_request",
    ]
    started = decode_frame(
        json.dumps(
            {
                "type": "app_server.turn.started",
                "threadId": "t",
                "payload": notification_signal("t", "turn/started", "app_server.turn.started"),
            }
        )
    )
    assert isinstance(started, AppServerSignal)
    assert names(stream, started) == ["prefix", "everything", "turn_started", "any_notification"]
    assert names(stream, event("tool_call_requested")) == ["exact", "everything"]
    assert names(stream, event("notification")) == ["everything"]
    # The raw `notification` frame of turn/started is not the turn-started signal.
    assert "turn_started" not in names(
        stream, event("notification", payload={"method": "turn/started"})
    )
    # A notification whose method looks like a request does not reach request handlers.
    odd = AppServerSignal(
        signal_type="notification", method="request/item/tool/call", thread_id="t"
    )
    assert odd.type == "app_server.request.item.tool.call"
    assert "any_request" not in names(stream, odd)
    assert "any_notification" in names(stream, odd)


def test_decorators_return_the_handler_and_can_be_removed() -> None:
    stream: HandlerRegistry[StreamClient] = HandlerRegistry()

    def handler(item: StreamEvent, context: Context) -> None: ...

    assert stream.on_event("x")(handler) is handler
    assert stream.on_event_prefix("x")(handler) is handler

    def on_error(error: StreamError, context: Context) -> None: ...

    def on_reconnect(notice: Reconnected, context: Context) -> None: ...

    assert stream.on_error(on_error) is on_error
    assert stream.on_error()(on_error) is on_error
    assert stream.on_reconnect(on_reconnect) is on_reconnect
    assert stream.on_reconnect()(on_reconnect) is on_reconnect
    assert names(stream, event("x")) == ["handler", "handler"]
    assert stream.remove_handler(handler) == 2
    assert names(stream, event("x")) == []
    assert stream.remove_handler(on_error) == 2
    assert stream.remove_handler(on_reconnect) == 2
    assert stream._router.count() == 0


def test_registration_after_routing_invalidates_the_cache() -> None:
    stream: HandlerRegistry[StreamClient] = HandlerRegistry()
    assert names(stream, event("late")) == []

    @stream.on_event("late")
    def late(item: StreamEvent, context: Context) -> None: ...

    assert names(stream, event("late")) == ["late"]


def test_bad_registrations_are_rejected() -> None:
    stream: HandlerRegistry[StreamClient] = HandlerRegistry()
    with pytest.raises(ValueError, match="event_type"):
        stream.on_event("")
    with pytest.raises(ValueError, match="normalized_method"):
        stream.on_app_server_request(" ")
    with pytest.raises(TypeError, match="callable"):
        stream.on_event("x")(42)  # type: ignore[arg-type]  # deliberately not a handler


def test_a_decorator_used_without_its_parentheses_says_so() -> None:
    # @stream.on_app_server_request passed the handler as the method: "normalized_method
    # must be a non-empty string or None" said nothing of the missing parentheses.
    stream: HandlerRegistry[StreamClient] = HandlerRegistry()

    def on_call(signal: AppServerSignal, context: Context) -> None: ...

    for decorator in (
        stream.on_app_server_request,
        stream.on_app_server,
        stream.on_event,
        stream.on_event_prefix,
    ):
        with pytest.raises(TypeError, match=r"write @on_\w+\(.+\) \(with the parentheses\)"):
            decorator(on_call)  # type: ignore[arg-type]  # the mistake under test
    # on_turn_started takes both forms, as on_error and on_connect do.
    assert stream.on_turn_started(on_call) is on_call
    assert stream.on_turn_started()(on_call) is on_call
    started = event(
        "app_server.turn.started",
        payload=notification_signal("t", "turn/started", "app_server.turn.started"),
    )
    assert names(stream, started) == ["on_call", "on_call"]


def test_a_handler_that_cannot_take_the_event_and_its_context_is_refused_at_once() -> None:
    # Found at registration, not as a HandlerError for every event (with the tool call it was
    # to answer left pending).
    stream: HandlerRegistry[StreamClient] = HandlerRegistry()

    def forgot_the_context(signal: AppServerSignal) -> None: ...

    def wants_three(signal: AppServerSignal, context: Context, extra: int) -> None: ...

    for wrong in (forgot_the_context, wants_three, lambda: None):
        with pytest.raises(TypeError, match=r"two positional arguments.*handler\(event, ctx\)"):
            stream.on_app_server_request("item.tool.call")(wrong)  # type: ignore[arg-type]
    # Too few says how many it takes (it read "too many positional arguments").
    with pytest.raises(TypeError, match=r"does not: it takes only 1 \(signal\)$"):
        stream.on_app_server_request("item.tool.call")(forgot_the_context)  # type: ignore[arg-type]
    call = event("app_server.request.item.tool.call", payload=tool_call_signal("t", 1, "c"))
    assert names(stream, call) == []  # none of them was registered

    class CallableObject:
        def __call__(self, item: StreamEvent, context: Context) -> None: ...

    def with_a_default(item: StreamEvent, context: Context, extra: int = 1) -> None: ...

    def variadic(*args: object) -> None: ...

    def supplies_a_third(function: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(function)
        def wrapper(item: StreamEvent, context: Context) -> None:
            function(item, context, 3)  # what the stream calls is the wrapper

        return wrapper

    for right in (
        CallableObject(),
        with_a_default,
        variadic,
        functools.partial(wants_three, extra=2),
        supplies_a_third(wants_three),
    ):
        stream.on_event("n")(right)
    stream.on_event("n")(print)  # a built-in: what inspect can read of it takes two


def test_a_raw_method_without_a_slash_is_normalized_too() -> None:
    # "execCommandApproval" is a real server request method (contract section 5).
    stream: HandlerRegistry[StreamClient] = HandlerRegistry()

    @stream.on_app_server_request("execCommandApproval")
    def approve(item: AppServerSignal, context: Context) -> None: ...

    @stream.on_app_server_request("exec_command_approval")
    def approve_normalized(item: AppServerSignal, context: Context) -> None: ...

    signal = AppServerSignal(
        signal_type="request", method="execCommandApproval", thread_id="t", request_id=3
    )
    assert signal.normalized_method == "exec_command_approval"
    assert names(stream, signal) == ["approve", "approve_normalized"]


def test_a_raw_method_with_slashes_keeps_its_dots_in_their_segment() -> None:
    # "v2.thread/started" registered as "v2.thread.started"; the server sends
    # "v2_thread.started" (a dot inside a segment becomes "_").
    stream: HandlerRegistry[StreamClient] = HandlerRegistry()

    with pytest.warns(UnknownMethodWarning):  # no such method in codex's schemas

        @stream.on_app_server("v2.thread/started")
        def started(item: AppServerSignal, context: Context) -> None: ...

    signal = AppServerSignal(signal_type="notification", method="v2.thread/started", thread_id="t")
    assert signal.normalized_method == "v2_thread.started"
    assert names(stream, signal) == ["started"]


def test_a_dotted_camel_case_name_or_a_frame_type_matches_what_it_names() -> None:
    # Both registered silently and never fired: the frames' normalized methods are lower case,
    # and a frame type is not a method.
    stream: HandlerRegistry[StreamClient] = HandlerRegistry()

    @stream.on_app_server_request("app_server.request.item.tool.call")
    def from_frame_type(item: AppServerSignal, context: Context) -> None: ...

    @stream.on_app_server("item.agentMessage.delta")
    def dotted_camel(item: AppServerSignal, context: Context) -> None: ...

    @stream.on_app_server("app_server.item.agent_message.delta")
    def notification_frame_type(item: AppServerSignal, context: Context) -> None: ...

    call = AppServerSignal(
        signal_type="request", method="item/tool/call", thread_id="t", request_id=1
    )
    assert names(stream, call) == ["from_frame_type"]
    delta = AppServerSignal(
        signal_type="notification", method="item/agentMessage/delta", thread_id="t"
    )
    assert delta.normalized_method == "item.agent_message.delta"
    assert names(stream, delta) == ["dotted_camel", "notification_frame_type"]
