"""Both clients against FakeCodexManager over loopback: the seed's flow and common routes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from types import MappingProxyType

import pytest

from codex_manager import AsyncCodexManager, CodexManager
from codex_manager.errors import ConflictError, GoneError, NotFoundError, TurnWaitTimeoutError
from codex_manager.outcomes import ToolCallAccepted, ToolCallNotFound
from codex_manager.testing import FakeCodexManager
from codex_manager_models.payloads import DynamicToolDefinition, PendingToolCall

TOOL: DynamicToolDefinition = {
    "name": "lookup_ticket",
    "description": "Lookup ticket status by id",
    "inputSchema": {"type": "object", "properties": {"ticket_id": {"type": "string"}}},
}
CALL_TEXT = 'CALL lookup_ticket {"ticket_id": "ABC-123"}'


def _poll_pending(cm: CodexManager, session_id: str) -> list[PendingToolCall]:
    for _ in range(200):
        pending = cm.session(session_id).tool_calls.list()["data"]
        if pending:
            return pending
        time.sleep(0.01)
    raise AssertionError("the fake agent never called the tool")


def test_sync_seed_flow(fake_server: FakeCodexManager) -> None:
    with CodexManager(fake_server.base_url) as cm:
        created = cm.sessions.create(cwd=".", dynamic_tools=[TOOL])
        session_id = created["session"]["sessionId"]
        handle = cm.session(session_id)
        accepted = handle.messages.send(CALL_TEXT)
        assert accepted["status"] == "accepted"
        pending = _poll_pending(cm, session_id)
        assert pending[0]["tool"] == "lookup_ticket"
        assert pending[0]["threadId"] == session_id
        request_id = pending[0]["requestId"]
        outcome = cm.tool_calls.respond(request_id, text="status: open")
        assert isinstance(outcome, ToolCallAccepted)
        assert outcome.thread_id == session_id
        again = cm.tool_calls.respond(request_id, text="status: open")
        assert isinstance(again, ToolCallNotFound)
        result = cm.wait.turn(session_id, accepted["turnId"], timeout=10)
        assert result.completed
        assert result.reply is not None
        assert "status: open" in result.reply
        assert handle.tool_calls.list()["data"] == []


async def test_async_seed_flow(fake_server: FakeCodexManager) -> None:
    async with AsyncCodexManager(fake_server.base_url) as cm:
        created = await cm.sessions.create(cwd=".", dynamic_tools=[TOOL])
        session_id = created["session"]["sessionId"]
        accepted = await cm.session(session_id).messages.send(CALL_TEXT)
        pending: list[PendingToolCall] = []
        for _ in range(200):
            pending = (await cm.session(session_id).tool_calls.list())["data"]
            if pending:
                break
            await asyncio.sleep(0.01)
        assert pending, "the fake agent never called the tool"
        outcome = await cm.tool_calls.respond(pending[0]["requestId"], text="ok-async")
        assert isinstance(outcome, ToolCallAccepted)
        result = await cm.wait.turn(session_id, accepted["turnId"], timeout=10)
        assert result.status == "completed"
        assert result.reply is not None
        assert "ok-async" in result.reply


def test_send_message_and_wait_reply_both_clients(fake_server: FakeCodexManager) -> None:
    with CodexManager(fake_server.base_url) as cm:
        session_id = cm.sessions.create()["session"]["sessionId"]
        result = cm.wait.send_message_and_wait_reply(session_id, "hello", timeout=10)
        assert result.reply == "ECHO: hello"
        assert result.assistant_messages[-1] == "ECHO: hello"

    async def run() -> str | None:
        async with AsyncCodexManager(fake_server.base_url) as acm:
            sid = (await acm.sessions.create())["session"]["sessionId"]
            reply = await acm.wait.send_message_and_wait_reply(sid, "hi there", timeout=10)
            return reply.reply

    assert asyncio.run(run()) == "ECHO: hi there"


def test_wait_timeout_says_what_it_saw(fake_server: FakeCodexManager) -> None:
    with CodexManager(fake_server.base_url) as cm:
        session_id = cm.sessions.create()["session"]["sessionId"]
        with pytest.raises(TurnWaitTimeoutError) as caught:
            cm.wait.turn(session_id, "no-such-turn", timeout=0.05, poll_interval=0.01)
    error = caught.value
    assert error.last_status is None
    assert "turn not listed yet" in str(error)
    assert "no-such-turn" in str(error)


def test_a_wait_that_times_out_on_an_unanswered_tool_call_says_so(
    fake_server: FakeCodexManager,
) -> None:
    # The first-hour mistake: a skill registered, no stream running and no drain. The turn
    # waits for the answer until the deadline; the error names what it waits on.
    with CodexManager(fake_server.base_url) as cm:
        session_id = cm.sessions.create(dynamic_tools=[TOOL])["session"]["sessionId"]
        accepted = cm.session(session_id).messages.send(CALL_TEXT)
        fake_server.wait_for_tool_call(session_id)
        with pytest.raises(TurnWaitTimeoutError) as caught:
            cm.wait.turn(session_id, accepted["turnId"], timeout=0.2, poll_interval=0.05)
    error = caught.value
    assert (error.pending_tool_calls, error.pending_approvals) == (1, 0)
    assert "waits on 1 tool call pending" in str(error)
    assert "drain_pending_calls()" in str(error)


async def test_the_async_wait_names_the_pending_tool_call_too(
    fake_server: FakeCodexManager,
) -> None:
    async with AsyncCodexManager(fake_server.base_url) as acm:
        created = await acm.sessions.create(dynamic_tools=[TOOL])
        session_id = created["session"]["sessionId"]
        accepted = await acm.session(session_id).messages.send(CALL_TEXT)
        await fake_server.wait_for_tool_call_async(session_id)
        with pytest.raises(TurnWaitTimeoutError) as caught:
            await acm.wait.turn(session_id, accepted["turnId"], timeout=0.2, poll_interval=0.05)
    assert caught.value.pending_tool_calls == 1
    assert "1 tool call pending" in str(caught.value)


def test_a_turn_never_seen_asks_nothing_more(fake_server: FakeCodexManager) -> None:
    with CodexManager(fake_server.base_url) as cm:
        session_id = cm.sessions.create()["session"]["sessionId"]
        with pytest.raises(TurnWaitTimeoutError) as caught:
            cm.wait.turn(session_id, "no-such-turn", timeout=0.05, poll_interval=0.01)
    assert caught.value.pending_tool_calls is None  # not asked: the turn was never listed
    assert "waits on" not in str(caught.value)


def test_deleted_session_is_gone(fake_server: FakeCodexManager) -> None:
    with CodexManager(fake_server.base_url) as cm:
        session_id = cm.sessions.create()["session"]["sessionId"]
        deleted = cm.session(session_id).delete()
        assert deleted["status"] == "ok"
        with pytest.raises(GoneError) as gone:
            cm.session(session_id).read()
        assert gone.value.body_object.get("status") == "deleted"
        with pytest.raises(GoneError):
            cm.session(session_id).tool_calls.list()
        with pytest.raises(GoneError):
            cm.sessions.delete(session_id)


def test_unknown_session_and_idle_interrupt(fake_server: FakeCodexManager) -> None:
    with CodexManager(fake_server.base_url) as cm:
        with pytest.raises(NotFoundError):
            cm.session("00000000-0000-0000-0000-000000000000").messages.send("hi")
        session_id = cm.sessions.create()["session"]["sessionId"]
        with pytest.raises(ConflictError) as conflict:
            cm.session(session_id).interrupt()
        assert conflict.value.body_object.get("status") == "no_active_turn"


def test_settings_take_any_mapping_of_json(fake_server: FakeCodexManager) -> None:
    # Typed as dict[str, JsonValue], the argument refused a dict[str, str] (dict is
    # invariant) under mypy and pyright alike; this test is type-checked as it is written.
    prefs: dict[str, str] = {"color": "blue", "size": "large"}
    frozen: Mapping[str, int] = MappingProxyType({"limit": 3})
    with CodexManager(fake_server.base_url) as cm:
        handle = cm.session(cm.sessions.create()["session"]["sessionId"])
        handle.settings.set(scope="session", settings=prefs, mode="replace")
        written = handle.settings.set(scope="session", settings=frozen, mode="merge")
    assert written["settings"] == {"color": "blue", "size": "large", "limit": 3}


def test_settings_controls_and_projects(fake_server: FakeCodexManager) -> None:
    with CodexManager(fake_server.base_url) as cm:
        session_id = cm.sessions.create()["session"]["sessionId"]
        handle = cm.session(session_id)
        written = handle.settings.set(scope="session", key="color", value="blue")
        assert written["settings"]["color"] == "blue"
        value = handle.settings.get(scope="session", key="color")
        assert value["status"] == "ok"
        removed = handle.settings.delete("color", scope="session")
        assert removed["removed"] is True
        controls = handle.controls.get()
        assert controls["sessionId"] == session_id
        listed = cm.sessions.list(limit=50)
        assert any(s["sessionId"] == session_id for s in listed["data"])
        project = cm.projects.create("Client tests")
        assert project["project"]["name"] == "Client tests"
        assert any(p["name"] == "Client tests" for p in cm.projects.list()["data"])
