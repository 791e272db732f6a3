"""Static typing of the decorators, checked by ``mypy --strict`` (and run as a test).

The decorators must return the handler with its exact type, and reject handlers whose
first parameter cannot take what the decorator delivers. The ``type: ignore`` comments
below are assertions: mypy's ``warn_unused_ignores`` (on under ``--strict``) fails the
type check if a rejected registration stops being rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeAlias, assert_type

from codex_manager.client import AsyncCodexManager, CodexManager
from codex_manager.config import ClientConfig
from codex_manager.stream import (
    AppServerSignal,
    AsyncEventStream,
    Connected,
    EventStream,
    HandledItem,
    HandlerContext,
    HandlerError,
    Reconnected,
    StreamError,
    StreamEvent,
)
from codex_manager.stream.context import StreamClient
from codex_manager.testing import FakeCodexManager

Context: TypeAlias = HandlerContext[CodexManager]


def check_sync_decorators(cm: CodexManager) -> None:
    @cm.on_app_server_request("item.tool.call")
    def on_call(signal: AppServerSignal, context: HandlerContext[CodexManager]) -> int:
        return 1

    assert_type(on_call(signal_stub(), HandlerContext(cm.stream, cm, None)), int)

    @cm.stream.on_event("x")
    async def on_event(event: StreamEvent, context: HandlerContext[CodexManager]) -> str:
        return event.type

    # Assignable only if the decorator kept the precise type (not Callable[..., object]).
    keep: Callable[[StreamEvent, Context], Coroutine[Any, Any, str]] = on_event
    assert keep is on_event

    @cm.stream.on_error
    def on_error(error: StreamError, context: HandlerContext[CodexManager]) -> None: ...

    @cm.stream.on_reconnect()
    def on_reconnect(notice: Reconnected, context: HandlerContext[CodexManager]) -> None: ...

    @cm.stream.on_connect
    def on_connect(notice: Connected, context: HandlerContext[CodexManager]) -> bool:
        return notice.is_reconnect

    assert_type(on_connect(Connected(None, 1, None), HandlerContext(cm.stream, cm, None)), bool)

    # A connect hook receives Connected, not Reconnected.
    @cm.stream.on_connect()  # type: ignore[arg-type]
    def wrong_connect(notice: Reconnected, context: HandlerContext[CodexManager]) -> None: ...

    # A signal handler cannot take every event.
    @cm.stream.on_event("x")  # type: ignore[arg-type]
    def wrong(signal: AppServerSignal, context: HandlerContext[CodexManager]) -> None: ...


def check_async_decorators(cm: AsyncCodexManager) -> None:
    @cm.on_app_server_request("item.tool.call")
    async def on_call(signal: AppServerSignal, context: HandlerContext[AsyncCodexManager]) -> None:
        await context.client.tool_calls.respond(str(signal.request_id), text="ok")

    stream: AsyncEventStream[AsyncCodexManager] = cm.stream
    assert_type(stream.client, AsyncCodexManager)

    @stream.on_connect
    async def drain(notice: Connected, context: HandlerContext[AsyncCodexManager]) -> None:
        await context.client.tool_calls.respond("1", text="drained")

    # An error handler does not receive events.
    @stream.on_error  # type: ignore[arg-type]
    def wrong(event: StreamEvent, context: HandlerContext[AsyncCodexManager]) -> None: ...


def signal_stub() -> AppServerSignal:
    return AppServerSignal(signal_type="request", method="item/tool/call", thread_id="t")


def test_decorated_handlers_stay_callable() -> None:
    with CodexManager(config=ClientConfig()) as cm:
        check_sync_decorators(cm)
        stream: EventStream[CodexManager] = cm.stream
        assert stream.client is cm
        assert stream._router.count() == 7


def check_a_handler_takes_the_context_of_its_client(
    cm: CodexManager, acm: AsyncCodexManager
) -> None:
    # A handler written for the sync client was accepted on the async one (and the other way
    # round): its context.client was the other kind, and the run broke (a coroutine where a
    # result was expected).
    @acm.on_app_server_request("item.tool.call")  # type: ignore[arg-type]
    def sync_context(signal: AppServerSignal, context: HandlerContext[CodexManager]) -> None: ...

    @cm.stream.on_event("x")  # type: ignore[arg-type]
    def async_context(event: StreamEvent, context: HandlerContext[AsyncCodexManager]) -> None: ...

    @acm.on_connect  # a handler for any client fits every one
    def any_client(notice: Connected, context: HandlerContext[StreamClient]) -> None: ...


def test_events_can_be_built_from_any_json_shaped_values() -> None:
    # The constructors took invariant JSONValue: a dict[str, str | bool] was refused by mypy,
    # which bit whoever built events to unit-test their handlers.
    payload: dict[str, str | bool] = {"requestId": "1", "ok": True}
    params: dict[str, list[int]] = {"ids": [1, 2]}
    event = StreamEvent("tool_call_requested", "t", payload)
    signal = AppServerSignal(signal_type="request", method="x/y", thread_id="t", params=params)
    assert event.payload == {"requestId": "1", "ok": True}
    assert signal.params == {"ids": [1, 2]}
    assert event.raw_payload == b'{"requestId":"1","ok":true}'


def check_a_handler_can_take_no_required_extra_parameter(cm: CodexManager) -> None:
    # The stream calls a handler with (item, context): one that needs a third argument was
    # accepted by the decorators' typing and failed at every call.
    @cm.on_event("x")  # type: ignore[arg-type]
    def needs_tag(event: StreamEvent, context: HandlerContext[CodexManager], tag: str) -> None: ...

    @cm.on_error  # type: ignore[arg-type]
    def needs_more(error: StreamError, context: HandlerContext[CodexManager], n: int) -> None: ...

    @cm.on_event("x")  # an extra parameter with a default is fine
    def tagged(event: StreamEvent, context: Context, tag: str = "") -> None: ...


def check_a_handler_error_names_what_was_handled(error: HandlerError) -> None:
    # ``item`` was typed ``object``: an on_error handler could not read ``error.item.type``.
    assert_type(error.item, StreamEvent | StreamError | Connected | Reconnected)
    assert_type(error.item, HandledItem)
    if isinstance(error.item, StreamEvent):
        assert_type(error.item.type, str)


class TenantManager(CodexManager):
    """A client subclass, as an SDK built on this one makes."""

    tenant = "acme"


def check_a_client_subclass_hands_its_handlers_its_own_type(cm: TenantManager) -> None:
    # The shortcuts typed the context as the base client's: a handler asking for the
    # subclass's context (which ``ctx.client`` is at run time) was rejected.
    @cm.on_connect
    def hello(notice: Connected, context: HandlerContext[TenantManager]) -> None:
        assert_type(context.client.tenant, str)

    @cm.on_app_server_request("item.tool.call")
    def on_call(signal: AppServerSignal, context: HandlerContext[TenantManager]) -> None: ...

    @cm.on_error
    def failed(error: StreamError, context: Context) -> None: ...  # the base's still fits

    @cm.on_event("x")  # type: ignore[arg-type]
    def other_client(event: StreamEvent, context: HandlerContext[AsyncCodexManager]) -> None: ...

    # cm.stream stays typed by the base class (EventStream is invariant in its client: typed
    # by the subclass, it could not be passed where an EventStream[CodexManager] is taken);
    # the shortcuts are the way to subclass-typed handlers.
    base_stream: EventStream[CodexManager] = cm.stream
    assert_type(base_stream.client, CodexManager)


def test_a_client_subclass_hands_its_handlers_its_own_client() -> None:
    with FakeCodexManager() as server, TenantManager(server.base_url) as cm:
        tenants: list[str] = []

        @cm.on_connect
        def hello(notice: Connected, context: HandlerContext[TenantManager]) -> None:
            tenants.append(context.client.tenant)
            context.stop()

        cm.stream.run_forever()
    assert tenants == ["acme"]
