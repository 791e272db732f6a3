"""The stream-handler examples run in this process, with the agent holding its tool call until
the example's websocket is connected, so every handler is sure to see the call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from stream_handlers import async_ as stream_async
from stream_handlers import sync as stream_sync

from codex_manager import AsyncCodexManager, CodexManager
from codex_manager.testing import FakeCodexManager, SyncTurnContext, parse_calls

TICKET_ANSWER = '{"ticketId":"ABC-123","status":"open"}'


@pytest.fixture
def server() -> Iterator[FakeCodexManager]:
    """A fake whose agent waits for a websocket listener before making its calls."""
    with FakeCodexManager(noise=True) as fake:

        def agent(turn: SyncTurnContext) -> None:
            fake.wait_for(lambda: fake.websocket_count > 0, 30)
            results = [
                turn.call_tool(tool, arguments) for tool, arguments in parse_calls(turn.text)
            ]
            turn.reply("\n".join(f"TOOL RESULT: {result.text}" for result in results))

        fake.set_default_script(agent)
        yield fake


def check(lines: list[str]) -> None:
    assert "[request] item/tool/call tool=lookup_ticket id=0" in lines
    assert "[event] tool_call_requested lookup_ticket requestId=0" in lines
    assert f"[assistant] TOOL RESULT: {TICKET_ANSWER}" in lines
    answers = [line for line in lines if line.startswith("[answer]")]
    assert len(answers) == 1
    assert answers[0].endswith(f"accepted: {TICKET_ANSWER}")
    assert not [line for line in lines if line.startswith("[error]")]


def test_sync_stream_handlers_see_the_call(
    server: FakeCodexManager, capsys: pytest.CaptureFixture[str]
) -> None:
    with CodexManager(server.base_url) as cm:
        stream_sync.run(cm)
    lines = capsys.readouterr().out.splitlines()
    check(lines)
    assert any(line.startswith("[items] app_server.item.completed") for line in lines)
    assert [answer.status for answer in server.answers] == [200]


async def test_async_stream_handlers_see_the_call(
    server: FakeCodexManager, capsys: pytest.CaptureFixture[str]
) -> None:
    async with AsyncCodexManager(server.base_url) as cm:
        await stream_async.run(cm)
    lines = capsys.readouterr().out.splitlines()
    check(lines)
    completed = [n for n, line in enumerate(lines) if line.startswith("[turn] completed")]
    assert len(completed) == 1
    assert [answer.status for answer in server.answers] == [200]
