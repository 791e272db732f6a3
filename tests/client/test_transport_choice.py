"""The async client's HTTP transport: chosen by default, selectable, and equally correct.

Every behavioural test runs on both transports (httpx-aiohttp and stock httpx) over real
loopback sockets: status mapping, tool-call outcomes against FakeCodexManager, retries, and
a server that drops the connection after reading the request, which must never make a POST
count as "never sent".
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import httpx
import pytest
from httpx_aiohttp import AiohttpTransport, HttpxAiohttpClient

from codex_manager import AsyncCodexManager, RetryPolicy
from codex_manager.client import _http
from codex_manager.client._http import HttpTransportChoice
from codex_manager.errors import (
    APIStatusError,
    ConfigError,
    ConnectError,
    NotFoundError,
    ProtocolError,
    RequestTimeoutError,
    ServerError,
)
from codex_manager.hooks import ErrorInfo
from codex_manager.outcomes import ToolCallAccepted, ToolCallNotFound, ToolCallSubmitFailed
from codex_manager.testing import FakeCodexManager
from codex_manager_models.payloads import PendingToolCall
from tests.client.conftest import ACCEPTED, HEALTH, Reply, ScriptedServer

TRANSPORTS = pytest.mark.parametrize("http_transport", ["aiohttp", "httpx"])
FAST = RetryPolicy(max_attempts=3, initial_delay=0.001, max_delay=0.002)
CALL_TEXT = 'CALL lookup_ticket {"ticket_id": "ABC-123"}'


def test_aiohttp_is_the_default_when_installed() -> None:
    assert _http.aiohttp_transport_available()
    client = AsyncCodexManager("http://127.0.0.1:9")
    assert isinstance(client.http_client, HttpxAiohttpClient)
    explicit = AsyncCodexManager("http://127.0.0.1:9", http_transport="aiohttp")
    assert isinstance(explicit.http_client, HttpxAiohttpClient)


def test_httpx_is_selectable() -> None:
    client = AsyncCodexManager("http://127.0.0.1:9", http_transport="httpx")
    assert isinstance(client.http_client, httpx.AsyncClient)
    assert not isinstance(client.http_client, HttpxAiohttpClient)


def test_explicit_transport_and_client_win_over_the_choice() -> None:
    transport = httpx.AsyncHTTPTransport()
    client = AsyncCodexManager("http://127.0.0.1:9", transport=transport, http_transport="aiohttp")
    assert not isinstance(client.http_client, HttpxAiohttpClient)
    assert client.http_client._transport is transport  # which transport is used
    own = httpx.AsyncClient()
    adopted = AsyncCodexManager("http://127.0.0.1:9", http_client=own, http_transport="aiohttp")
    assert adopted.http_client is own


def test_unknown_choice_is_a_config_error() -> None:
    choice: str = "curl"
    with pytest.raises(ConfigError, match="http_transport must be one of"):
        AsyncCodexManager("http://127.0.0.1:9", http_transport=choice)  # type: ignore[arg-type]


def test_aiohttp_without_the_package_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_http, "aiohttp_transport_available", lambda: False)
    with pytest.raises(ConfigError, match="httpx-aiohttp"):
        AsyncCodexManager("http://127.0.0.1:9", http_transport="aiohttp")
    fallback = AsyncCodexManager("http://127.0.0.1:9")
    assert not isinstance(fallback.http_client, HttpxAiohttpClient)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (aiohttp.ServerDisconnectedError(), "protocol"),
        (aiohttp.ClientOSError(104, "reset"), "protocol"),
        (aiohttp.ClientPayloadError("cut"), "protocol"),
        (aiohttp.SocketTimeoutError("read"), "timeout"),
        (aiohttp.ConnectionTimeoutError("pool"), "connect"),
    ],
)
def test_aiohttp_causes_decide_the_kind(error: aiohttp.ClientError, kind: str) -> None:
    # httpx-aiohttp raises e.g. ConnectTimeout from ServerDisconnectedError: the cause decides.
    mapped = httpx.ConnectTimeout("mapped")
    mapped.__cause__ = error
    assert _http.classify_failure(mapped) == kind


def test_a_message_names_the_aiohttp_error_underneath() -> None:
    # "ConnectTimeout" for a refused connection (or a dropped one) misled the reader.
    mapped = httpx.ConnectTimeout("Cannot connect to host")
    mapped.__cause__ = aiohttp.ServerDisconnectedError()
    assert _http.failure_detail(mapped) == "ServerDisconnectedError: Server disconnected"
    assert _http.failure_detail(httpx.ReadTimeout("slow")) == "ReadTimeout: slow"
    assert _http.failure_detail(httpx.ReadTimeout("")) == "ReadTimeout"


async def test_a_refused_connection_reads_as_one_on_aiohttp(closed_port_url: str) -> None:
    async with AsyncCodexManager(
        closed_port_url, http_transport="aiohttp", retry=RetryPolicy.disabled()
    ) as acm:
        with pytest.raises(ConnectError) as caught:
            await acm.system.health()
    assert "could not connect (ClientConnectorError: Cannot connect to host" in str(caught.value)


def test_httpx_errors_without_aiohttp_cause_keep_their_meaning() -> None:
    assert _http.classify_failure(httpx.ConnectError("refused")) == "connect"
    assert _http.classify_failure(httpx.ReadTimeout("slow")) == "timeout"
    assert _http.classify_failure(httpx.RemoteProtocolError("gone")) == "protocol"


@TRANSPORTS
@pytest.mark.parametrize(("status", "cls"), [(404, NotFoundError), (503, ServerError)])
async def test_status_mapping(
    scripted: ScriptedServer, http_transport: HttpTransportChoice, status: int, cls: type[Exception]
) -> None:
    body = {"status": "error", "code": "c", "message": "m"}
    scripted.queue(Reply(status, body))
    async with AsyncCodexManager(
        scripted.base_url, retry=RetryPolicy.disabled(), http_transport=http_transport
    ) as cm:
        with pytest.raises(cls) as caught:
            await cm.session("s-1").settings.get()
    error = caught.value
    assert type(error) is cls
    assert isinstance(error, APIStatusError)
    assert error.status_code == status
    assert error.body == body


async def _pending_call(cm: AsyncCodexManager, session_id: str) -> PendingToolCall:
    for _ in range(300):
        pending = (await cm.session(session_id).tool_calls.list())["data"]
        if pending:
            return pending[0]
        await asyncio.sleep(0.01)
    raise AssertionError("the fake agent never called the tool")


@TRANSPORTS
async def test_tool_call_outcomes_against_the_fake(
    fake_server: FakeCodexManager, http_transport: HttpTransportChoice
) -> None:
    async with AsyncCodexManager(fake_server.base_url, http_transport=http_transport) as cm:
        created = await cm.sessions.create(
            cwd=".",
            dynamic_tools=[
                {
                    "name": "lookup_ticket",
                    "description": "Lookup ticket status by id",
                    "inputSchema": {"type": "object", "properties": {}},
                }
            ],
        )
        session_id = created["session"]["sessionId"]
        await cm.session(session_id).messages.send(CALL_TEXT)
        call = await _pending_call(cm, session_id)
        fake_server.fail_next_answers(1)
        failed = await cm.tool_calls.respond(call["requestId"], text="first")
        assert isinstance(failed, ToolCallSubmitFailed)
        accepted = await cm.tool_calls.respond(call["requestId"], text="second")
        assert isinstance(accepted, ToolCallAccepted)
        assert accepted.thread_id == session_id
        again = await cm.tool_calls.respond(call["requestId"], text="third")
        assert isinstance(again, ToolCallNotFound)


@TRANSPORTS
async def test_transient_statuses_are_retried_and_counted(
    scripted: ScriptedServer, http_transport: HttpTransportChoice
) -> None:
    scripted.queue(Reply(503, {"status": "error"}), Reply(429, {}), Reply(200, HEALTH))
    failures: list[ErrorInfo] = []
    async with AsyncCodexManager(
        scripted.base_url, retry=FAST, http_transport=http_transport
    ) as cm:
        cm.hooks.on_error("*")(failures.append)
        assert (await cm.system.health())["status"] == "ok"
    assert len(scripted.received) == 3
    assert [f.request.attempt for f in failures] == [1, 2]


@TRANSPORTS
async def test_refused_connection_is_a_connect_error_retried_for_post(
    http_transport: HttpTransportChoice,
) -> None:
    failures: list[ErrorInfo] = []
    async with AsyncCodexManager(
        "http://127.0.0.1:1", retry=FAST, http_transport=http_transport
    ) as cm:
        cm.hooks.on_error("sendSessionMessage")(failures.append)
        with pytest.raises(ConnectError, match="could not connect"):
            await cm.session("s").messages.send("hi")
    assert [f.will_retry for f in failures] == [True, True, False]


@TRANSPORTS
async def test_post_dropped_after_the_request_is_not_replayed(
    scripted: ScriptedServer, http_transport: HttpTransportChoice
) -> None:
    # The server read the whole request, then closed the connection: it may have acted on
    # it, so replaying a POST could answer twice. Connect retries stay enabled meanwhile.
    scripted.queue(Reply(202, ACCEPTED, drop=True), Reply(202, ACCEPTED))
    failures: list[ErrorInfo] = []
    async with AsyncCodexManager(
        scripted.base_url, retry=FAST, http_transport=http_transport
    ) as cm:
        cm.hooks.on_error("*")(failures.append)
        with pytest.raises(ProtocolError) as caught:
            await cm.session("s").messages.send("hi")
    assert not isinstance(caught.value, ConnectError)
    assert caught.value.method == "POST"
    assert len(scripted.received) == 1
    assert [f.will_retry for f in failures] == [False]


@TRANSPORTS
async def test_tool_call_answer_dropped_is_not_replayed(
    scripted: ScriptedServer, http_transport: HttpTransportChoice
) -> None:
    scripted.queue(Reply(200, drop=True))
    async with AsyncCodexManager(
        scripted.base_url, retry=FAST, http_transport=http_transport
    ) as cm:
        with pytest.raises(ProtocolError):
            await cm.tool_calls.respond("7", text="done")
    assert len(scripted.received) == 1
    assert json.loads(scripted.received[0].body) == {"text": "done"}


@TRANSPORTS
async def test_get_dropped_after_the_request_is_replayed(
    scripted: ScriptedServer, http_transport: HttpTransportChoice
) -> None:
    scripted.queue(Reply(200, drop=True), Reply(200, HEALTH))
    async with AsyncCodexManager(
        scripted.base_url, retry=FAST, http_transport=http_transport
    ) as cm:
        assert (await cm.system.health())["status"] == "ok"
    assert len(scripted.received) == 2


@TRANSPORTS
async def test_read_timeouts_are_retried_only_when_replay_is_safe(
    scripted: ScriptedServer, http_transport: HttpTransportChoice
) -> None:
    slow = Reply(200, HEALTH, delay=0.3)
    scripted.queue(slow, slow)
    async with AsyncCodexManager(
        scripted.base_url, timeout=0.05, retry=FAST, http_transport=http_transport
    ) as cm:
        with pytest.raises(RequestTimeoutError, match="timed out"):
            await cm.system.health(retry=RetryPolicy(max_attempts=2, initial_delay=0.001))
        assert len(scripted.received) == 2
        scripted.queue(Reply(202, ACCEPTED, delay=0.3))
        with pytest.raises(RequestTimeoutError):
            await cm.session("s").messages.send("hi")
    assert len(scripted.received) == 3


def _is_closed(session: aiohttp.ClientSession) -> bool:
    return session.closed


async def test_closing_the_client_closes_the_aiohttp_session(scripted: ScriptedServer) -> None:
    transport = AiohttpTransport()
    async with AsyncCodexManager(scripted.base_url, transport=transport) as cm:
        await cm.system.health()
        session = transport.client
        assert isinstance(session, aiohttp.ClientSession)
        assert _is_closed(session) is False
    assert _is_closed(session) is True
    async with AsyncCodexManager(scripted.base_url) as owned:
        await owned.system.health()
    assert owned.http_client.is_closed
