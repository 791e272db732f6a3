"""The tool-call answer's direct road (``codex_manager.client._direct``).

It must be indistinguishable from the httpx road on the wire and in every result: the same
request bytes that matter (method, path, JSON body, headers), the same outcomes, errors,
retries and hooks. And it must stay closed whenever the httpx client is not the SDK's own
untouched one: a given client or transport, auth, foreign event hooks, or a proxy.
"""

from __future__ import annotations

import gc
import http.client
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from codex_manager import AsyncCodexManager, CodexManager, RetryPolicy
from codex_manager.client._direct import AiohttpAnswerRoad
from codex_manager.client._direct_sync import SyncAnswerRoad
from codex_manager.errors import (
    ConnectError,
    ProtocolError,
    RequestTimeoutError,
    ServerError,
    UnexpectedResponseError,
)
from codex_manager.hooks import RequestInfo, ResponseInfo
from codex_manager.outcomes import (
    ToolCallAccepted,
    ToolCallInFlight,
    ToolCallNotFound,
    ToolCallSubmitFailed,
)
from codex_manager.testing import FakeCodexManager
from codex_manager_models.payloads import DynamicToolCallTextContentItem
from tests.client.conftest import Received, Reply, ScriptedServer

ACCEPTED_ANSWER = {"status": "ok", "requestId": "7", "threadId": "thr_1"}
"""The documented 200 of ``POST /api/tool-calls/7/response``."""
NOT_FOUND = {"status": "not_found", "requestId": "7"}
IN_FLIGHT = {"status": "conflict", "code": "in_flight", "requestId": "7"}
FAILED = {"status": "error", "requestId": "7", "message": "codex said no"}
FAST = RetryPolicy(max_attempts=3, initial_delay=0.001, max_delay=0.002)
ITEMS: list[DynamicToolCallTextContentItem] = [{"type": "inputText", "text": "ABC-123 is open"}]
COMPARED_HEADERS = ("content-type", "user-agent", "authorization", "x-team", "accept")


class RoadSpy:
    """Counts the POSTs each direct road carries (wrapping, not replacing, the real send)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.async_posts = 0
        self.sync_posts = 0
        real_async = AiohttpAnswerRoad.post
        real_sync = SyncAnswerRoad.post
        spy = self

        async def async_post(self: AiohttpAnswerRoad, *args: object, **kwargs: object) -> object:
            spy.async_posts += 1
            return await real_async(self, *args, **kwargs)  # type: ignore[arg-type]

        def sync_post(self: SyncAnswerRoad, *args: object, **kwargs: object) -> object:
            spy.sync_posts += 1
            return real_sync(self, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(AiohttpAnswerRoad, "post", async_post)
        monkeypatch.setattr(SyncAnswerRoad, "post", sync_post)


@pytest.fixture
def road(monkeypatch: pytest.MonkeyPatch) -> RoadSpy:
    """Counts direct-road POSTs; the environment holds no proxy."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    return RoadSpy(monkeypatch)


def _wire(received: Received) -> tuple[str, str, object, dict[str, str | None]]:
    return (
        received.method,
        received.path,
        json.loads(received.body),
        {name: received.headers.get(name) for name in COMPARED_HEADERS},
    )


def _client_kwargs() -> dict[str, object]:
    return {"bearer_token": "s3cret", "headers": {"X-Team": "blue"}}


async def test_async_road_sends_what_the_httpx_road_sends(
    scripted: ScriptedServer, road: RoadSpy
) -> None:
    scripted.queue(Reply(200, ACCEPTED_ANSWER), Reply(200, ACCEPTED_ANSWER))
    async with AsyncCodexManager(scripted.base_url, bearer_token="s3cret") as direct:
        direct.http_client.headers["X-Team"] = "blue"
        first = await direct.tool_calls.respond("7", content_items=ITEMS, success=True)
    async with AsyncCodexManager(
        scripted.base_url, bearer_token="s3cret", http_transport="httpx"
    ) as stock:
        stock.http_client.headers["X-Team"] = "blue"
        second = await stock.tool_calls.respond("7", content_items=ITEMS, success=True)
    assert road.async_posts == 1  # the first client only
    assert first == second
    assert isinstance(first, ToolCallAccepted)
    assert first.thread_id == "thr_1"
    sent_direct, sent_stock = (_wire(r) for r in scripted.received)
    assert sent_direct == sent_stock
    assert sent_direct[:3] == (
        "POST",
        "/api/tool-calls/7/response",
        {"contentItems": ITEMS, "success": True},
    )
    assert sent_direct[3]["authorization"] == "Bearer s3cret"


@pytest.mark.parametrize("client", ["sync", "async"])
async def test_a_content_type_set_on_the_client_is_replaced_as_httpx_does(
    scripted: ScriptedServer, road: RoadSpy, client: str
) -> None:
    scripted.queue(Reply(200, ACCEPTED_ANSWER))
    own = {"Content-Type": "application/json; charset=utf-8"}
    if client == "sync":
        with CodexManager(scripted.base_url, headers=own) as sync_cm:
            sync_cm.tool_calls.respond("7", content_items=ITEMS)
    else:
        async with AsyncCodexManager(scripted.base_url, headers=own) as async_cm:
            await async_cm.tool_calls.respond("7", content_items=ITEMS)
    assert road.sync_posts + road.async_posts == 1
    [received] = scripted.received
    sent = [value for name, value in received.header_lines if name == "content-type"]
    assert sent == ["application/json"]


@pytest.mark.parametrize("client", ["sync", "async"])
async def test_credentials_in_the_base_url_are_sent_as_httpx_sends_them(
    scripted: ScriptedServer, road: RoadSpy, client: str
) -> None:
    scripted.queue(Reply(200, ACCEPTED_ANSWER))
    base_url = scripted.base_url.replace("http://", "http://user:pw@")
    # The SDK makes the Basic header itself (every road sends it; no URL it sends to has
    # user info), so both direct roads stay open.
    if client == "sync":
        with CodexManager(base_url) as sync_cm:
            sync_cm.tool_calls.respond("7", content_items=ITEMS)
        assert road.sync_posts == 1
    else:
        async with AsyncCodexManager(base_url) as async_cm:
            await async_cm.tool_calls.respond("7", content_items=ITEMS)
        assert road.async_posts == 1
    [received] = scripted.received
    assert received.headers["authorization"] == "Basic dXNlcjpwdw=="
    assert [line for line in received.header_lines if line[0] == "authorization"] == [
        ("authorization", "Basic dXNlcjpwdw==")
    ]


@pytest.mark.parametrize("client", ["sync", "async"])
async def test_cookies_an_answer_sets_are_sent_back_as_httpx_does(
    scripted: ScriptedServer, road: RoadSpy, client: str
) -> None:
    # A load balancer's sticky-session cookie, say.
    sticky = Reply(200, ACCEPTED_ANSWER, headers={"Set-Cookie": "sticky=abc; Path=/"})
    scripted.queue(sticky, Reply(200, ACCEPTED_ANSWER))
    if client == "sync":
        with CodexManager(scripted.base_url) as sync_cm:
            for _ in range(2):
                sync_cm.tool_calls.respond("7", content_items=ITEMS)
    else:
        async with AsyncCodexManager(scripted.base_url) as async_cm:
            for _ in range(2):
                await async_cm.tool_calls.respond("7", content_items=ITEMS)
    assert road.sync_posts + road.async_posts == 1  # the second goes as httpx sends cookies
    first, second = scripted.received
    assert "cookie" not in first.headers
    assert second.headers["cookie"] == "sticky=abc"


def test_sync_road_sends_what_the_httpx_road_sends(scripted: ScriptedServer, road: RoadSpy) -> None:
    scripted.queue(Reply(200, ACCEPTED_ANSWER), Reply(200, ACCEPTED_ANSWER))
    with CodexManager(scripted.base_url, bearer_token="s3cret") as direct:
        direct.http_client.headers["X-Team"] = "blue"
        first = direct.tool_calls.respond("7", content_items=ITEMS, success=True)
    with CodexManager(
        scripted.base_url, bearer_token="s3cret", transport=httpx.HTTPTransport()
    ) as stock:
        stock.http_client.headers["X-Team"] = "blue"
        second = stock.tool_calls.respond("7", content_items=ITEMS, success=True)
    assert road.sync_posts == 1
    assert first == second
    sent_direct, sent_stock = (_wire(r) for r in scripted.received)
    assert sent_direct == sent_stock


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        (Reply(404, NOT_FOUND), ToolCallNotFound),
        (Reply(409, IN_FLIGHT), ToolCallInFlight),
        (Reply(500, FAILED), ToolCallSubmitFailed),
    ],
)
async def test_every_documented_status_has_its_outcome_on_both_roads(
    scripted: ScriptedServer, road: RoadSpy, reply: Reply, outcome: type[object]
) -> None:
    scripted.queue(reply, reply)
    async with AsyncCodexManager(scripted.base_url) as cm:
        assert isinstance(
            await cm.tool_calls.respond("7", text="x", retry=RetryPolicy.disabled()), outcome
        )
    with CodexManager(scripted.base_url) as sync_cm:
        assert isinstance(
            sync_cm.tool_calls.respond("7", text="x", retry=RetryPolicy.disabled()), outcome
        )
    assert (road.async_posts, road.sync_posts) == (1, 1)


async def test_an_undocumented_success_body_is_an_error_on_both_roads(
    scripted: ScriptedServer, road: RoadSpy
) -> None:
    scripted.queue(Reply(200, {"unexpected": True}), Reply(200, b"not json"))
    async with AsyncCodexManager(scripted.base_url) as cm:
        with pytest.raises(UnexpectedResponseError, match="not the documented schema"):
            await cm.tool_calls.respond("7", text="x")
    with (
        CodexManager(scripted.base_url) as sync_cm,
        pytest.raises(UnexpectedResponseError, match="expected a JSON object") as caught,
    ):
        sync_cm.tool_calls.respond("7", text="x")
    assert caught.value.body == "not json"
    assert (road.async_posts, road.sync_posts) == (1, 1)


async def test_hooks_run_on_the_road(scripted: ScriptedServer, road: RoadSpy) -> None:
    scripted.queue(Reply(200, ACCEPTED_ANSWER), Reply(200, ACCEPTED_ANSWER))
    seen: list[tuple[str, int]] = []

    def stamp(info: RequestInfo) -> None:
        info.headers["X-Attempt"] = str(info.attempt)

    def after(info: ResponseInfo) -> None:
        seen.append((info.request.url, info.status_code))

    async with AsyncCodexManager(scripted.base_url) as cm:
        cm.hooks.before("respondToolCall")(stamp)
        cm.hooks.after("*")(after)
        await cm.tool_calls.respond("7", text="x")
    with CodexManager(scripted.base_url) as sync_cm:
        sync_cm.hooks.before("respondToolCall")(stamp)
        sync_cm.hooks.after("*")(after)
        sync_cm.tool_calls.respond("7", text="x")
    assert [r.headers.get("x-attempt") for r in scripted.received] == ["1", "1"]
    url = f"{scripted.base_url}/api/tool-calls/7/response"
    assert seen == [(url, 200), (url, 200)]
    assert (road.async_posts, road.sync_posts) == (1, 1)


async def test_server_errors_are_retried_with_retry_after_on_the_road(
    scripted: ScriptedServer, road: RoadSpy
) -> None:
    busy = Reply(503, {"status": "error"}, headers={"Retry-After": "0"})
    scripted.queue(busy, Reply(200, ACCEPTED_ANSWER), busy, Reply(200, ACCEPTED_ANSWER))
    policy = RetryPolicy(max_attempts=2, initial_delay=0.001, retry_non_idempotent=True)
    async with AsyncCodexManager(scripted.base_url) as cm:
        assert isinstance(
            await cm.tool_calls.respond("7", text="x", retry=policy), ToolCallAccepted
        )
    with CodexManager(scripted.base_url) as sync_cm:
        assert isinstance(sync_cm.tool_calls.respond("7", text="x", retry=policy), ToolCallAccepted)
    assert (road.async_posts, road.sync_posts) == (2, 2)
    scripted.queue(busy, busy)
    with CodexManager(scripted.base_url) as sync_cm, pytest.raises(ServerError) as caught:
        sync_cm.tool_calls.respond("7", text="x", retry=RetryPolicy.disabled())
    assert caught.value.status_code == 503


async def test_transport_failures_on_the_road(
    scripted: ScriptedServer, road: RoadSpy, closed_port_url: str
) -> None:
    async with AsyncCodexManager(closed_port_url, retry=FAST) as cm:
        with pytest.raises(ConnectError):
            await cm.tool_calls.respond("7", text="x")
    with CodexManager(closed_port_url, retry=FAST) as sync_cm, pytest.raises(ConnectError):
        sync_cm.tool_calls.respond("7", text="x")
    # Dropped after the request was read: it may have been acted on, so never replayed.
    scripted.queue(Reply(200, drop=True))
    with (
        CodexManager(scripted.base_url, retry=FAST) as sync_cm,
        pytest.raises(ProtocolError) as caught,
    ):
        sync_cm.tool_calls.respond("7", text="x")
    assert not isinstance(caught.value, ConnectError)
    assert len(scripted.received) == 1
    scripted.queue(Reply(200, ACCEPTED_ANSWER, delay=0.3))
    with (
        CodexManager(scripted.base_url, timeout=0.05, retry=FAST) as sync_cm,
        pytest.raises(RequestTimeoutError),
    ):
        sync_cm.tool_calls.respond("7", text="x")
    # Refused three times (nothing was sent, so connect errors are retried), then one POST that
    # was dropped and one that timed out: neither replayed, as either may have been acted on.
    assert road.sync_posts == 3 + 1 + 1
    assert road.async_posts == 3


async def test_the_road_stays_closed_for_a_client_the_sdk_does_not_own(
    scripted: ScriptedServer, road: RoadSpy
) -> None:
    scripted.queue(*[Reply(200, ACCEPTED_ANSWER)] * 3)
    async with (
        httpx.AsyncClient() as own_async,
        AsyncCodexManager(scripted.base_url, http_client=own_async) as cm,
    ):
        await cm.tool_calls.respond("7", text="x")
    with (
        httpx.Client() as own_sync,
        CodexManager(scripted.base_url, http_client=own_sync) as sync_cm,
    ):
        sync_cm.tool_calls.respond("7", text="x")
    with CodexManager(scripted.base_url, transport=httpx.HTTPTransport()) as sync_cm:
        sync_cm.tool_calls.respond("7", text="x")
    assert (road.async_posts, road.sync_posts) == (0, 0)
    assert len(scripted.received) == 3


async def test_auth_or_event_hooks_added_later_close_the_road(
    scripted: ScriptedServer, road: RoadSpy
) -> None:
    observed: list[str] = []

    async def watch(request: httpx.Request) -> None:
        observed.append(request.url.path)

    scripted.queue(Reply(200, ACCEPTED_ANSWER), Reply(200, ACCEPTED_ANSWER))

    async with AsyncCodexManager(scripted.base_url) as cm:
        cm.http_client.event_hooks["request"].append(watch)
        await cm.tool_calls.respond("7", text="x")
    with CodexManager(scripted.base_url) as sync_cm:
        sync_cm.http_client.auth = httpx.BasicAuth("u", "p")
        sync_cm.tool_calls.respond("7", text="x")
    assert observed == ["/api/tool-calls/7/response"]
    assert scripted.received[1].headers["authorization"].startswith("Basic ")
    assert (road.async_posts, road.sync_posts) == (0, 0)


@pytest.mark.parametrize("change", ["cookie", "params", "redirects"])
def test_client_defaults_the_road_cannot_honour_close_it(
    scripted: ScriptedServer, road: RoadSpy, change: str
) -> None:
    scripted.queue(Reply(200, ACCEPTED_ANSWER))
    with CodexManager(scripted.base_url) as cm:
        if change == "cookie":
            cm.http_client.cookies.set("session", "abc")
        elif change == "params":
            cm.http_client.params = httpx.QueryParams({"tenant": "blue"})
        else:
            cm.http_client.follow_redirects = True
        cm.tool_calls.respond("7", text="x")
    sent = scripted.received[0]
    assert road.sync_posts == 0
    if change == "cookie":
        assert sent.headers["cookie"] == "session=abc"
    elif change == "params":
        assert sent.path == "/api/tool-calls/7/response?tenant=blue"


async def test_a_proxy_in_the_environment_closes_the_road(
    scripted: ScriptedServer, road: RoadSpy, monkeypatch: pytest.MonkeyPatch, closed_port_url: str
) -> None:
    # Requests must go where httpx would send them: to the (here unreachable) proxy.
    monkeypatch.setenv("HTTP_PROXY", closed_port_url)
    monkeypatch.setenv("NO_PROXY", "")
    async with AsyncCodexManager(scripted.base_url, retry=FAST) as cm:
        with pytest.raises(ConnectError):
            await cm.tool_calls.respond("7", text="x")
    with CodexManager(scripted.base_url, retry=FAST) as sync_cm, pytest.raises(ConnectError):
        sync_cm.tool_calls.respond("7", text="x")
    assert (road.async_posts, road.sync_posts) == (0, 0)
    assert scripted.received == []
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    scripted.queue(Reply(200, ACCEPTED_ANSWER))
    with CodexManager(scripted.base_url) as bypassing:
        bypassing.tool_calls.respond("7", text="x")
    assert road.sync_posts == 1
    assert len(scripted.received) == 1


def test_sync_road_keeps_a_connection_per_answering_thread(
    fake_server: FakeCodexManager, road: RoadSpy
) -> None:
    with CodexManager(fake_server.base_url) as cm:
        answer_road = cm._transport._road_for(
            cm._transport._plan("respondToolCall", path={}, query={}, body={}, ok=(200,))
        )
        assert isinstance(answer_road, SyncAnswerRoad)
        used: dict[int, list[http.client.HTTPConnection]] = {}

        def answer_unknown_calls(worker: int) -> list[object]:
            outcomes: list[object] = []
            mine = used.setdefault(threading.get_ident(), [])
            for n in range(5):
                outcomes.append(cm.tool_calls.respond(f"{worker}-{n}", text="x"))
                mine.append(answer_road._local.slot.connection)
            return outcomes

        with ThreadPoolExecutor(max_workers=4) as pool:
            outcomes = [o for batch in pool.map(answer_unknown_calls, range(4)) for o in batch]
        opened = {id(connection) for connections in used.values() for connection in connections}
    assert all(isinstance(o, ToolCallNotFound) for o in outcomes)
    assert road.sync_posts == 20
    # Each thread (the pool may give one thread several batches) kept one connection.
    assert all(len({id(c) for c in connections}) == 1 for connections in used.values())
    assert len(opened) == len(used) <= 4
    assert all(c.sock is None for connections in used.values() for c in connections)


def test_a_thread_that_ends_closes_its_connection(fake_server: FakeCodexManager) -> None:
    with CodexManager(fake_server.base_url) as cm:
        answer_road = cm._transport._answer_road
        assert isinstance(answer_road, SyncAnswerRoad)
        opened: list[http.client.HTTPConnection | None] = []

        def answer_and_end() -> None:
            cm.tool_calls.respond("gone", text="x")
            opened.append(answer_road._local.slot.connection)

        worker = threading.Thread(target=answer_and_end)
        worker.start()
        worker.join()
        gc.collect()
        [connection] = opened
        assert connection is not None
        assert connection.sock is None
        assert len(answer_road._slots) == 0  # the slot went with the thread


async def test_a_body_json_cannot_carry_fails_alike_on_both_roads(
    scripted: ScriptedServer, road: RoadSpy
) -> None:
    not_a_number = {"value": float("nan")}
    async with AsyncCodexManager(scripted.base_url) as cm:
        with pytest.raises(ValueError, match="JSON compliant"):
            await cm.tool_calls.respond("7", response=not_a_number)
    async with AsyncCodexManager(scripted.base_url, http_transport="httpx") as stock:
        with pytest.raises(ValueError, match="JSON compliant"):
            await stock.tool_calls.respond("7", response=not_a_number)
    with (
        CodexManager(scripted.base_url) as sync_cm,
        pytest.raises(ValueError, match="JSON compliant"),
    ):
        sync_cm.tool_calls.respond("7", response=not_a_number)
    assert scripted.received == []


def test_sync_road_opens_at_most_max_connections(
    fake_server: FakeCodexManager, road: RoadSpy
) -> None:
    with CodexManager(fake_server.base_url) as cm:
        bounded = SyncAnswerRoad(max_connections=2)
        cm._transport._answer_road = bounded
        all_started = threading.Barrier(4)

        def answer(worker: int) -> list[object]:
            all_started.wait()  # four threads at once, each keeping its thread alive
            return [cm.tool_calls.respond(f"{worker}-{n}", text="x") for n in range(3)]

        with ThreadPoolExecutor(max_workers=4) as pool:
            outcomes = [o for batch in pool.map(answer, range(4)) for o in batch]
            assert len(bounded._slots) <= 2
    # Every answer went out; the threads beyond the bound took the httpx road.
    assert all(isinstance(o, ToolCallNotFound) for o in outcomes)
    assert len(outcomes) == 12
    assert 1 <= road.sync_posts <= 2 * 3  # two threads with a connection, three answers each
