"""A strictly typed user program over the async client (checked by ``mypy --strict``)."""

from __future__ import annotations

from typing import assert_type

from codex_manager import AsyncCodexManager, ToolCallResponseOutcome
from codex_manager.hooks import ResponseInfo
from codex_manager.types import (
    CreateSessionResponse,
    HealthResponse,
    ListSessionsResponse,
    ReadSessionResponse,
    TranscriptEntry,
    TurnResult,
)


async def run(base_url: str) -> list[str]:
    """Touch several domains with ``await``; returns a log of what happened."""
    log: list[str] = []
    async with AsyncCodexManager(base_url) as cm:

        @cm.hooks.after("getHealth")
        async def record(response: ResponseInfo) -> None:
            log.append(f"health answered {response.status_code}")

        health = await cm.system.health()
        assert_type(health, HealthResponse)
        created = await cm.sessions.create()
        assert_type(created, CreateSessionResponse)
        session_id = created["session"]["sessionId"]
        reply = await cm.wait.send_message_and_wait_reply(session_id, "ping", timeout=10)
        assert_type(reply, TurnResult)
        log.append(reply.reply or "")
        read = await cm.session(session_id).read()
        assert_type(read, ReadSessionResponse)
        entries: list[TranscriptEntry] = read["transcript"]
        log.append(f"transcript={len(entries)}")
        listed = await cm.sessions.list(limit=10)
        assert_type(listed, ListSessionsResponse)
        outcome = await cm.tool_calls.respond("424242", response=None)
        assert_type(outcome, ToolCallResponseOutcome)
        log.append(outcome.status)
    return log
