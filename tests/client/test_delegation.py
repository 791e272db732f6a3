"""``cm.stream``, ``cm.remote_skills`` and the decorator shortcuts on both clients."""

from __future__ import annotations

import pytest

from codex_manager import AsyncCodexManager, CodexManager
from codex_manager.stream import (
    AppServerSignal,
    Connected,
    HandlerContext,
    StreamError,
    StreamEvent,
)

pytest.importorskip("codex_manager.remote_skills")


def test_sync_client_builds_stream_and_skills_once() -> None:
    with CodexManager("http://127.0.0.1:9") as cm:
        assert cm.stream is cm.stream
        assert cm.remote_skills is cm.remote_skills
        assert type(cm.stream).__name__ == "EventStream"
        assert type(cm.remote_skills).__name__ == "RemoteSkills"


async def test_async_client_builds_stream_and_skills_once() -> None:
    async with AsyncCodexManager("http://127.0.0.1:9") as cm:
        assert cm.stream is cm.stream
        assert type(cm.stream).__name__ == "AsyncEventStream"
        assert type(cm.remote_skills).__name__ == "AsyncRemoteSkills"


def test_decorators_return_the_handler_unchanged() -> None:
    with CodexManager("http://127.0.0.1:9") as cm:

        def on_call(signal: AppServerSignal, ctx: HandlerContext[CodexManager]) -> None:
            return None

        def on_any(event: StreamEvent, ctx: HandlerContext[CodexManager]) -> None:
            return None

        def on_failure(error: StreamError, ctx: HandlerContext[CodexManager]) -> None:
            return None

        assert cm.on_app_server_request("item.tool.call")(on_call) is on_call
        assert cm.on_app_server("turn.completed")(on_call) is on_call
        assert cm.on_turn_started()(on_call) is on_call
        assert cm.on_event("tool_call_requested")(on_any) is on_any
        assert cm.on_event_prefix("app_server.")(on_any) is on_any
        assert cm.on_error(on_failure) is on_failure
        assert cm.on_error()(on_failure) is on_failure

        def on_connected(event: Connected, ctx: HandlerContext[CodexManager]) -> None:
            return None

        assert cm.on_connect(on_connected) is on_connected
        assert cm.on_connect()(on_connected) is on_connected

        assert cm.on_app_server_request("item.tool.call", ordered=True)(on_call) is on_call
        assert cm.on_event("tool_call_requested", ordered=True)(on_any) is on_any
        assert cm.on_event_prefix("app_server.", ordered=True)(on_any) is on_any
