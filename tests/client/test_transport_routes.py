"""Route filling of the transport: values quoted, unknown placeholders kept visible."""

from __future__ import annotations

import asyncio

import pytest

from codex_manager import AsyncCodexManager, CodexManager, InvalidPathParameterError, RetryPolicy
from codex_manager.client._transport import _route_template
from codex_manager.testing import FakeCodexManager

from .conftest import Reply, ScriptedServer


def test_values_are_quoted_into_their_placeholders() -> None:
    template = _route_template("/api/sessions/{sessionId}/tool-calls/{requestId}/x")
    filled = template.fill({"session_id": "a/b c", "request_id": "7"})
    assert filled == "/api/sessions/a%2Fb%20c/tool-calls/7/x"


def test_a_missing_value_keeps_its_placeholder_quoted() -> None:
    assert _route_template("/api/sessions/{sessionId}").fill({}) == "/api/sessions/%7BsessionId%7D"


def test_routes_without_placeholders_are_unchanged() -> None:
    assert _route_template("/api/health").fill({"session_id": "s"}) == "/api/health"
    assert _route_template("/api/health") is _route_template("/api/health")


def test_dot_segments_are_written_encoded_so_they_stay_one_segment() -> None:
    template = _route_template("/api/sessions/{sessionId}/settings/{key}")
    assert template.fill({"session_id": "S", "key": ".."}) == "/api/sessions/S/settings/%2E%2E"
    assert template.fill({"session_id": "S", "key": "."}) == "/api/sessions/S/settings/%2E"
    assert template.fill({"session_id": "S", "key": "..."}) == "/api/sessions/S/settings/..."
    assert template.fill({"session_id": "S", "key": "a.b"}) == "/api/sessions/S/settings/a.b"


DELETED = {"status": "ok", "sessionId": "S", "scope": "session", "removed": True, "settings": {}}


@pytest.mark.parametrize("key", ["..", "."])
def test_a_dot_segment_key_is_deleted_on_its_own_route_not_the_route_above(
    scripted: ScriptedServer, key: str
) -> None:
    # Sent as written, httpx resolves '..' away: DELETE /api/sessions/S, the session's delete.
    scripted.queue(Reply(200, {**DELETED, "key": key}))
    with CodexManager(scripted.base_url, retry=RetryPolicy.disabled()) as cm:
        cm.sessions.delete_setting("S", key, actor="me")
    sent = scripted.received[-1]
    assert sent.method == "DELETE"
    assert sent.path == f"/api/sessions/S/settings/{key.replace('.', '%2E')}?actor=me"


def test_a_dot_segment_goes_on_its_own_route_with_a_configured_prefix(
    scripted: ScriptedServer,
) -> None:
    scripted.queue(Reply(200, {**DELETED, "key": ".."}))
    base = scripted.base_url + "/proxied"
    with CodexManager(base, api_prefix="/v1", retry=RetryPolicy.disabled()) as cm:
        cm.session("S").settings.delete("..")
    assert scripted.received[-1].path == "/proxied/v1/sessions/S/settings/%2E%2E"


def test_the_async_client_on_stock_httpx_sends_a_dot_segment(scripted: ScriptedServer) -> None:
    scripted.queue(Reply(200, {**DELETED, "key": ".."}))

    async def main() -> None:
        async with AsyncCodexManager(
            scripted.base_url, http_transport="httpx", retry=RetryPolicy.disabled()
        ) as cm:
            await cm.sessions.delete_setting("S", "..")

    asyncio.run(main())
    assert scripted.received[-1].path == "/api/sessions/S/settings/%2E%2E"


def test_the_aiohttp_transport_refuses_a_dot_segment_before_sending(
    scripted: ScriptedServer,
) -> None:
    # aiohttp decodes %2E and resolves the segment away: refusing is all it can do safely.
    async def main() -> None:
        async with AsyncCodexManager(
            scripted.base_url, http_transport="aiohttp", retry=RetryPolicy.disabled()
        ) as cm:
            with pytest.raises(InvalidPathParameterError, match="http_transport"):
                await cm.sessions.delete_setting("S", "..")
            with pytest.raises(InvalidPathParameterError):
                await cm.tool_calls.respond("..", text="x")
            await cm.sessions.delete_setting("S", "a.b")  # an ordinary key still goes

    scripted.queue(Reply(200, {**DELETED, "key": "a.b"}))
    asyncio.run(main())
    assert [r.path for r in scripted.received] == ["/api/sessions/S/settings/a.b"]


def test_the_fake_server_keeps_a_session_whose_dot_dot_setting_is_deleted() -> None:
    with FakeCodexManager(noise=False) as server, CodexManager(server.base_url) as cm:
        session_id = cm.sessions.create()["session"]["sessionId"]
        cm.session(session_id).settings.set(scope="session", key="..", value="x")
        cm.session(session_id).settings.delete("..")
        assert cm.sessions.get(session_id)["session"]["sessionId"] == session_id


def test_an_empty_path_parameter_is_refused_before_sending(scripted: ScriptedServer) -> None:
    # GET /api/sessions/ is another route (the list): the session read would have been a list.
    with CodexManager(scripted.base_url, retry=RetryPolicy.disabled()) as cm:
        with pytest.raises(InvalidPathParameterError, match="'session_id' is empty"):
            cm.sessions.get("")
        with pytest.raises(InvalidPathParameterError):
            cm.session("").tool_calls.list()
        with pytest.raises(InvalidPathParameterError):
            cm.tool_calls.respond("", text="x")

    async def main() -> None:
        async with AsyncCodexManager(scripted.base_url, retry=RetryPolicy.disabled()) as acm:
            with pytest.raises(InvalidPathParameterError):
                await acm.sessions.delete("")

    asyncio.run(main())
    assert scripted.received == []


def test_a_lone_surrogate_in_an_answer_reads_as_a_replacement_character(
    scripted: ScriptedServer,
) -> None:
    # As the stream reads it: a str holding the surrogate itself cannot be encoded (sent back
    # in an answer, logged to a UTF-8 file).
    body = (
        b'{"status": "ok", "service": "cut \\ud83d, kept \\ud83d\\ude00", '
        b'"timestamp": "2026-01-01T00:00:00Z", "codex": {"running": true, "pid": 1, '
        b'"initialized": true}, "auth": {"hasOpenAiApiKey": false, "codexHomeAuthFile": true, '
        b'"likelyUnauthenticated": false}}'
    )
    scripted.queue(Reply(200, body))
    with CodexManager(scripted.base_url, retry=RetryPolicy.disabled()) as cm:
        health = cm.system.health()
    assert health["service"] == "cut \ufffd, kept \U0001f600"
