"""Helpers shared by the remote-skills integration tests."""

from __future__ import annotations

import httpx

from codex_manager.json_types import JSONObject
from codex_manager.remote_skills import SessionSkills
from codex_manager.remote_skills.calls import ToolCall
from codex_manager.remote_skills.execution import (
    ExecutionSettings,
    LocalOutcome,
    PreparedCall,
    prepare_call,
)
from codex_manager.remote_skills.registry import SkillRegistry
from codex_manager.remote_skills.skill import SkillHandler, build_skill
from codex_manager.stream import AppServerSignal
from codex_manager.testing import FakeCodexManager, TurnContext, parse_calls


async def call_anything(turn: TurnContext) -> None:
    """A fake-agent script that makes every ``CALL`` even for tools not in the catalog."""
    results = [await turn.call_tool(tool, arguments) for tool, arguments in parse_calls(turn.text)]
    turn.reply("\n".join(f"TOOL RESULT: {result.text}" for result in results))


def wait_pending(server: FakeCodexManager, session_id: str, count: int = 1) -> None:
    """Block until ``session_id`` has at least ``count`` pending tool calls."""
    server.wait_for(lambda: len(server.pending_tool_calls(session_id)) >= count, 10)


def send_calls(server: FakeCodexManager, skills: SessionSkills, text: str, count: int = 1) -> None:
    """Send ``text`` (``CALL`` lines for the fake agent) without the skills' instruction text,
    and block until the session has ``count`` pending tool calls."""
    skills.send(text, inject_skills=False)
    wait_pending(server, skills.session_id, count)


def last_reply(server: FakeCodexManager, session_id: str) -> str:
    """Wait for the session's turns to finish; the last turn's reply text."""
    server.wait_for(lambda: server.is_idle(), 10)
    turns = server.turns(session_id)
    assert turns, "no turn ran"
    return "\n".join(turns[-1].replies)


class FailingRoutes(httpx.BaseTransport):
    """A real HTTP transport that answers chosen routes itself (to simulate server failures).

    ``rules`` maps ``(method, path suffix)`` to ``(status, JSON body)``; everything else goes
    to the server over loopback.
    """

    def __init__(self, rules: dict[tuple[str, str], tuple[int, object]]) -> None:
        self._inner = httpx.HTTPTransport()
        self.rules = rules

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for (method, suffix), (status, body) in self.rules.items():
            if request.method == method and request.url.path.endswith(suffix):
                return httpx.Response(status, json=body, request=request)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class AsyncFailingRoutes(httpx.AsyncBaseTransport):
    """Async twin of :class:`FailingRoutes`."""

    def __init__(self, rules: dict[tuple[str, str], tuple[int, object]]) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.rules = rules

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for (method, suffix), (status, body) in self.rules.items():
            if request.method == method and request.url.path.endswith(suffix):
                return httpx.Response(status, json=body, request=request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def prepared_call(name: str, handler: SkillHandler, timeout: float | None = None) -> PreparedCall:
    """A call of ``handler`` (no arguments) ready to run: what the execution functions take."""
    registry = SkillRegistry()
    registry.add(build_skill(name, handler, timeout_seconds=timeout))
    call = ToolCall(name, {}, "7", "call-1", "thread-1", "turn-1")
    prepared = prepare_call(registry, call, "thread-1", ExecutionSettings())
    assert not isinstance(prepared, LocalOutcome)
    return prepared


def tool_call_signal(
    session_id: str,
    tool: str = "add",
    request_id: int = 99,
    arguments: JSONObject | None = None,
) -> AppServerSignal:
    """An ``item/tool/call`` request of ``session_id`` as the stream decodes it (no server)."""
    return AppServerSignal(
        signal_type="request",
        method="item/tool/call",
        thread_id=session_id,
        turn_id="turn-x",
        request_id=request_id,
        params={
            "threadId": session_id,
            "turnId": "turn-x",
            "callId": f"call-{request_id}",
            "tool": tool,
            "arguments": {"a": 2, "b": 3} if arguments is None else arguments,
        },
    )
